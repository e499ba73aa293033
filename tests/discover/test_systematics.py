"""Systematics removed from a mean correction before detection: LSF/shift patterns and population label offsets."""

from __future__ import annotations

import numpy as np
import pytest

from gapviz.discover.detect import detect_features
from gapviz.discover.systematics import instrumental_templates, label_offset_templates, remove_systematics
from gapviz.instrument import FWHM_TO_SIGMA
from gapviz.io.grids import sample_wavelength

WL = sample_wavelength()


def _lines(centres, depths, resolution: float) -> np.ndarray:
    flux = np.ones(WL.size)
    for c, d in zip(centres, depths):
        sig = c / resolution * FWHM_TO_SIGMA
        flux *= 1.0 - d * np.exp(-0.5 * ((WL - c) / sig) ** 2)
    return flux


def _case(seed: int = 0):
    rng = np.random.default_rng(seed)
    centres = np.sort(rng.choice(WL[5:-5], 60, replace=False)) + rng.uniform(-0.1, 0.1, 60)
    depths = rng.uniform(0.05, 0.4, 60)
    theory = _lines(centres, depths, 22500.0)
    observed_lsf = _lines(centres, depths * 20000.0 / 22500.0, 20000.0)  # same lines (same EW), a broader LSF
    missing = _lines([15731.37], [0.02], 22500.0) - 1.0
    return theory, observed_lsf - theory + missing


def test_instrumental_templates_are_defined_in_every_window():
    t = instrumental_templates(WL, _lines([15731.37], [0.3], 22500.0))
    assert t.shape == (2, WL.size) and np.isfinite(t).all()


def test_lsf_mismatch_is_removed_and_the_missing_line_kept():
    theory, correction = _case()
    cleaned, coef = remove_systematics(correction, instrumental_templates(WL, theory))
    i = int(np.argmin(np.abs(WL - 15731.37)))
    away = np.abs(WL - 15731.37) > 2.0
    assert np.abs(cleaned[away]).max() < 0.3 * np.abs(correction[away]).max()
    assert coef[1] > 0  # broadening: + F''
    assert abs(cleaned[i] - correction[i]) < 0.005  # the missing line's 2 % dip survives


def test_without_removal_wing_dips_of_strong_lines_become_candidates():
    theory, correction = _case()
    sem = np.full(WL.size, 1e-4)
    raw = detect_features(WL, correction, sem, n_mad=1.0, min_depth=0.005, baseline_fwhm=None)
    cleaned = detect_features(WL, remove_systematics(correction, instrumental_templates(WL, theory))[0], sem, n_mad=1.0, min_depth=0.005,
                              baseline_fwhm=None)
    absorption = cleaned[cleaned["kind"] == "absorption"]
    assert (raw["kind"] == "absorption").sum() > 3
    assert len(absorption) >= 1 and np.min(np.abs(absorption["wavelength"] - 15731.37)) < 0.1
    assert len(absorption) < (raw["kind"] == "absorption").sum()


def test_a_population_abundance_offset_is_removed_and_a_missing_line_kept():
    rng = np.random.default_rng(4)
    centres = np.sort(rng.choice(WL[5:-5], 40, replace=False))
    # d flux / d [C/Fe] of 40 known "CO" lines; the inferred [C/Fe] is 0.3 dex high: the theory is too deep there
    response = np.vstack([np.zeros(WL.size), -(1.0 - _lines(centres, np.full(40, 0.1), 22500.0))])
    names, spread = ["teff", "c_fe"], np.array([300.0, 0.1])
    missing = _lines([centres[7] + 0.3], [0.03], 22500.0) - 1.0  # blended with a known line
    correction = -0.3 * response[1] + missing
    templates = label_offset_templates(response, names, spread)
    assert templates.shape == (1, WL.size)  # teff is not an abundance label
    cleaned, coef = remove_systematics(correction, templates)
    assert coef[0] == pytest.approx(-3.0, rel=0.1)  # -0.3 dex in units of the 0.1 dex spread
    i = int(np.argmin(np.abs(WL - (centres[7] + 0.3))))
    assert cleaned[i] == pytest.approx(missing[i], abs=0.004)
    away = np.abs(WL - (centres[7] + 0.3)) > 2.0
    assert np.abs(cleaned[away]).max() < 0.2 * np.abs(correction[away]).max()


def test_a_template_undefined_everywhere_is_skipped_not_fatal():
    theory, correction = _case()
    templates = np.vstack([instrumental_templates(WL, theory), np.full(WL.size, np.nan)])
    cleaned, coef = remove_systematics(correction, templates)
    expected, _ = remove_systematics(correction, instrumental_templates(WL, theory))
    np.testing.assert_allclose(cleaned, expected)
    assert coef.shape == (4,) and coef[2] == 0.0
