"""The repaired theory: the emulator times the changed lines' own transmission, and a label fit through it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from gapviz.adapt.theory_fit import TheoryFit, fit_through
from gapviz.errors import GapvizError
from gapviz.repair.refit import repaired_theory
from gapviz.theory.linemodel import LineModel

NAMES = ["teff", "logg", "fe_h", "mg_fe"]
WL = np.linspace(15740.0, 15760.0, 200)


class FlatEmulator(nn.Module):
    """A stand-in emulator: a flat continuum with one label-dependent Fe I line from LineModel."""

    def __init__(self, lines):
        super().__init__()
        self.lm = LineModel(lines, WL, label_names=NAMES, min_depth=0.0)
        self.label_names, self.n_pix = NAMES, WL.size
        self.label_min = torch.tensor([4000.0, 1.0, -1.0, -0.5])
        self.label_max = torch.tensor([5200.0, 3.5, 0.5, 0.5])
        self.w = nn.Parameter(torch.zeros(1))

    def forward(self, labels):
        return self.lm(labels.float()) + 0.0 * self.w


def _table(rows):
    return pd.DataFrame(rows, columns=["wavelength", "species", "loggf", "elow_ev"]).assign(
        wavelength_air=lambda d: d["wavelength"], elements=lambda d: d["species"].str.split().str[0], ion=0,
        d0_ev=np.nan, is_molecule=False, isotopes="")


def test_repaired_theory_is_the_emulator_times_the_changes():
    theory_lines = _table([[15745.0, "Fe I", -1.0, 5.0], [15755.0, "Fe I", -0.5, 5.5]])
    emulator = FlatEmulator(theory_lines)
    fit = TheoryFit(emulator, 0.001, 1.0)
    repaired = theory_lines.assign(change="kept", loggf_before=np.nan)
    repaired.loc[1, ["change", "loggf_before", "loggf"]] = ["recalibrated", -0.5, -0.8]
    added = _table([[15750.0, "Mg I", -1.2, 5.1]]).assign(change="added", loggf_before=np.nan)
    repaired = pd.concat([repaired, added], ignore_index=True)
    rt = repaired_theory(fit, theory_lines, repaired, WL, 22500.0, None)
    labels = torch.tensor([[4600.0, 2.4, 0.0, 0.1]])
    with torch.no_grad():
        got = rt(labels).numpy()[0]
        expect = LineModel(repaired.assign(change=None).drop(columns=["change", "loggf_before"]), WL,
                           label_names=NAMES, min_depth=0.0)(labels).numpy()[0]
    # away from the lines' overlap the repaired theory is the full list's spectrum
    np.testing.assert_allclose(got, expect, atol=2e-3)
    assert got[np.argmin(np.abs(WL - 15750.0))] < 0.95  # the added Mg line is there
    # the changes' transmission, which the loop holds at each pass's labels, is the ratio to the emulator
    with torch.no_grad():
        factor = rt.transmission(labels).numpy()[0]
        np.testing.assert_allclose(emulator(labels).numpy()[0] * factor, got, rtol=1e-6)
    assert factor[np.argmin(np.abs(WL - 15750.0))] < 0.95  # the added line absorbs
    assert factor[np.argmin(np.abs(WL - 15755.0))] > 1.02  # the recalibrated line was made weaker
    # no changes: the emulator itself
    same = repaired_theory(fit, theory_lines, theory_lines.assign(change="kept", loggf_before=np.nan), WL, 22500.0,
                           None)
    with torch.no_grad():
        np.testing.assert_array_equal(same(labels).numpy(), emulator(labels).numpy())


def test_refit_through_the_repaired_theory_recovers_the_abundance():
    theory_lines = _table([[15745.0, "Fe I", -1.0, 5.0]])
    true_lines = pd.concat([theory_lines, _table([[15750.0, "Mg I", -1.0, 5.1]])], ignore_index=True)
    fit = TheoryFit(FlatEmulator(theory_lines), 0.001, 1.0)
    rng = np.random.default_rng(1)
    truth = np.column_stack([rng.uniform(4300, 4900, 12), rng.uniform(1.8, 3.0, 12), rng.uniform(-0.4, 0.2, 12),
                             rng.uniform(-0.3, 0.3, 12)])
    with torch.no_grad():
        flux = LineModel(true_lines, WL, label_names=NAMES, min_depth=0.0)(torch.tensor(truth)).numpy().astype(float)
    err = np.full_like(flux, 0.002)
    repaired = true_lines.assign(change=["kept", "added"], loggf_before=np.nan)
    rt = repaired_theory(fit, theory_lines, repaired, WL, 22500.0, None)
    noisy = flux + rng.normal(0, 0.002, flux.shape)
    before = fit_through(fit, fit.emulator, noisy, err).labels
    after = fit_through(fit, rt, noisy, err).labels
    mg = NAMES.index("mg_fe")
    # without the Mg line the theory cannot see [Mg/Fe]; with it, the fit recovers it
    assert np.median(np.abs(after[:, mg] - truth[:, mg])) < 0.05
    assert np.median(np.abs(before[:, mg] - truth[:, mg])) > 0.1


def test_joint_changes_on_linemodel_make_the_full_lists_spectrum_exactly_even_in_a_blend():
    """With ``joint`` the added lines saturate with the theory's own absorption: on a LineModel theory the
    repaired theory is LineModel of the repaired list, also where the added line sits in a strong known line's
    core (the product of separate transmissions over-absorbs there). It needs the theory's flux."""
    theory_lines = _table([[15750.0, "Fe I", 0.5, 4.0]])  # a saturated line
    emulator = FlatEmulator(theory_lines)
    fit = TheoryFit(emulator, 0.001, 1.0)
    added = _table([[15750.1, "Mg I", -0.3, 5.1]]).assign(change="added", loggf_before=np.nan)
    repaired = pd.concat([theory_lines.assign(change="kept", loggf_before=np.nan), added], ignore_index=True)
    labels = torch.tensor([[4600.0, 2.4, 0.0, 0.1]])
    full = LineModel(repaired.drop(columns=["change", "loggf_before"]), WL, label_names=NAMES,
                     min_depth=0.0)(labels).detach().numpy()[0]
    joint = repaired_theory(fit, theory_lines, repaired, WL, 22500.0, None, joint=True)
    product = repaired_theory(fit, theory_lines, repaired, WL, 22500.0, None)
    with torch.no_grad():
        got, over = joint(labels).numpy()[0], product(labels).numpy()[0]
    core = np.argmin(np.abs(WL - 15750.05))
    np.testing.assert_allclose(got, full, atol=2e-5)
    assert over[core] < full[core] - 0.01  # separate transmissions: too deep in the blend
    with pytest.raises(GapvizError, match="needs the theory's flux"):
        joint.transmission(labels)
