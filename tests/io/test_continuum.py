"""gapviz.io.continuum: the Cannon-pixel continuum fit and normalisation, and the continuum pixels on other grids."""

from __future__ import annotations

import numpy as np

from gapviz.io import apogee, continuum
from gapviz.io.grids import aspcap_continuum_pixels, aspcap_wavelength


def test_normalise_recovers_a_known_continuum():
    wl = aspcap_wavelength()
    rng = np.random.default_rng(1)
    x = (wl - 16000.0) / 1000.0
    cont = 1000.0 * (1.0 + 0.2 * x - 0.1 * x**2)
    lines = np.ones_like(wl)
    lines[~aspcap_continuum_pixels()] -= 0.3 * rng.random((~aspcap_continuum_pixels()).sum())
    err = cont / 200.0
    flux = cont * lines + rng.normal(0, 1, wl.size) * err
    norm, norm_err = continuum.normalise(wl, flux, err)
    cp = aspcap_continuum_pixels()
    assert abs(np.median(norm[cp]) - 1.0) < 0.002
    np.testing.assert_allclose(norm_err, err / cont, rtol=0.01)
    fitted = continuum.fit_continuum(wl, flux, err)
    assert np.max(np.abs(fitted / cont - 1.0)) < 0.005
    # two spectra at once give the same answer as one at a time
    both, _ = continuum.normalise(wl, np.stack([flux, 2 * flux]), np.stack([err, 2 * err]))
    np.testing.assert_allclose(both[0], norm, rtol=1e-9)
    np.testing.assert_allclose(both[1], norm, rtol=1e-9)


def test_continuum_pixels_map_to_native_grid():
    native = apogee.apstar_wavelength()
    mapped = continuum.continuum_pixels(native)
    n_aspcap = aspcap_continuum_pixels().sum()
    assert 0.95 * n_aspcap <= mapped.sum() <= n_aspcap
    nearest = np.abs(native[mapped][:, None] - aspcap_wavelength()[aspcap_continuum_pixels()][None, :]).min(axis=1)
    assert nearest.max() < 0.25  # within about one pixel
