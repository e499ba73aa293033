"""Labels refitted through the repaired theory: does the repair take the missing lines' label bias away?

The store's theory is an emulator (a black box trained on the synthetic grid). The repaired theory is that
emulator times the changes' own opacity, from ``LineModel`` (with the store's calibration):

    flux(labels) = emulator(labels) × T(labels),
    T = LM[added lines](labels) × LM[recalibrated, new log gf](labels) / LM[recalibrated, old log gf](labels)

so an added line deepens with its element's abundance and temperature as a line does, and a recalibrated
line changes by its own strength ratio. Where the theory is LineModel itself (``gapviz repair --theory
linemodel``), it stands in the emulator's place and the added lines saturate together with the lines already
in each pixel, as LineModel makes them (``ChangeTransmission``'s ``joint``: LM[added | τ0], τ0 the theory's own
absorption, ``LineModel.tau_of`` of its flux); they are fitted the same way (``fits.fit_added``'s ``joint``).
Any other theory keeps the separate factor: real radiative transfer does not saturate a pixel's lines together
as the one-layer model does (measured on the SME mock, README). The loop (``gapviz.repair.loop``) holds T at each pass's
labels while it refits them (``RepairedTheory.transmission``, dividing it out of the observed flux): an added
line's χ and species are the repair's guesses, and letting their temperature dependence pull the labels had
moved them by up to +260 K in one pass on the SME mock; held, the known lines alone set the labels and the
changes only take the absorption the theory lacks away. ``held_refit`` is that refit (labels and the stars' broadening,
``gapviz.adapt.broadening``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from torch import nn

from gapviz.adapt.broadening import Broadening, broadened_flux, fit_broadening
from gapviz.errors import GapvizError


class ChangeTransmission(nn.Module):
    """T alone (see the module docstring): the changed lines' LineModels ``added``, ``new`` (recalibrated, new
    log gf) and ``old`` (recalibrated, old log gf; each None when there are none) on a grid of ``n_pix`` pixels.
    ``RepairedTheory`` is this times an emulator; the explorer (``apps.repair_data``) uses it alone, on the
    store's theory flux (``transmission_numpy``). ``joint``: the added lines saturate together with the
    absorption already in the theory's flux (``LineModel.tau_of`` of it), as LineModel's lines of one pixel do:
    LM[added | τ0] = flux_of(τ0 + τ_added) / flux_of(τ0); for a theory that is LineModel itself."""

    def __init__(self, added: nn.Module | None, new: nn.Module | None, old: nn.Module | None, n_pix: int,
                 joint: bool = False):
        super().__init__()
        self.added, self.new, self.old = added, new, old
        self.n_pix, self.joint = n_pix, joint

    def transmission(self, labels: torch.Tensor, flux: torch.Tensor | None = None) -> torch.Tensor:
        """(n, npix) the changes' factor on the theory's ``flux`` at ``labels`` (``flux`` is needed with ``joint``
        only: the absorption the added lines saturate with)."""
        x = labels.to(torch.float32)
        factor = torch.ones((x.shape[0], self.n_pix), dtype=torch.float32, device=x.device)
        if self.added is not None and self.joint:
            if flux is None:
                raise GapvizError("the changes' joint transmission needs the theory's flux they sit in")
            tau0 = self.added.tau_of(flux.detach()).to(x.device)
            factor = factor * self.added.flux_of(tau0 + self.added.pixel_tau_linear(x)) \
                / self.added.flux_of(tau0).clamp_min(1e-6)
        elif self.added is not None:
            factor = factor * self.added(x)
        if self.new is not None:
            factor = factor * self.new(x) / self.old(x).clamp_min(1e-6)
        return factor

    def transmission_numpy(self, labels: np.ndarray, flux: np.ndarray | None = None,
                           batch_size: int = 1000) -> np.ndarray:
        """``transmission`` for labels (n, nlabel) or one (nlabel,) vector (and the theory's ``flux``, (n, npix),
        for ``joint``) as numpy: (n, npix) float64; no autograd, ``batch_size`` stars at a time."""
        x = torch.as_tensor(np.atleast_2d(np.asarray(labels, dtype=np.float64)), dtype=torch.float32)
        f = None if flux is None else torch.as_tensor(np.atleast_2d(np.asarray(flux, dtype=np.float64)))
        with torch.no_grad():
            out = [self.transmission(x[i:i + batch_size], None if f is None else f[i:i + batch_size])
                   .double().numpy() for i in range(0, x.shape[0], batch_size)]
        return np.concatenate(out) if out else np.ones((0, self.n_pix), dtype=np.float64)


class RepairedTheory(ChangeTransmission):
    """The emulator times the changed lines' LineModel transmission (see the module docstring)."""

    def __init__(self, emulator, added: nn.Module | None, new: nn.Module | None, old: nn.Module | None,
                 joint: bool = False):
        super().__init__(added, new, old, emulator.n_pix, joint)
        self.emulator = emulator
        self.label_names = list(emulator.label_names)
        self.label_min, self.label_max = emulator.label_min, emulator.label_max

    def forward(self, labels: torch.Tensor) -> torch.Tensor:
        flux = self.emulator(labels)
        return flux * self.transmission(labels, flux).to(flux.dtype)


