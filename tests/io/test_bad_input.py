"""Every kind of bad input to `gapviz info` ends in exit status 2 and one clear line naming the file."""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pytest

from gapviz.cli import main
from gapviz.io.spectra import write_spectra

WL = np.linspace(15200.0, 15210.0, 8)
FLUX = np.ones((3, 8))


def _missing_flux(tmp_path, raw_h5, make_spectra):
    return raw_h5(tmp_path / "noflux.h5", {"wavelength": WL, "flux_err": FLUX}), "missing dataset /flux"


def _shape_mismatch(tmp_path, raw_h5, make_spectra):
    return raw_h5(tmp_path / "shapes.h5", {"wavelength": WL, "flux": FLUX, "flux_err": np.ones((2, 8))}), \
        r"/flux_err has shape \(2, 8\), expected \(3, 8\)"


def _flux_grid_mismatch(tmp_path, raw_h5, make_spectra):
    return raw_h5(tmp_path / "grid.h5", {"wavelength": WL, "flux": np.ones((3, 9))}), r"to match /wavelength"


def _decreasing(tmp_path, raw_h5, make_spectra):
    return raw_h5(tmp_path / "decr.h5", {"wavelength": WL[::-1], "flux": FLUX}), "strictly increasing"


def _all_nan(tmp_path, raw_h5, make_spectra):
    flux = FLUX.copy()
    flux[1] = np.nan
    return raw_h5(tmp_path / "nan.h5", {"wavelength": WL, "flux": flux}), r"no usable pixel.*star index \[1\]"


def _truncated(tmp_path, raw_h5, make_spectra):
    path = write_spectra(make_spectra(n_star=50, n_pix=200), tmp_path / "cut.h5")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path, "truncated"


def _not_hdf5(tmp_path, raw_h5, make_spectra):
    path = tmp_path / "text.h5"
    path.write_text("this is not an HDF5 file\n")
    return path, "not an HDF5 file"


def _label_twice(tmp_path, raw_h5, make_spectra):
    return raw_h5(tmp_path / "twice.h5", {"wavelength": WL, "flux": FLUX, "labels/teff": np.ones(3),
                                           "labels/TEFF": np.ones(3)}), "label named twice"


def _label_wrong_length(tmp_path, raw_h5, make_spectra):
    return raw_h5(tmp_path / "short.h5", {"wavelength": WL, "flux": FLUX, "labels/logg": np.ones(2)}), \
        r"/labels/logg has shape \(2,\), expected \(3,\)"


def _missing_file(tmp_path, raw_h5, make_spectra):
    return tmp_path / "nowhere.h5", "no such file"


def _directory(tmp_path, raw_h5, make_spectra):
    return tmp_path, "is a directory"


def _truncated_fits(tmp_path, raw_h5, make_spectra):
    from astropy.io import fits

    path = tmp_path / "cut.fits"
    fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(np.ones((2, 50)))]).writeto(path)
    path.write_bytes(path.read_bytes()[:3000])
    return path, "FITS"


def _unknown_fits(tmp_path, raw_h5, make_spectra):
    from astropy.io import fits

    path = tmp_path / "image.fits"
    fits.HDUList([fits.PrimaryHDU(np.ones((4, 4)))]).writeto(path)
    return path, "neither an APOGEE apStar"


def _binary(tmp_path, raw_h5, make_spectra):
    path = tmp_path / "blob.dat"
    path.write_bytes(bytes(range(256)) * 4)
    return path, "unknown file kind"


CASES = [_missing_flux, _shape_mismatch, _flux_grid_mismatch, _decreasing, _all_nan, _truncated, _not_hdf5,
         _label_twice, _label_wrong_length, _missing_file, _directory, _truncated_fits, _unknown_fits, _binary]


@pytest.mark.parametrize("case", CASES, ids=[c.__name__.strip("_") for c in CASES])
def test_info_bad_input_exits_2_with_one_line(case, tmp_path, raw_h5, make_spectra, capsys):
    path, match = case(tmp_path, raw_h5, make_spectra)
    status = main(["info", str(path)])
    out, err = capsys.readouterr()
    assert status == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"gapviz: error: {path}")
    assert re.search(match, lines[0]), lines[0]
    assert "Traceback" not in err + out


def test_info_bad_input_in_a_subprocess_has_no_traceback(tmp_path, raw_h5):
    bad = raw_h5(tmp_path / "twice.h5", {"wavelength": WL, "flux": FLUX, "labels/teff": np.ones(3),
                                          "labels/TEFF": np.ones(3)})
    proc = subprocess.run([sys.executable, "-m", "gapviz", "info", str(bad)], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"gapviz: error: {bad}: label named twice: /labels/TEFF and /labels/teff"
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert str(bad) in proc.stderr
