"""gapviz.io.apogee: the apStar and apVisit readers, on the shipped real DR17 files."""

from __future__ import annotations

import numpy as np
import pytest

from gapviz.errors import GapvizError
from gapviz.instrument import C_KMS
from gapviz.io import apogee
from gapviz.io.grids import aspcap_continuum_pixels, aspcap_wavelength


def _check_observed(s, n_pix):
    assert s.n_star == 1 and s.n_pix == n_pix
    assert s.domain == "observed" and s.labels == {}
    assert 15100.0 <= s.wavelength[0] < 15200.0 and 16900.0 < s.wavelength[-1] <= 17000.0
    assert np.all(np.diff(s.wavelength) > 0)
    bad = 1.0 - s.usable().mean()
    assert 0.0 < bad < 0.5
    masked = ~s.usable()
    assert np.all(np.isinf(s.flux_err[masked & np.isfinite(s.flux)]))  # contract: non-finite error marks them


@pytest.mark.parametrize("grid,n_pix", [("native", 8575), ("aspcap", 7214)])
def test_read_apstar(apogee_files, grid, n_pix):
    for path in apogee_files["apstar"]:
        s = apogee.read_apstar(path, grid=grid)
        _check_observed(s, n_pix)
        assert s.star_id[0].startswith("2M") and s.star_id[0] in path.name
        ok = s.usable()[0]
        assert 0.9 <= np.median(s.flux[0, ok]) <= 1.1
        if grid == "aspcap":
            np.testing.assert_array_equal(s.wavelength, aspcap_wavelength())
            cont = aspcap_continuum_pixels() & ok
            assert abs(np.median(s.flux[0, cont]) - 1.0) < 0.02  # continuum pixels sit on the continuum


def test_apstar_native_grid_is_the_header_log_linear_grid(apogee_files):
    s = apogee.read_apstar(apogee_files["apstar"][0], normalise=False)
    np.testing.assert_allclose(np.log10(s.wavelength[:3]), [4.179, 4.179006, 4.179012], rtol=0, atol=1e-12)
    assert np.nanmedian(s.flux) > 100  # raw flux in 1e-17 erg/s/cm²/Å, not normalised


def test_apstar_rows_and_bad_row(apogee_files):
    path = apogee_files["apstar"][0]  # 3 visits: rows 0, 1 combined + 3 visits
    combined = apogee.read_apstar(path, normalise=False)
    visit = apogee.read_apstar(path, normalise=False, row=2)
    assert not np.allclose(np.nan_to_num(combined.flux), np.nan_to_num(visit.flux))
    with pytest.raises(GapvizError, match="row 9 requested, the file has 5"):
        apogee.read_apstar(path, row=9)


def test_bad_bits_masked(apogee_files):
    from astropy.io import fits

    path = apogee_files["apstar"][1]
    mask = fits.getdata(path, 3)[0]
    s = apogee.read_apstar(path, normalise=False)
    flagged = (mask & apogee.BAD_PIXEL_MASK) != 0
    assert flagged.sum() > 0
    assert not s.usable()[0, flagged].any()
    none = apogee.read_apstar(path, normalise=False, bad_bits=0)
    assert none.usable().sum() > s.usable().sum()


@pytest.mark.parametrize("grid,n_pix", [("aspcap", 7214), ("native", 3 * 4096)])
def test_read_apvisit(apogee_files, grid, n_pix):
    for path in apogee_files["apvisit"]:
        s = apogee.read_apvisit(path, grid=grid)
        _check_observed(s, n_pix)
        ok = s.usable()[0]
        assert 0.9 <= np.median(s.flux[0, ok]) <= 1.1


def test_apvisit_rest_frame_shift(apogee_files):
    path = apogee_files["apvisit"][0]  # VREL = -44.42 km/s
    obs = apogee.read_apvisit(path, grid="native", rest_frame=False, normalise=False)
    rest = apogee.read_apvisit(path, grid="native", normalise=False)
    ratio = rest.wavelength / obs.wavelength
    np.testing.assert_allclose(ratio, 1.0 / (1.0 - 44.4206 / C_KMS), rtol=1e-7)


def test_header_labels(apogee_files):
    star = apogee.apogee_header_labels(apogee_files["apstar"][0])
    assert star["teff"] == pytest.approx(3676.88, abs=0.01) and star["logg"] == pytest.approx(0.527, abs=1e-3)
    visit = apogee.apogee_header_labels(apogee_files["apvisit"][1])
    assert visit == {"teff": 4500.0, "logg": 3.0, "fe_h": 0.0}


def test_resample_propagates_masks():
    wl = np.arange(10, dtype=float)
    flux = 2.0 * wl
    err = np.ones(10)
    bad = np.zeros(10, dtype=bool)
    bad[4] = True
    target = np.array([-0.5, 1.5, 3.5, 4.0, 4.5, 5.0, 6.25, 9.0, 9.5])
    f, e, b = apogee.resample(wl, flux, err, bad, target)
    assert b.tolist() == [True, False, True, True, True, False, False, False, True]
    np.testing.assert_allclose(f[~b], 2.0 * target[~b])
    np.testing.assert_allclose(e[~b], 1.0)  # the error is interpolated like the flux


def test_unknown_grid_is_refused(apogee_files):
    with pytest.raises(GapvizError, match="grid='foo'"):
        apogee.read_apstar(apogee_files["apstar"][0], grid="foo")
