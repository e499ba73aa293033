"""Attribution by hypothetical lines: a feature goes to the species (and label) whose line behaves like it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gapviz.discover.crossmatch import line_model_depths
from gapviz.discover.hypotheses import Hypotheses, attribute_hypotheses, build_hypotheses, choose_hypothesis, r_squared
from gapviz.io.linelist import read_linelist
from gapviz.labels import DEFAULT_LABELS
from gapviz.theory.linemodel import LineModel

WL = np.arange(16150.0, 16220.0, 0.22)
NAMES = list(DEFAULT_LABELS)


@pytest.fixture(scope="module")
def theory_lines():
    lines = read_linelist("data_samples/mock/linelist.csv")
    lines = lines[(lines["wavelength"] > WL[0]) & (lines["wavelength"] < WL[-1])].reset_index(drop=True)
    median = {"teff": 4700.0, "logg": 2.5} | {n: 0.0 for n in NAMES[2:]}
    return lines, line_model_depths(lines, WL, 22500.0, median)


def _labels(n: int = 300, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    teff = rng.uniform(3900, 5300, n)
    out = np.column_stack([teff, rng.uniform(0.8, 3.5, n), rng.normal(-0.1, 0.25, n)]
                          + [rng.normal(0, 0.12, n) for _ in NAMES[3:]])
    return out


def _missing_line(lines: pd.DataFrame, species: str, chi: float, labels: np.ndarray) -> np.ndarray:
    """Per-star central depth (n,) of a line of ``species`` at lower-level energy ``chi`` (off the χ grid)."""
    row = lines[lines["species"] == species].iloc[0].to_dict() | {"wavelength": 16180.0, "elow_ev": chi}
    model = LineModel(pd.DataFrame([row]), WL, label_names=NAMES, min_depth=0.0)
    return model.line_depths(labels)[:, 0]


@pytest.mark.parametrize("species,chi,label", [("CO", 0.8, "c_fe"), ("Fe I", 5.6, "fe_h"), ("OH", 0.7, "o_fe")])
def test_feature_goes_to_the_species_it_behaves_like(theory_lines, species, chi, label):
    lines, depth = theory_lines
    labels = _labels()
    hyp = build_hypotheses(lines, depth, WL, labels, NAMES)
    assert {"CO", "Fe I", "OH"} <= set(hyp.species)
    pixel = int(np.argmin(np.abs(WL - 16180.0)))
    correction = np.zeros((labels.shape[0], WL.size))
    d = _missing_line(lines, species, chi, labels)
    correction[:, pixel - 1:pixel + 2] = -d[:, None]
    rng = np.random.default_rng(1)
    correction += rng.normal(0, 0.1 * d.std(), correction.shape)
    cands = pd.DataFrame({"wavelength": [16180.0], "pixel": [pixel], "depth": [float(d.mean())]})
    out = attribute_hypotheses(cands, correction, np.ones_like(correction), hyp)
    assert out["attributed_species"].iloc[0] == species
    assert out["attributed_label"].iloc[0] == label
    assert 0.0 < out["attribution_confidence"].iloc[0] <= 1.0
    if species == "Fe I":  # an atom's χ is pinned by its teff behaviour; a molecule's trades off with dissociation
        assert abs(out["attributed_chi"].iloc[0] - chi) <= 1.5


def test_a_feature_that_follows_no_label_is_none(theory_lines):
    lines, depth = theory_lines
    labels = _labels()
    hyp = build_hypotheses(lines, depth, WL, labels, NAMES)
    correction = np.random.default_rng(2).normal(0, 0.01, (labels.shape[0], WL.size)) - 0.02
    cands = pd.DataFrame({"wavelength": [16180.0], "pixel": [100], "depth": [0.02]})
    out = attribute_hypotheses(cands, correction, np.ones_like(correction), hyp)
    assert out["attributed_label"].iloc[0] == "none" and out["attributed_species"].iloc[0] == ""


def test_r_squared_needs_a_positive_amplitude():
    x = np.linspace(0, 1, 50)
    r2 = r_squared(2 * x + 1, np.column_stack([x, -x, np.ones(50)]))
    assert r2[0] == pytest.approx(1.0) and r2[1] == -np.inf and r2[2] == -np.inf


def test_nuisance_removes_the_known_lines_misfit():
    rng = np.random.default_rng(3)
    template = rng.uniform(0.5, 1.5, (200, 2))
    known = rng.uniform(0.1, 0.5, 200)
    signal = 0.3 * template[:, 1] + 2.0 * known  # the known line's misfit dominates the raw signal
    assert r_squared(signal, template, known[:, None])[1] == pytest.approx(1.0)
    assert r_squared(signal, template)[1] < 0.5


def test_indistinguishable_hypotheses_go_to_the_commoner_species():
    hyp = Hypotheses(np.array(["Si I", "Fe I", "CO"]), np.array([6.0, 6.0, 1.0]), ["si_fe", "fe_h", "c_fe"],
                     np.array([2.0, 20.0, 200.0]), np.zeros((5, 3)))
    k, conf = choose_hypothesis(np.array([0.90, 0.89, 0.5]), hyp)  # 0.1 dex per log10 line count
    assert hyp.species[k] == "Fe I" and conf == pytest.approx(0.89 - 0.1 - (0.90 - 0.2))
    k, conf = choose_hypothesis(np.array([0.90, 0.60, 0.5]), hyp)
    assert hyp.species[k] == "Si I" and conf == pytest.approx(0.70 - 0.50)
    assert choose_hypothesis(np.array([0.04, 0.03, 0.0]), hyp) == (-1, 0.0)