def _line_model(lines: pd.DataFrame, wavelength, names, resolution, calibration, off_grid_none: bool = False):
    """The LineModel of ``lines`` on ``wavelength`` (None for no lines; with ``off_grid_none`` also when none of
    them falls on the grid), its parameters frozen."""
    from gapviz.theory.linemodel import LineModel

    if lines.empty:
        return None
    try:
        model = LineModel(lines.reset_index(drop=True), wavelength, resolution=resolution, label_names=list(names),
                          min_depth=0.0, calibration=calibration)
    except GapvizError as exc:
        if off_grid_none and "falls on the grid" in str(exc):  # none of these lines is on the grid: no change
            return None
        raise
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def change_models(added: pd.DataFrame, recalibrated: pd.DataFrame, wavelength, names, resolution, calibration,
                  off_grid_none: bool = False) -> tuple[nn.Module | None, nn.Module | None, nn.Module | None]:
    """(added, new, old): the LineModels of T (see the module docstring) from the added lines and the
    recalibrated ones (with ``loggf_before``), on ``wavelength`` with label ``names``; None where there are no
    lines (``off_grid_none``: or none on the grid, instead of LineModel's GapvizError)."""
    before = recalibrated.assign(loggf=recalibrated["loggf_before"].to_numpy(np.float64))
    return tuple(_line_model(lines, wavelength, names, resolution, calibration, off_grid_none)
                 for lines in (added, recalibrated, before))


def repaired_theory(theory_fit, linelist: pd.DataFrame, repaired: pd.DataFrame, wavelength: np.ndarray,
                    resolution: float, calibration: str | None, joint: bool = False) -> RepairedTheory:
    """The repaired theory for ``theory_fit``'s emulator from the original and the repaired list
    (``gapviz.repair.changes.repaired_linelist``: column ``change``; ``joint``: ``ChangeTransmission``'s)."""
    change = repaired["change"].astype(str)
    return RepairedTheory(theory_fit.emulator, *change_models(
        repaired.loc[change == "added"], repaired.loc[change == "recalibrated"], wavelength,
        theory_fit.label_names, resolution, calibration), joint=joint)


def held_refit(theory_fit, linelist: pd.DataFrame, repaired: pd.DataFrame, wavelength: np.ndarray,
               flux: np.ndarray, flux_err: np.ndarray, start: Broadening, resolution: float,
               calibration: str | None, grid: tuple[float, ...] | None = None, joint: bool = False,
               seen: np.ndarray | None = None) -> Broadening:
    """Labels and broadening of the stars refitted, warm from ``start`` (a ``Broadening``: labels and the
    stars' resolving power), through the plain theory with the changes' transmission at ``start.labels``
    held (divided out of ``flux`` and ``flux_err``); ``grid``: the FWHM tried (default ``fit_broadening``'s);
    ``joint``: the added lines saturate with the broadened theory's absorption (``ChangeTransmission``): ``seen``,
    that flux (S, P) at ``start``, when the caller has it (else computed here)."""
    changes = repaired_theory(theory_fit, linelist, repaired, wavelength, start.resolution_observed, calibration,
                              joint)
    if joint and seen is None:
        seen = broadened_flux(theory_fit, wavelength, start.fwhm_kms, start.labels)
    factor = changes.transmission_numpy(start.labels, seen if joint else None)
    kw = {} if grid is None else {"grid": grid}
    return fit_broadening(theory_fit, theory_fit.emulator, wavelength, flux / factor, flux_err / factor,
                          start.labels, resolution, **kw)
