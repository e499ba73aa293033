"""gapviz.repair.recalibrate: a wrong log gf stands out from the other lines; the others stay as they are."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from gapviz.repair.population import Lines, Population
from gapviz.repair.recalibrate import (
    Z_CHANGE,
    empirical_null,
    line_offsets,
    significant,
)
from gapviz.theory.linemodel import LineModel

NAMES = ["teff", "logg", "fe_h"]
R = 22500.0
NOISE = 0.003
WRONG = 7  # row of the list whose log gf is 0.3 dex too strong in the theory's list
SHIFT = 0.3


def _lines(n: int, rng) -> pd.DataFrame:
    wl = 15200.0 + 4.0 * np.arange(n) + rng.uniform(-0.5, 0.5, n)
    return pd.DataFrame({"wavelength": wl, "species": "Fe I", "loggf": rng.uniform(-1.6, -0.8, n),
                         "elow_ev": rng.uniform(4.0, 6.0, n)}).assign(
        wavelength_air=lambda d: d["wavelength"], elements="Fe", ion=0, d0_ev=np.nan, is_molecule=False,
        isotopes="")


@pytest.fixture(scope="module")
def case():
    rng = np.random.default_rng(5)
    true = _lines(30, rng)
    theory_list = true.copy()
    theory_list.loc[WRONG, "loggf"] += SHIFT
    wl = np.arange(15195.0, 15325.0, 0.21)
    n = 150
    teff = rng.uniform(4000.0, 5200.0, n)
    labels = np.column_stack([teff, 1.0 + (teff - 3800.0) / 900.0, rng.uniform(-0.6, 0.2, n)])
    spectra = lambda table, lab: LineModel(table, wl, resolution=R, label_names=NAMES, min_depth=0.0)(
        torch.as_tensor(lab, dtype=torch.float32)).numpy().astype(np.float64)
    obs = spectra(true, labels) + rng.normal(0.0, NOISE, (n, wl.size))
    # the fitted labels are 80 K too hot: every line reads a little weaker than the stars show (a trend)
    fitted = labels + np.array([80.0, 0.0, 0.0])
    theory = spectra(theory_list, fitted)
    pop = Population(wl, NAMES, fitted, obs, theory, np.full(obs.shape, NOISE**-2))
    return theory_list, pop


def test_the_wrong_line_stands_out_and_the_others_do_not(case):
    theory_list, pop = case
    offsets, null = empirical_null(line_offsets(pop, theory_list, R, None, np.zeros(0)))
    assert len(offsets) >= 20  # the lines deeper than 3 %
    flagged = offsets.loc[significant(offsets), "line_index"].tolist()
    assert flagged == [WRONG]
    row = offsets.set_index("line_index").loc[WRONG]
    assert abs(row["residual"] + SHIFT) < 0.05  # the change that undoes it, beyond the trend of the others
    assert abs(row["z"]) > Z_CHANGE
    # the biased labels made a trend (lines too weak at 80 K too hot), which the null took up
    others = offsets[offsets["line_index"] != WRONG]
    assert np.median(others["delta"]) > 0.01
    assert abs(np.median(others["residual"])) < 0.01
    assert 0.0 < null.sigma < 0.05


def test_lines_near_a_candidate_are_tested_but_left_out_of_the_null(case):
    theory_list, pop = case
    near = float(theory_list.loc[WRONG, "wavelength"])
    offsets, null = empirical_null(line_offsets(pop, theory_list, R, None, np.array([near])))
    row = offsets.set_index("line_index").loc[WRONG]
    assert bool(row["near_candidate"]) and abs(row["z"]) > Z_CHANGE
    assert null.n_lines == int((~offsets["near_candidate"]).sum())


def test_too_few_lines_leave_sigma_null_at_zero():
    offsets = pd.DataFrame({"line_index": [0, 1], "wavelength": [15200.0, 15210.0], "species": ["Fe I", "CO"],
                            "elow_ev": [5.0, 0.5], "depth": [0.2, 0.1], "delta": [0.1, -0.1],
                            "delta_err": [0.01, 0.01], "near_candidate": [False, False]})
    out, null = empirical_null(offsets)
    assert null.sigma == 0.0 and np.allclose(out["sigma"], 0.01)
    assert null.trend_at(["Ti I"], [1.0], [0.1])[0] == pytest.approx(0.1)  # an unseen atom: the atoms' level


def test_a_line_that_shares_its_dip_with_a_stronger_one_is_measured_but_not_changed():
    rng = np.random.default_rng(5)
    true = _lines(30, rng)
    neighbour = true.loc[[WRONG]].assign(wavelength=lambda d: d["wavelength"] + 0.05,
                                         wavelength_air=lambda d: d["wavelength"], loggf=lambda d: d["loggf"] + 0.5)
    true = pd.concat([true, neighbour], ignore_index=True).sort_values("wavelength", ignore_index=True)
    wrong = int(np.flatnonzero(np.isclose(true["wavelength"], neighbour["wavelength"].iloc[0] - 0.05))[0])
    theory_list = true.copy()
    theory_list.loc[wrong, "loggf"] += SHIFT
    wl = np.arange(15195.0, 15325.0, 0.21)
    labels = np.column_stack([rng.uniform(4000.0, 5200.0, 150), np.full(150, 2.0), rng.uniform(-0.6, 0.2, 150)])
    spectra = lambda table: LineModel(table, wl, resolution=R, label_names=NAMES, min_depth=0.0)(
        torch.as_tensor(labels, dtype=torch.float32)).numpy().astype(np.float64)
    obs = spectra(true) + rng.normal(0.0, NOISE, (150, wl.size))
    pop = Population(wl, NAMES, labels, obs, spectra(theory_list), np.full(obs.shape, NOISE**-2))
    offsets, _ = empirical_null(line_offsets(pop, theory_list, R, None, np.zeros(0)))
    row = offsets.set_index("line_index").loc[wrong]
    assert row["delta"] < -0.1 and abs(row["z"]) > Z_CHANGE  # the dip is too deep, and the fit says so
    assert row["dominance"] < 0.5  # but the stronger neighbour makes most of it
    flagged = offsets.loc[significant(offsets), "line_index"].tolist()
    assert wrong not in flagged  # so it is not changed; only the line that makes most of the dip may be
    assert all(offsets.set_index("line_index").loc[i, "dominance"] >= 0.5 for i in flagged)
    lone = offsets[offsets["line_index"] != wrong]
    assert (lone["dominance"] > 0.9).sum() >= 20  # the lines alone read as alone


def test_dominance_is_a_line_s_share_of_the_optical_depth_at_its_centre():
    table = pd.DataFrame({"wavelength": [15200.0, 15200.0, 15210.0], "species": "Fe I"})
    lines = Lines(table, np.ones((1, 3)), np.array([0.2, 0.2, 0.2]), 0.0)
    assert lines.dominance(np.array([1.0, 1.0, 1.0])) == pytest.approx([0.5, 0.5, 1.0])
    assert lines.dominance(np.array([3.0, 1.0, 1.0])) == pytest.approx([0.75, 0.25, 1.0])
