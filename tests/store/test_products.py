"""gapviz.store.products: the cubes and per-star figures of one star chunk, checked by hand."""

import numpy as np

from gapviz.store.products import star_products


def _chunk():
    flux = np.array([[1.0, 0.9, 0.8, np.nan, 0.7, 100.0], [1.0, 1.0, 1.0, 1.0, 1.0, 1.0]])
    err = np.array([[0.01, 0.01, 0.02, 0.01, np.inf, 0.01], [0.02] * 6])
    theory = np.full((2, 6), 0.95)
    adapted = theory - 0.01
    return flux, err, theory, theory + 0.001, adapted


def test_unusable_and_unstorable_pixels_are_masked():
    flux, err, theory, counterpart, adapted = _chunk()
    p = star_products(flux, err, theory, counterpart, adapted, n_label=2)
    # NaN flux, infinite error and a flux far outside the packing range are unusable
    np.testing.assert_array_equal(p["pixel_mask"][0], [1, 1, 1, 0, 0, 0])
    assert p["pixel_mask"].dtype == np.int8 and p["pixel_mask"][1].all()
    assert np.isnan(p["flux_obs"][0, 3:]).all() and np.isnan(p["residual_theory"][0, 3:]).all()
    np.testing.assert_allclose(p["residual_theory"][0, :3], [0.05, -0.05, -0.15])
    # the correction is a model output: defined at every pixel
    np.testing.assert_allclose(p["correction"], -0.01)
    np.testing.assert_allclose(p["flux_synthetic_counterpart"], 0.951)


def test_chi2nu_and_snr_by_hand():
    flux, err, theory, counterpart, adapted = _chunk()
    p = star_products(flux, err, theory, counterpart, adapted, n_label=2)
    # star 0: three usable pixels, two labels fitted -> one degree of freedom
    expect = (0.05 / 0.01) ** 2 + (0.05 / 0.01) ** 2 + (0.15 / 0.02) ** 2
    np.testing.assert_allclose(p["chi2nu_theory"][0], expect / 1)
    expect_a = (0.06 / 0.01) ** 2 + (0.04 / 0.01) ** 2 + (0.14 / 0.02) ** 2
    np.testing.assert_allclose(p["chi2nu_adapted"][0], expect_a)
    # star 1: six usable pixels, 6 - 2 = 4 degrees of freedom
    np.testing.assert_allclose(p["chi2nu_theory"][1], 6 * (0.05 / 0.02) ** 2 / 4)
    np.testing.assert_allclose(p["snr"], [np.median([100.0, 90.0, 40.0]), 50.0])
