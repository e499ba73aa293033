"""Feature detection in a mean correction."""

from __future__ import annotations

import numpy as np

from gapviz.discover.detect import FWHM_TO_SIGMA, detect_features, matched_filter
from gapviz.io.grids import sample_wavelength

WL = sample_wavelength()


def _line(centre: float, depth: float) -> np.ndarray:
    sig = centre / 22500.0 * FWHM_TO_SIGMA
    return -depth * np.exp(-0.5 * ((WL - centre) / sig) ** 2)


def test_injected_absorption_is_found_at_its_wavelength():
    rng = np.random.default_rng(0)
    mean = _line(15731.37, 0.03) + rng.normal(0, 0.002, WL.size)
    found = detect_features(WL, mean, np.full(WL.size, 0.002))
    assert len(found) == 1
    row = found.iloc[0]
    assert abs(row["wavelength"] - 15731.37) < 0.05  # well inside one pixel (~0.21 Å)
    assert row["kind"] == "absorption"
    assert 0.025 < row["depth"] < 0.035
    fwhm = 15731.37 / 22500.0
    assert 0.8 * fwhm < row["width"] < 1.25 * fwhm
    # equivalent width of a Gaussian: depth * FWHM * 1.0645, in mÅ
    assert abs(row["equivalent_width"] - 0.03 * fwhm * 1.0645 * 1e3) < 3.0
    assert row["significance"] > 10


def test_emission_has_negative_depth_and_noise_alone_gives_nothing():
    rng = np.random.default_rng(1)
    noise = rng.normal(0, 0.002, WL.size)
    assert detect_features(WL, noise, np.full(WL.size, 0.002)).empty
    found = detect_features(WL, noise - _line(16180.0, 0.02), np.full(WL.size, 0.002))
    assert list(found["kind"]) == ["emission"]
    assert found["depth"].iloc[0] < 0


def test_blends_closer_than_a_resolution_element_merge():
    mean = _line(16720.0, 0.03) + _line(16720.35, 0.02) + _line(16735.0, 0.03)
    found = detect_features(WL, mean, np.full(WL.size, 0.001))
    assert len(found) == 2
    merged = found.iloc[np.argmin(np.abs(found["wavelength"] - 16720.1))]
    assert 16719.9 < merged["wavelength"] < 16720.5


def test_significance_uses_the_scatter_over_stars():
    mean = _line(15220.0, 0.02)
    sem = np.full(WL.size, 0.001)
    strong = detect_features(WL, mean, sem)
    weak = detect_features(WL, mean, sem * 10)
    assert len(strong) == 1 and weak.empty  # 10x the scatter: below 5 sigma
    amp, err = matched_filter(WL, mean, sem)
    i = np.argmin(np.abs(WL - 15220.0))
    np.testing.assert_allclose(amp[i], -0.02, atol=2e-3)
    np.testing.assert_allclose(strong["significance"].iloc[0], -amp[i] / err[i], rtol=1e-6)


def test_n_stars_comes_from_the_per_pixel_counts():
    mean = _line(15240.0, 0.03)
    below = np.zeros(WL.size, int)
    below[np.argmin(np.abs(WL - 15240.0))] = 42
    found = detect_features(WL, mean, np.full(WL.size, 0.001), n_below=below, n_above=below * 0)
    assert found["n_stars"].iloc[0] == 42


def test_lines_more_than_a_resolution_element_apart_are_deblended():
    fwhm = 16720.0 / 22500.0
    mean = _line(16720.0, 0.03) + _line(16720.0 + 1.1 * fwhm, 0.02)
    found = detect_features(WL, mean, np.full(WL.size, 0.001))
    assert len(found) == 2
    np.testing.assert_allclose(np.sort(found["wavelength"]), [16720.0, 16720.0 + 1.1 * fwhm], atol=0.15)
