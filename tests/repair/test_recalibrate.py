"""gapviz.repair.recalibrate: a wrong log gf stands out from the other lines; the others stay as they are."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from gapviz.repair.population import Population
from gapviz.repair.recalibrate import Z_CHANGE, empirical_null, line_offsets, significant
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
