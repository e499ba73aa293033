"""Text and Cycle-StarNet readers, and dispatch by content in detect_kind / read_any."""

from __future__ import annotations

import numpy as np
import pytest

from gapviz.errors import GapvizError
from gapviz.io import readers
from gapviz.io.cyclestarnet import read_cyclestarnet
from gapviz.io.spectra import write_spectra
from gapviz.io.text import read_text_spectrum
from gapviz.labels import DEFAULT_LABELS


def test_text_spectrum_real_file(apogee_files):
    s = read_text_spectrum(apogee_files["text"])
    assert s.n_star == 1 and s.n_pix == 8575 and s.flux_err is None
    assert s.star_id.tolist() == ["2M19410822+4019319"]  # first word of the name line
    assert 15100.0 < s.wavelength[0] < 15101.0 and 16999.0 < s.wavelength[-1] < 17000.0
    usable = s.usable()[0]
    assert 0.0 < 1.0 - usable.mean() < 0.5  # zero flux = no data, between and beyond the chips
    assert not usable[0]  # the file starts with flux 0
    assert 0.9 <= np.median(s.flux[0, usable]) <= 1.1


def test_text_three_columns_and_zero_flux(tmp_path):
    path = tmp_path / "star.txt"
    path.write_text("# my star\nwavelength flux err\n15000.0 1.0 0.01\n15000.2 0.0 0.01\n15000.4 0.9 0.02\n")
    s = read_text_spectrum(path)
    assert s.flux_err.tolist() == [[pytest.approx(0.01), np.inf, pytest.approx(0.02)]]
    assert s.usable().tolist() == [[True, False, True]]
    assert s.star_id.tolist() == ["wavelength"]


@pytest.mark.parametrize("body,match", [
    ("15000 1 2 3\n15001 1 2 3\n", "expected 2 or 3 numbers"),
    ("15000 1\n15001 1 0.1\n", "has 3 columns, earlier lines have 2"),
    ("name\n15000 1\n", "found 1 numeric line"),
    ("15000 1\nfoo bar\n", "not numeric"),
])
def test_text_bad_input(tmp_path, body, match):
    path = tmp_path / "bad.txt"
    path.write_text(body)
    with pytest.raises(GapvizError, match=match):
        read_text_spectrum(path)


def _cyclestarnet_file(tmp_path, raw_h5, n_label=3, suffix=" train"):
    rng = np.random.default_rng(2)
    flux = rng.uniform(0.5, 1.0, (4, 30))
    labels = rng.uniform(0, 1, (4, n_label))
    path = raw_h5(tmp_path / "csn.h5", {f"spectra{suffix}": flux, f"spectra_err{suffix}": 0.01 + 0 * flux,
                                        f"labels{suffix}": labels, "spectra val": flux[:2]})
    return path, flux, labels


def test_cyclestarnet_named_split(tmp_path, raw_h5):
    path, flux, labels = _cyclestarnet_file(tmp_path, raw_h5)
    wl = np.linspace(15200, 15230, 30)
    np.save(tmp_path / "wl.npy", wl)
    s = read_cyclestarnet(path, tmp_path / "wl.npy")
    np.testing.assert_allclose(s.flux, flux, rtol=1e-6)
    assert s.label_names == list(DEFAULT_LABELS[:3])
    np.testing.assert_array_equal(s.labels["fe_h"], labels[:, 2])
    named = read_cyclestarnet(path, wl, label_names=["TEFF", "logg", "mg_fe"])
    assert named.label_names == ["teff", "logg", "mg_fe"]
    val = read_cyclestarnet(path, wl, split="val")
    assert val.n_star == 2 and val.flux_err is None and val.labels == {}
    np.savez(tmp_path / "wl.npz", wavelength=wl)
    assert read_cyclestarnet(path, tmp_path / "wl.npz").n_pix == 30


def test_cyclestarnet_plain_keys_and_errors(tmp_path, raw_h5):
    path, _, _ = _cyclestarnet_file(tmp_path, raw_h5, n_label=len(DEFAULT_LABELS) + 1, suffix="")
    wl = np.linspace(15200, 15230, 30)
    with pytest.raises(GapvizError, match="12 label columns.*pass label_names"):
        read_cyclestarnet(path, wl)
    with pytest.raises(GapvizError, match="12 label columns but 2 label_names"):
        read_cyclestarnet(path, wl, label_names=["teff", "logg"])
    with pytest.raises(GapvizError, match=r"expected \(nstar, 31\)"):
        read_cyclestarnet(path, np.linspace(15200, 15230, 31), label_names=[f"x{i}_fe" for i in range(12)])
    with pytest.raises(GapvizError, match="split 'test'"):
        read_cyclestarnet(_cyclestarnet_file(tmp_path, raw_h5)[0], wl, split="test")


def test_read_any_dispatches_by_content(tmp_path, raw_h5, apogee_files, make_spectra):
    spectra_path = write_spectra(make_spectra(), tmp_path / "renamed.dat")  # suffix does not matter
    assert readers.detect_kind(spectra_path) == "spectra"
    assert readers.read_any(spectra_path).n_star == 5
    csn, _, _ = _cyclestarnet_file(tmp_path, raw_h5)
    assert readers.detect_kind(csn) == "cyclestarnet"
    with pytest.raises(GapvizError, match="pass wavelength="):
        readers.read_any(csn)
    assert readers.read_any(csn, wavelength=np.linspace(15200, 15230, 30)).n_star == 4
    assert readers.detect_kind(apogee_files["apstar"][0]) == "apstar"
    assert readers.detect_kind(apogee_files["apvisit"][0]) == "apvisit"
    assert readers.read_any(apogee_files["apvisit"][0]).n_pix == 7214
    assert readers.read_any(apogee_files["apstar"][0], grid="aspcap").n_pix == 7214
    assert readers.detect_kind(apogee_files["text"]) == "text"
    truth = raw_h5(tmp_path / "truth.h5", {"removed/wavelength": np.arange(3.0), "labels/teff": np.ones(2)})
    assert readers.detect_kind(truth) == "hdf5"
    with pytest.raises(GapvizError, match="not spectra"):
        readers.read_any(truth)
    (tmp_path / "blob.bin").write_bytes(b"\x00\x01\x02garbage")
    with pytest.raises(GapvizError, match="unknown file kind"):
        readers.read_any(tmp_path / "blob.bin")
