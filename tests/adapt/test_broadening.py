"""gapviz.adapt.broadening: the observations' extra broadening, fitted over the population."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gapviz.adapt.theory_fit import TheoryFit
from gapviz.adapt.broadening import around, fit_broadening
from gapviz.theory.broaden import Broadened, extra_fwhm_kms
from tests.repair.test_loop import KNOWN, NAMES, NOISE, R, WL, LineEmulator, _table

TRUE_FWHM = extra_fwhm_kms(R, 20000.0)  # 6.9 km/s: observed at R = 20,000, theory at 22,500


@pytest.fixture(scope="module")
def stars():
    rng = np.random.default_rng(3)
    n = 80
    teff = rng.uniform(4000.0, 5200.0, n)
    labels = np.column_stack([teff, 1.0 + (teff - 3800.0) / 900.0, rng.uniform(-0.6, 0.2, n),
                              rng.uniform(-0.2, 0.3, n)])
    theory = LineEmulator(_table(KNOWN))
    with torch.no_grad():
        obs = Broadened(theory, WL, TRUE_FWHM)(torch.as_tensor(labels, dtype=torch.float32)).numpy()
    obs = obs.astype(np.float64) + rng.normal(0.0, NOISE, obs.shape)
    return TheoryFit(theory, 0.001, 1.0), obs, np.full(obs.shape, NOISE), labels


def test_the_population_s_broadening_is_found_and_unbiases_the_labels(stars):
    theory_fit, obs, err, labels = stars
    start = labels + np.array([80.0, 0.2, 0.05, 0.0])
    got = fit_broadening(theory_fit, theory_fit.emulator, WL, obs, err, start, R)
    assert got.fwhm_kms == pytest.approx(TRUE_FWHM, abs=1.0)
    assert got.resolution_observed == pytest.approx(20000.0, rel=0.02)
    assert not got.at_edge
    assert got.tried[0.0] > min(got.tried.values())  # the sharp theory fits worse
    sharp = theory_fit.fit_labels(obs, err, method="lm", init=start, n_starts=1)
    bias = lambda fitted: np.abs(np.median(np.asarray(fitted) - labels, axis=0))
    assert bias(got.labels)[0] < 0.5 * bias(sharp.labels)[0]  # teff: a sharp theory reads broad lines as heat
    assert bias(got.labels)[0] < 20.0


def test_sharp_observations_get_no_broadening(stars):
    theory_fit, _, err, labels = stars
    with torch.no_grad():
        obs = theory_fit.emulator(torch.as_tensor(labels, dtype=torch.float32)).numpy().astype(np.float64)
    got = fit_broadening(theory_fit, theory_fit.emulator, WL, obs, err, labels, R)
    assert got.fwhm_kms < 1.5
    assert len(got.tried) <= 5  # it stops once χ² has risen twice past its least


def test_around():
    assert around(5.0) == (3.5, 5.0, 6.5)
    assert around(0.5) == (0.0, 0.5, 2.0)
