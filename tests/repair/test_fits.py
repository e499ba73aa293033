"""The population fits of one window (gapviz.repair.fits): an added line, a blend, the χ nuisance."""

from __future__ import annotations

import numpy as np
import pytest

from gapviz.repair.fits import MAX_CHI_NUISANCE, chi2, fit_added

X = np.arange(15200.0, 15203.0, 0.05)
SIGMA = 0.3
LOG_K = 1.0
NOISE = 0.003


def _population(n: int = 80, seed: int = 1):
    rng = np.random.default_rng(seed)
    theta = 5040.0 / rng.uniform(3900.0, 5200.0, n)
    return rng, theta


def _observe(rng, tau: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """obs, weight, theory for per-pixel weak-line τ (S, P) (saturation is small at these depths)."""
    from gapviz.repair.fits import absorbed

    theory = np.ones_like(tau)
    obs = absorbed(tau, LOG_K) + rng.normal(0, NOISE, tau.shape)
    return obs, np.full_like(obs, NOISE**-2), theory


def _gauss(centre: float) -> np.ndarray:
    return np.exp(-0.5 * ((X - centre) / SIGMA) ** 2)


def test_a_blend_keeps_its_ratios_and_fits_one_factor():
    rng, theta = _population()
    # (S, 2) τ per unit factor: as strong as each other at θ 1.1, with other temperature dependences
    unit = np.column_stack([10.0 ** (-theta * 1.0), 10.0 ** (2.2 - theta * 3.0)])
    centres = np.array([15201.3, 15201.6])
    true_log = -0.4 + np.log10(8.0)
    tau = 10.0**true_log * (unit[:, :1] * _gauss(centres[0]) + unit[:, 1:] * _gauss(centres[1]))
    obs, weight, theory = _observe(rng, tau)
    fit = fit_added(obs, weight, theory, X, unit, centres, np.full(2, SIGMA), 0.2, LOG_K)
    assert fit.value == pytest.approx(true_log, abs=0.02) and abs(fit.shift) < 0.02
    single = fit_added(obs, weight, theory, X, unit[:, 0], 15201.45, SIGMA, 0.2, LOG_K)
    assert fit.chi2 < single.chi2 - 100  # one line cannot be both


def test_the_chi_nuisance_absorbs_a_wrong_temperature_dependence_and_keeps_the_strength():
    rng, theta = _population(seed=2)
    made = 10.0 ** (-theta * 4.0)  # the line's real χ: 4 eV
    listed = 10.0 ** (-theta * 3.0)  # the template's: 3 eV
    tau = (made * 10.0 ** 3.6)[:, None] * _gauss(15201.5)[None, :]
    obs, weight, theory = _observe(rng, tau)
    plain = fit_added(obs, weight, theory, X, listed, 15201.5, SIGMA, 0.2, LOG_K)
    free = fit_added(obs, weight, theory, X, listed, 15201.5, SIGMA, 0.2, LOG_K, theta=theta)
    assert free.chi_shift == pytest.approx(1.0, abs=0.1) and plain.chi_shift == 0.0
    assert free.chi2 < plain.chi2
    # log gf at the listed χ reproduces the strength at the stars' median θ
    t0 = float(np.median(theta))
    assert free.value - 3.0 * t0 == pytest.approx(3.6 - 4.0 * t0, abs=0.03)
    assert abs(free.chi_shift) <= MAX_CHI_NUISANCE


def test_no_absorption_is_no_line():
    rng, theta = _population(seed=3)
    obs, weight, theory = _observe(rng, np.zeros((theta.size, X.size)))
    fit = fit_added(obs, weight, np.ones_like(obs) * 0.99, X, np.ones(theta.size), 15201.5, SIGMA, 0.2, LOG_K,
                    theta=theta)  # the observations lie above the theory: an added line makes it worse
    assert np.isnan(fit.value) and fit.chi2 == pytest.approx(chi2(obs, weight, np.ones_like(obs) * 0.99))


def test_a_line_in_a_blend_saturates_with_the_theory_when_joint():
    """Observations made as LineModel makes them (the added line's τ summed with the theory's own before the
    curve of growth): the joint fit finds its log gf; the isolated one gives it too much light per τ and so too
    low a log gf. The depth ceiling D of a calibrated LineModel is carried the same way."""
    from gapviz.repair.fits import absorbed

    for depth_max in (None, 0.6):
        rng, theta = _population(seed=4)
        unit = 10.0 ** (-theta * 1.0)
        tau0 = 2.0 * _gauss(15201.2)[None, :] * np.ones((theta.size, 1))  # a strong known line beside it
        true_log = np.log10(1.5)
        tau = 10.0**true_log * unit[:, None] * _gauss(15201.5)[None, :]
        theory = absorbed(tau0, LOG_K, depth_max)
        obs = absorbed(tau0 + tau, LOG_K, depth_max) + rng.normal(0, NOISE, tau.shape)
        weight = np.full_like(obs, NOISE**-2)
        joint = fit_added(obs, weight, theory, X, unit, 15201.5, SIGMA, 0.2, LOG_K, joint=True, depth_max=depth_max)
        alone = fit_added(obs, weight, theory, X, unit, 15201.5, SIGMA, 0.2, LOG_K, depth_max=depth_max)
        assert joint.value == pytest.approx(true_log, abs=0.02) and abs(joint.shift) < 0.02
        assert alone.value < true_log - 0.05 and joint.chi2 < alone.chi2


def test_the_depth_ceiling_is_part_of_a_line_alone():
    """A calibrated LineModel's line alone is 1 + D expm1(−τ_obs / D): fitted with its D the log gf comes back;
    fitted without it, too low (a ceiling asks more τ for the same depth)."""
    from gapviz.repair.fits import absorbed

    rng, theta = _population(seed=5)
    unit = 10.0 ** (-theta * 1.0)
    true_log = np.log10(15.0)
    tau = 10.0**true_log * unit[:, None] * _gauss(15201.5)[None, :]
    obs = absorbed(tau, LOG_K, 0.6) + rng.normal(0, NOISE, tau.shape)
    weight, theory = np.full_like(obs, NOISE**-2), np.ones_like(obs)
    ceiling = fit_added(obs, weight, theory, X, unit, 15201.5, SIGMA, 0.2, LOG_K, depth_max=0.6)
    none = fit_added(obs, weight, theory, X, unit, 15201.5, SIGMA, 0.2, LOG_K)
    assert ceiling.value == pytest.approx(true_log, abs=0.02)
    assert none.value < true_log - 0.05 and ceiling.chi2 < none.chi2


def test_a_listed_line_cannot_be_made_far_stronger_than_its_list_says():
    """``max_value``: a reference line's log gf change is bounded (``DELTA_RANGE``'s top); a feature that would
    need more is another line, and the bounded fit explains it worse."""
    from gapviz.repair.fits import DELTA_RANGE

    rng, theta = _population(seed=6)
    unit = 10.0 ** (-theta * 1.0) * 10.0**-2.5  # the listed line: 2.5 dex too weak for the feature
    tau = 10.0**2.5 * unit[:, None] * _gauss(15201.5)[None, :]
    obs, weight, theory = _observe(rng, tau)
    free = fit_added(obs, weight, theory, X, unit, 15201.5, SIGMA, 0.2, LOG_K)
    bounded = fit_added(obs, weight, theory, X, unit, 15201.5, SIGMA, 0.2, LOG_K, max_value=DELTA_RANGE[1])
    assert free.value == pytest.approx(2.5, abs=0.03)
    assert bounded.value <= DELTA_RANGE[1] + 1e-9 and bounded.chi2 > free.chi2 + 100


def test_a_line_of_known_position_is_not_shifted_and_fits_its_strength():
    rng, theta = _population(seed=4)
    tau = np.full((theta.size, 1), 0.05) * _gauss(15201.5)[None, :]
    obs, weight, theory = _observe(rng, tau)
    unit = np.ones(theta.size)
    fixed = fit_added(obs, weight, theory, X, unit, 15201.5, SIGMA, 0.0, LOG_K)
    assert fixed.shift == 0.0 and fixed.value == pytest.approx(np.log10(0.05), abs=0.02)
    # 0.1 Å off the feature: a free line moves onto it, a listed one stays and fits worse
    free = fit_added(obs, weight, theory, X, unit, 15201.6, SIGMA, 0.2, LOG_K)
    held = fit_added(obs, weight, theory, X, unit, 15201.6, SIGMA, 0.0, LOG_K)
    assert free.shift == pytest.approx(-0.1, abs=0.01) and held.shift == 0.0
    assert held.chi2 > free.chi2 + 50
