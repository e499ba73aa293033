"""gapviz.repair.damping: wings around a strong line are recognised as damping, not as an added line;
missing lines in the wings are added, not read as damping."""

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


def test_missing_lines_in_a_strong_line_s_wings_are_added_not_read_as_damping():
    """Three weak lines the list lacks, on both sides of a strong line, look like wings to the wing template;
    each candidate's own line must win, since damping has to beat what the neighbouring candidates add anyway."""
    rng = np.random.default_rng(5)
    lines = _lines()
    centre = float(lines["wavelength"].iloc[DAMPED])
    wl = np.arange(15190.0, 15315.0, 0.21)
    missing = lines.iloc[[0, 0, 0]].assign(wavelength=[centre - 0.95, centre + 0.85, centre + 1.6],
                                           loggf=[-1.6, -1.5, -1.7], elow_ev=[4.3, 4.5, 4.4])
    missing["wavelength_air"] = missing["wavelength"]
    n = 100
    teff = rng.uniform(4000.0, 5000.0, n)
    labels = np.column_stack([teff, 1.0 + (teff - 3800.0) / 900.0, rng.uniform(-0.3, 0.2, n)])
    x = torch.as_tensor(labels, dtype=torch.float32)
    with torch.no_grad():
        theory = LineModel(lines, wl, resolution=R, label_names=NAMES, min_depth=0.0)(x).numpy().astype(np.float64)
        full = LineModel(pd.concat([lines, missing], ignore_index=True), wl, resolution=R, label_names=NAMES,
                         min_depth=0.0)(x).numpy().astype(np.float64)
    obs = full + rng.normal(0.0, NOISE, full.shape)
    pop = Population(wl, NAMES, labels, obs, theory, np.full(obs.shape, NOISE**-2))
    whole = Lines.build(lines.assign(line_index=np.arange(len(lines))), pop, R, None)
    assert DAMPED in wing_outliers(pop, whole, R)  # the missing lines do make its wings stand out
    candidates = pd.DataFrame({"rank": [1, 2, 3], "wavelength": missing["wavelength"].to_numpy(),
                               "depth": 0.02, "kind": "absorption", "in_linelist": False, "attributed_label": "fe_h",
                               "attributed_species": "Fe I", "attributed_chi": 4.4})
    table, _, _ = explain_population(pop, candidates, lines, reference=missing, calibration=None, resolution=R)
    assert (table["choice"] != "damping").all()
    added = table[table["choice"] == "added"]
    assert len(added) == 3
    # each line is fitted alone (blends are not yet fitted jointly), so the two 0.75 Å apart pull each other
    # by up to a third of an Å, within the fitter's allowed shift
    np.testing.assert_allclose(np.sort(added["line_wavelength"]), np.sort(missing["wavelength"]), atol=0.4)
