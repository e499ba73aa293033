"""`gapviz info`: what it prints for each kind of good file, and every kind of bad input ends in exit status 2
and one clear line naming the file."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gapviz.cli import main
from gapviz.io.spectra import write_spectra
from gapviz.testing.spectra import tiny_spectra, write_raw_h5

DATA = Path(__file__).resolve().parents[2] / "data_samples"
APOGEE_DIR = DATA / "apogee"
APSTARS = sorted(APOGEE_DIR.glob("apStar-*.fits"))
APVISITS = sorted(APOGEE_DIR.glob("apVisit-*.fits"))


def test_info_on_the_real_apogee_samples(capsys):
    paths = [*APSTARS, *APVISITS, APOGEE_DIR / "sp19410822.txt"]
    assert len(paths) == 5
    assert main(["info", *map(str, paths)]) == 0
    out = capsys.readouterr().out
    blocks = out.strip().split("\n\n")
    assert len(blocks) == 5
    for path, block in zip(paths, blocks):
        assert block.startswith(str(path))
        assert "stars: 1" in block
        bad = float(re.search(r"bad pixels: ([0-9.]+) %", block).group(1))
        assert 0.0 < bad < 50.0
    assert "= the apStar native grid" in blocks[0] and "8575 px" in blocks[0]
    assert "7214 px, 15168.13-16936.75 Å (vacuum)" in blocks[2] and "= the ASPCAP grid" in blocks[2]
    assert "teff=3676.88, logg=0.53, fe_h=-0.29" in blocks[0]
    snr = float(re.search(r"S/N \(median flux/flux_err\): ([0-9.]+)", blocks[0]).group(1))
    assert 100 < snr < 250  # header SNR is 154
    assert "S/N: no flux_err" in blocks[4]


def test_info_on_a_spectra_set(tmp_path, capsys):
    s = tiny_spectra(n_star=6)
    s.flux_err[:] = 0.05
    path = write_spectra(s, tmp_path / "observed.h5")
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "gapviz spectra (HDF5), domain synthetic" in out and "stars: 6" in out
    for name in ("teff", "logg", "fe_h"):
        assert re.search(rf"^\s+{name}\s+[-0-9.]+\s+[-0-9.]+\s+[-0-9.]+$", out, re.MULTILINE)
    median_snr = np.median(np.median(s.flux / s.flux_err, axis=1))
    assert f"/ {median_snr:.1f} /" in out
    assert "bad pixels: 0.00 %" in out


def test_info_on_truth_and_store_prints_structure(tmp_path, capsys):
    truth = write_raw_h5(tmp_path / "truth.h5", {"removed/wavelength": np.arange(5.0),
                                                 "removed/species": np.array([b"Fe I"] * 5),
                                                 "labels/teff": np.ones(3), "star_id": np.array([b"a", b"b", b"c"])},
                         attrs={"resolution": 22500.0})
    store = write_raw_h5(tmp_path / "store.nc", {"wavelength": np.arange(4.0), "flux_err": np.ones((2, 4))},
                         attrs={"Conventions": "CF-1.8"})
    assert main(["info", str(truth), str(store)]) == 0
    out = capsys.readouterr().out
    assert "/removed/wavelength  (5,)" in out and "/labels/teff  (3,)" in out and "resolution=22500.0" in out
    assert "netCDF4" in out and "/flux_err  (2, 4)" in out


def test_info_on_a_line_list(tmp_path, capsys):
    path = tmp_path / "lines.csv"
    path.write_text("wavelength,species,loggf,elow_ev,medium\n15200.0,Fe I,-1.0,4.5,vacuum\n"
                    "15300.0,OH,-5.0,0.5,vacuum\n15400.0,Fe I,-2.0,5.0,vacuum\n")
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "lines: 3" in out and "Fe I 2" in out and "OH 1" in out
    assert re.search(r"wavelength: 152\d\d\.\d\d-154\d\d\.\d\d Å", out)


def test_info_summarises_the_shipped_analysis_outputs(capsys):
    """candidates.csv and score.json of the shipped store are described, not rejected."""
    store = DATA / "store"
    assert main(["info", str(store / "candidates.csv"), str(store / "score.json")]) == 0
    out = capsys.readouterr().out
    assert "candidate missing-line table" in out and "absent from the line list" in out
    table = pd.read_csv(store / "candidates.csv")
    absent = int(((~table["in_linelist"].astype(bool)) & (table["depth"] > 0)).sum())
    assert f"({absent} absorption features absent from the line list)" in out  # as `gapviz analyze` counts them
    assert "precision" in out and "baseline" in out


def test_info_rejects_a_foreign_json(tmp_path, capsys):
    path = tmp_path / "other.json"
    path.write_text('{"a": 1}')
    assert main(["info", str(path)]) == 2
    assert "not a gapviz score.json" in capsys.readouterr().err


# Bad input: each case writes a file and names what the one error line must say.

WL = np.linspace(15200.0, 15210.0, 8)
FLUX = np.ones((3, 8))


def _missing_flux(tmp_path):
    return write_raw_h5(tmp_path / "noflux.h5", {"wavelength": WL, "flux_err": FLUX}), "missing dataset /flux"


def _shape_mismatch(tmp_path):
    return write_raw_h5(tmp_path / "shapes.h5", {"wavelength": WL, "flux": FLUX, "flux_err": np.ones((2, 8))}), \
        r"/flux_err has shape \(2, 8\), expected \(3, 8\)"


def _flux_grid_mismatch(tmp_path):
    return write_raw_h5(tmp_path / "grid.h5", {"wavelength": WL, "flux": np.ones((3, 9))}), r"to match /wavelength"


def _decreasing(tmp_path):
    return write_raw_h5(tmp_path / "decr.h5", {"wavelength": WL[::-1], "flux": FLUX}), "strictly increasing"


def _all_nan(tmp_path):
    flux = FLUX.copy()
    flux[1] = np.nan
    return write_raw_h5(tmp_path / "nan.h5", {"wavelength": WL, "flux": flux}), r"no usable pixel.*star index \[1\]"


def _truncated(tmp_path):
    path = write_spectra(tiny_spectra(n_star=50, n_pix=200), tmp_path / "cut.h5")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path, "truncated"


def _not_hdf5(tmp_path):
    path = tmp_path / "text.h5"
    path.write_text("this is not an HDF5 file\n")
    return path, "not an HDF5 file"


def _label_twice(tmp_path):
    return write_raw_h5(tmp_path / "twice.h5", {"wavelength": WL, "flux": FLUX, "labels/teff": np.ones(3),
                                           "labels/TEFF": np.ones(3)}), "label named twice"


def _label_wrong_length(tmp_path):
    return write_raw_h5(tmp_path / "short.h5", {"wavelength": WL, "flux": FLUX, "labels/logg": np.ones(2)}), \
        r"/labels/logg has shape \(2,\), expected \(3,\)"


def _missing_file(tmp_path):
    return tmp_path / "nowhere.h5", "no such file"


def _directory(tmp_path):
    return tmp_path, "is a directory"


def _truncated_fits(tmp_path):
    from astropy.io import fits

    path = tmp_path / "cut.fits"
    fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(np.ones((2, 50)))]).writeto(path)
    path.write_bytes(path.read_bytes()[:3000])
    return path, "FITS"


def _unknown_fits(tmp_path):
    from astropy.io import fits

    path = tmp_path / "image.fits"
    fits.HDUList([fits.PrimaryHDU(np.ones((4, 4)))]).writeto(path)
    return path, "neither an APOGEE apStar"


def _binary(tmp_path):
    path = tmp_path / "blob.dat"
    path.write_bytes(bytes(range(256)) * 4)
    return path, "unknown file kind"


CASES = [_missing_flux, _shape_mismatch, _flux_grid_mismatch, _decreasing, _all_nan, _truncated, _not_hdf5,
         _label_twice, _label_wrong_length, _missing_file, _directory, _truncated_fits, _unknown_fits, _binary]


@pytest.mark.parametrize("case", CASES, ids=[c.__name__.strip("_") for c in CASES])
def test_info_bad_input_exits_2_with_one_line(case, tmp_path, capsys):
    path, match = case(tmp_path)
    status = main(["info", str(path)])
    out, err = capsys.readouterr()
    assert status == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"gapviz: error: {path}")
    assert re.search(match, lines[0]), lines[0]
    assert "Traceback" not in err + out
