"""gapviz.stats: robust σ, degrees of freedom and χ²ν, checked by hand, and the torch χ²ν agreeing with it."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from gapviz.adapt.losses import chi2nu_per_star
from gapviz.stats import MAD_TO_SIGMA, chi2nu, degrees_of_freedom, robust_sigma, usable


def test_robust_sigma_by_hand_and_ignores_outliers_and_nan():
    # median 3, |x - 3| = 2, 1, 0, 1, 97 -> MAD 1
    assert robust_sigma([1.0, 2.0, 3.0, 4.0, 100.0]) == pytest.approx(1.4826)
    assert robust_sigma([1.0, 2.0, np.nan, 3.0, 4.0, 100.0]) == pytest.approx(1.4826)
    rows = np.array([[1.0, 2.0, 3.0, 4.0, 100.0], [0.0, 0.0, 2.0, 4.0, 4.0]])  # second: median 2, MAD 2
    np.testing.assert_allclose(robust_sigma(rows, axis=1), [MAD_TO_SIGMA, 2 * MAD_TO_SIGMA])
    np.testing.assert_allclose(robust_sigma(rows.T, axis=0), [MAD_TO_SIGMA, 2 * MAD_TO_SIGMA])


def test_robust_sigma_of_a_gaussian_is_its_sigma():
    x = np.random.default_rng(0).normal(5.0, 0.3, 200_000)
    assert robust_sigma(x) == pytest.approx(0.3, rel=0.01)


def test_robust_sigma_with_nothing_finite_is_nan_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.isnan(robust_sigma([np.nan, np.inf]))
        out = robust_sigma(np.array([[1.0, 2.0, 4.0], [np.nan, np.nan, np.nan]]), axis=1)
    assert out[0] == pytest.approx(MAD_TO_SIGMA) and np.isnan(out[1])
    assert robust_sigma(np.full((2, 3), np.nan), axis=0).shape == (3,)


def test_degrees_of_freedom_floor_at_one_for_numpy_and_torch():
    np.testing.assert_array_equal(degrees_of_freedom(np.array([10, 3, 0]), 3), [7, 1, 1])
    assert degrees_of_freedom(torch.tensor([10.0, 2.0]), 2).tolist() == [8.0, 1.0]


def test_usable_needs_positive_finite_error_and_finite_values():
    err = np.array([0.1, 0.0, -1.0, np.inf, np.nan, 0.1])
    flux = np.array([1.0, 1.0, 1.0, 1.0, 1.0, np.nan])
    assert usable(err).tolist() == [True, False, False, False, False, True]
    assert usable(err, flux).tolist() == [True, False, False, False, False, False]


def test_chi2nu_by_hand():
    residual = np.array([[0.1, -0.2, 0.3, 5.0, np.nan],
                         [0.0, 0.2, 0.2, 0.2, 0.2]])
    err = np.array([[0.1, 0.1, 0.1, np.inf, 0.1],  # star 0: last two pixels unusable -> (1 + 4 + 9) / 3
                    [0.1, 0.1, 0.0, 0.1, 0.1]])  # star 1: one zero error -> (0 + 4 + 4 + 4) / 4
    np.testing.assert_allclose(chi2nu(residual, err), [14.0 / 3.0, 12.0 / 4.0])
    np.testing.assert_allclose(chi2nu(residual, err, n_param=2), [14.0 / 1.0, 12.0 / 2.0])
    np.testing.assert_allclose(chi2nu(residual, err, n_param=10), [14.0, 12.0])  # dof floored at 1
    mask = np.array([True, True, False, True, True])
    np.testing.assert_allclose(chi2nu(residual, err, mask=mask), [5.0 / 2.0, 12.0 / 4.0])


def test_numpy_and_torch_chi2nu_agree():
    rng = np.random.default_rng(3)
    model = rng.uniform(0.5, 1.0, (6, 50))
    err = rng.uniform(0.005, 0.02, (6, 50))
    flux = model + rng.normal(0, 1, model.shape) * err * 1.5
    err[0, :10] = np.inf
    err[1, 5] = 0.0
    flux[2, 7:9] = np.nan
    ok = usable(err, flux)
    want = chi2nu(flux - model, err, n_param=3)
    got = chi2nu_per_star(torch.tensor(model), torch.tensor(flux), torch.tensor(np.where(ok, err, 1.0)),
                          torch.tensor(ok, dtype=torch.float64), n_param=3)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-12)
    assert 1.5 < np.median(want) < 3.5  # the scaled noise: χ²ν ≈ 1.5² by construction


def test_median_snr_over_usable_pixels_only():
    from gapviz.stats import median_snr

    flux = np.array([[1.0, 0.9, np.nan, 0.5], [1.0, 1.0, 1.0, 1.0]])
    err = np.array([[0.01, 0.01, 0.01, np.inf], [0.02, 0.02, 0.0, 0.05]])
    np.testing.assert_allclose(median_snr(flux, err), [95.0, 50.0])
    ok = np.isfinite(flux) & (err > 0) & np.isfinite(err) & np.array([True, False, True, True])
    np.testing.assert_allclose(median_snr(flux, err, mask=ok), [100.0, 35.0])
    assert np.isnan(median_snr(np.array([np.nan, 1.0]), np.array([0.1, -1.0])))  # nothing usable: NaN, no warning
