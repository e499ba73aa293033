"""gapviz.instrument: APOGEE's resolving power and the Gaussian FWHM ↔ σ conversion every stage shares."""

from __future__ import annotations

import numpy as np
import pytest

from gapviz.instrument import FWHM_TO_SIGMA, RESOLUTION, lsf_sigma, resolution_element


def test_fwhm_to_sigma_is_the_gaussian_half_maximum():
    assert FWHM_TO_SIGMA == pytest.approx(1.0 / 2.354820045, rel=1e-9)
    half_width_in_sigma = 0.5 / FWHM_TO_SIGMA
    assert np.exp(-0.5 * half_width_in_sigma**2) == pytest.approx(0.5, rel=1e-12)


def test_resolution_element_is_lambda_over_r():
    assert RESOLUTION == 22500.0
    assert resolution_element(15750.0) == pytest.approx(0.7)
    assert isinstance(resolution_element(15750.0), float)
    np.testing.assert_allclose(resolution_element([15000.0, 16000.0], 20000.0), [0.75, 0.8])
    assert isinstance(resolution_element(np.array([15000.0])), np.ndarray)


def test_lsf_sigma_is_the_resolution_element_in_sigma():
    wl = np.array([15200.0, 16900.0])
    np.testing.assert_allclose(lsf_sigma(wl), wl / 22500.0 / 2.354820045, rtol=1e-9)
    assert lsf_sigma(15750.0, 15000.0) == pytest.approx(1.05 * FWHM_TO_SIGMA)
