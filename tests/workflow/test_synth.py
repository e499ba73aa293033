"""`gapviz synth`: spectra files from label tables, resumable, one clear error per bad input."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

pytest.importorskip("pysme")

from gapviz.cli import main  # noqa: E402
from gapviz.errors import GapvizError  # noqa: E402
from gapviz.io.spectra import read_spectra  # noqa: E402
from gapviz.workflow import synth as synth_module  # noqa: E402
from gapviz.workflow.synth import SynthJob, grid_wavelength, parts_dir, synth  # noqa: E402
from gapviz.workflow.synth_labels import labels_from_spec, read_stars  # noqa: E402

WINDOW = "15760-15766"
LINES = "wavelength,species,loggf,elow_ev,medium\n15762.0,Fe I,-1.0,5.0,vacuum\n15764.5,OH,-5.0,0.5,vacuum\n"


@pytest.fixture
def files(tmp_path):
    lines = tmp_path / "lines.csv"
    lines.write_text(LINES)
    stars = tmp_path / "stars.csv"
    stars.write_text("teff,logg,fe_h,o_fe\n4500,2.5,0.0,0.0\n4800,2.9,-0.3,0.2\n4300,1.8,0.1,-0.1\n")
    return lines, stars


def test_synth_writes_a_spectra_file_via_the_cli(files, tmp_path, capsys):
    lines, stars = files
    out = tmp_path / "s.h5"
    assert main(["synth", "--linelist", str(lines), "--labels", str(stars), "--out", str(out), "--grid", WINDOW]) == 0
    s = read_spectra(out)
    assert s.domain == "synthetic" and s.n_star == 3
    np.testing.assert_array_equal(s.wavelength, grid_wavelength(WINDOW))
    np.testing.assert_allclose(s.labels["o_fe"], [0.0, 0.2, -0.1])
    assert (s.flux <= 1.0 + 1e-5).all() and s.flux.min() < 0.9
    oh = np.argmin(np.abs(s.wavelength - 15764.5))
    assert s.flux[2, oh] < s.flux[0, oh]  # the coolest star has the deepest OH line
    assert not parts_dir(out).exists()
    # refuses to overwrite without --overwrite, with one line on stderr
    assert main(["synth", "--linelist", str(lines), "--labels", str(stars), "--out", str(out), "--grid", WINDOW]) == 2
    assert "--overwrite" in capsys.readouterr().err


def test_interrupted_synthesis_resumes_without_recomputing(files, tmp_path, monkeypatch):
    lines, stars = files
    monkeypatch.setattr(synth_module, "CHUNK_STARS", 1)
    full = synth(SynthJob([lines], stars, tmp_path / "full.h5", grid=WINDOW, progress=False))

    from gapviz.theory import sme

    real, calls = sme.synthesize, []

    def interrupt_after_two(*args, **kw):
        if len(calls) == 2:
            raise KeyboardInterrupt
        calls.append(1)
        return real(*args, **kw)

    monkeypatch.setattr(sme, "synthesize", interrupt_after_two)
    out = tmp_path / "s.h5"
    with pytest.raises(KeyboardInterrupt):
        synth(SynthJob([lines], stars, out, grid=WINDOW, progress=False))
    assert not out.exists() and len(list(parts_dir(out).glob("flux-*.npy"))) == 2

    calls.clear()
    monkeypatch.setattr(sme, "synthesize", lambda *a, **k: (calls.append(1), real(*a, **k))[1])
    synth(SynthJob([lines], stars, out, grid=WINDOW, progress=False, resume=True))
    assert len(calls) == 1  # only the unfinished star
    np.testing.assert_array_equal(read_spectra(out).flux, read_spectra(full).flux)


def test_resume_refuses_a_different_job(files, tmp_path, monkeypatch):
    lines, stars = files
    out = tmp_path / "s.h5"
    work = parts_dir(out)
    work.mkdir()
    (work / "manifest.json").write_text('{"digest": "something else"}')
    with pytest.raises(GapvizError, match="other stars, lines or settings"):
        synth(SynthJob([lines], stars, out, grid=WINDOW, progress=False, resume=True))


@pytest.mark.parametrize("stars_text,grid,match", [
    ("teff,logg,fe_h\n9500,2.5,0\n", WINDOW, "row 1.*teff = 9500"),
    ("teff,logg\n4500,2.5\n", WINDOW, "lack \\['fe_h'\\]"),
    ("teff,logg,fe_h\n4500,abc,0\n", WINDOW, "logg = 'abc' is not a finite number"),
    ("teff,logg,fe_h\n4500,2.5,0\n", "16100-16110", "outside the line list"),
    ("teff,logg,fe_h\n4500,2.5,0\n", "15000-15010", "holds no ASPCAP pixel"),
    ("teff,logg,fe_h\n4500,2.5,0\n", "nonsense", "expected aspcap, sample or vacuum windows"),
])
def test_bad_input_is_one_clear_error(files, tmp_path, capsys, stars_text, grid, match):
    lines, _ = files
    stars = tmp_path / "bad.csv"
    stars.write_text(stars_text)
    args = ["synth", "--linelist", str(lines), "--labels", str(stars), "--out", str(tmp_path / "o.h5"), "--grid", grid]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("gapviz: error:") and "Traceback" not in err
    import re

    assert re.search(match, err), err
    assert not (tmp_path / "o.h5").exists()


def test_a_line_list_sme_cannot_take(tmp_path, files, capsys):
    _, stars = files
    lines = tmp_path / "alo.csv"
    lines.write_text("wavelength,species,loggf,elow_ev,medium\n15762.0,AlO,-1.0,0.5,vacuum\n")
    assert main(["synth", "--linelist", str(lines), "--labels", str(stars), "--out", str(tmp_path / "o.h5"),
                 "--grid", WINDOW]) == 2
    assert "SME cannot take species 'AlO'" in capsys.readouterr().err


def test_toml_specs_and_hdf5_rows(tmp_path):
    grid = labels_from_spec({"grid": {"teff": {"start": 4000, "stop": 5000, "step": 500}, "logg": [1.5, 2.5],
                                      "fe_h": 0.0}})
    assert grid["teff"].tolist() == [4000, 4000, 4500, 4500, 5000, 5000]
    assert set(zip(grid["teff"], grid["logg"])) == {(t, g) for t in (4000, 4500, 5000) for g in (1.5, 2.5)}
    box = labels_from_spec({"box": {"n": 50, "seed": 1, "teff": [4000, 5000], "logg": [1, 3], "fe_h": [-1, 0]}})
    assert box["teff"].size == 50 and 4000 <= box["teff"].min() and box["teff"].max() <= 5000
    # Latin hypercube: one star per stratum
    assert np.array_equal(np.sort(np.floor((box["logg"] - 1) / 2 * 50)), np.arange(50))
    pop = labels_from_spec({"population": {"n": 20, "labels": ["teff", "logg", "fe_h", "mg_fe"]}})
    assert sorted(pop) == ["fe_h", "logg", "mg_fe", "teff"]
    with pytest.raises(GapvizError, match="exactly one of"):
        labels_from_spec({"grid": {"teff": 4000}, "box": {"n": 1}})
    path = tmp_path / "rows.h5"
    with h5py.File(path, "w") as f:
        g = f.create_group("labels")
        for k, v in {"teff": [4500.0], "logg": [2.0], "fe_h": [0.0]}.items():
            g.create_dataset(k, data=v)
    labels, star_id = read_stars(path)
    assert labels["teff"].tolist() == [4500.0] and star_id.tolist() == ["synth-000000"]
    spec = tmp_path / "box.toml"
    spec.write_text("[box]\nn = 3\nteff = [4000, 4500]\nlogg = [2, 3]\nfe_h = [0, 0]\n")
    labels, _ = read_stars(spec)
    assert labels["teff"].size == 3
