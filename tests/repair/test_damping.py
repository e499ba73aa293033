"""gapviz.repair.damping: wings around a strong line are recognised as damping, not as an added line."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from gapviz.repair.damping import wing_outliers, wing_template
from gapviz.repair.explain import explain_population
from gapviz.repair.population import Lines, Population
from gapviz.theory.linemodel import LineModel

NAMES = ["teff", "logg", "fe_h"]
R = 22500.0
NOISE = 0.003
DAMPED = 4  # the strong line whose wings the theory lacks
WING = 0.08  # the template amplitude of the missing wings (optical depth at the template's peak)


def _lines() -> pd.DataFrame:
    wl = 15200.0 + 9.0 * np.arange(12)
    return pd.DataFrame({"wavelength": wl, "species": "Fe I", "loggf": np.linspace(-0.4, 0.1, 12),
                         "elow_ev": np.linspace(4.2, 5.0, 12)}).assign(
        wavelength_air=lambda d: d["wavelength"], elements="Fe", ion=0, d0_ev=np.nan, is_molecule=False,
        isotopes="", medium="vacuum")


@pytest.fixture(scope="module")
def case():
    rng = np.random.default_rng(2)
    lines = _lines()
    wl = np.arange(15190.0, 15315.0, 0.21)
    n = 100
    teff = rng.uniform(4000.0, 5000.0, n)
    labels = np.column_stack([teff, 1.0 + (teff - 3800.0) / 900.0, rng.uniform(-0.3, 0.2, n)])
    model = LineModel(lines, wl, resolution=R, label_names=NAMES, min_depth=0.0)
    with torch.no_grad():
        theory = model(torch.as_tensor(labels, dtype=torch.float32)).numpy().astype(np.float64)
    pop0 = Population(wl, NAMES, labels, theory, theory, np.ones_like(theory))
    strong = Lines.build(lines.assign(line_index=np.arange(len(lines))), pop0, R, None)
    tau = strong.tau[:, DAMPED]
    scale = np.sqrt(tau / np.median(tau))
    centre = float(lines["wavelength"].iloc[DAMPED])
    wings = WING * scale[:, None] * wing_template(wl, centre, 0.7, float(strong.sigma[DAMPED]))[None, :]
    obs = theory * np.exp(-wings) + rng.normal(0.0, NOISE, theory.shape)
    pop = Population(wl, NAMES, labels, obs, theory, np.full(obs.shape, NOISE**-2))
    return lines, pop, centre


def test_only_the_damped_line_stands_out(case):
    lines, pop, _ = case
    whole = Lines.build(lines.assign(line_index=np.arange(len(lines))), pop, R, None)
    assert wing_outliers(pop, whole, R) == {DAMPED}


def test_wings_are_explained_as_damping(case):
    lines, pop, centre = case
    candidates = pd.DataFrame({"rank": [1, 2], "wavelength": [centre + 0.9, lines["wavelength"].iloc[8] + 0.9],
                               "depth": [0.01, 0.01], "kind": ["absorption", "absorption"],
                               "in_linelist": [False, False], "attributed_label": ["fe_h", "fe_h"],
                               "attributed_species": ["Fe I", "Fe I"], "attributed_chi": [5.0, 5.0]})
    table, _, _ = explain_population(pop, candidates, lines, reference=None, calibration=None, resolution=R)
    first = table.iloc[0]
    assert first["choice"] == "damping"
    assert first["line_index"] == DAMPED and abs(first["line_wavelength"] - centre) < 1e-6
    assert first["wing_amplitude"] > 0 and first["bic_damping"] < min(first["bic_added"], first["bic_none"])
    assert table.iloc[1]["choice"] != "damping"  # an undamped strong line's neighbourhood: no wings to explain
