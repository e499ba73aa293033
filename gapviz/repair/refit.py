"""Labels refitted through the repaired theory: does the repair take the missing lines' label bias away?

The store's theory is an emulator (a black box trained on the synthetic grid). The repaired theory is that
emulator times the changes' own opacity, from ``LineModel`` (with the store's calibration):

    flux(labels) = emulator(labels) × T(labels),
    T = LM[added lines](labels) × LM[recalibrated, new log gf](labels) / LM[recalibrated, old log gf](labels)

so an added line deepens with its element's abundance and temperature as a line does, and a recalibrated
line changes by its own strength ratio. The loop (``gapviz.repair.loop``) holds T at each pass's labels while
it refits them (``RepairedTheory.transmission``, dividing it out of the observed flux): an added line's χ and
species are the repair's guesses, and letting their temperature dependence pull the labels had moved them by
up to +260 K in one pass on the SME mock; held, the known lines alone set the labels and the changes only take
the absorption the theory lacks away. ``held_refit`` is that refit (labels and the stars' broadening,
``gapviz.adapt.broadening``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from torch import nn

from gapviz.adapt.broadening import Broadening, fit_broadening


class RepairedTheory(nn.Module):
    """The emulator times the changed lines' LineModel transmission (see the module docstring)."""

    def __init__(self, emulator, added: nn.Module | None, new: nn.Module | None, old: nn.Module | None):
        super().__init__()
        self.emulator, self.added, self.new, self.old = emulator, added, new, old
        self.label_names = list(emulator.label_names)
        self.n_pix = emulator.n_pix
        self.label_min, self.label_max = emulator.label_min, emulator.label_max

    def forward(self, labels: torch.Tensor) -> torch.Tensor:
        flux = self.emulator(labels)
        return flux * self.transmission(labels).to(flux.dtype)

    def transmission(self, labels: torch.Tensor) -> torch.Tensor:
        """(n, npix) the changes' factor on the emulator's flux at ``labels``."""
        x = labels.to(torch.float32)
        factor = torch.ones((x.shape[0], self.n_pix), dtype=torch.float32, device=x.device)
        if self.added is not None:
            factor = factor * self.added(x)
        if self.new is not None:
            factor = factor * self.new(x) / self.old(x).clamp_min(1e-6)
        return factor


def _line_model(lines: pd.DataFrame, wavelength, names, resolution, calibration):
    from gapviz.theory.linemodel import LineModel

    if lines.empty:
        return None
    model = LineModel(lines.reset_index(drop=True), wavelength, resolution=resolution, label_names=list(names),
                      min_depth=0.0, calibration=calibration)
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def repaired_theory(theory_fit, linelist: pd.DataFrame, repaired: pd.DataFrame, wavelength: np.ndarray,
                    resolution: float, calibration: str | None) -> RepairedTheory:
    """The repaired theory for ``theory_fit``'s emulator from the original and the repaired list
    (``gapviz.repair.changes.repaired_linelist``: column ``change``)."""
    names = theory_fit.label_names
    change = repaired["change"].astype(str)
    added = repaired.loc[change == "added"]
    recal = repaired.loc[change == "recalibrated"]
    before = recal.assign(loggf=recal["loggf_before"].to_numpy(np.float64))
    return RepairedTheory(theory_fit.emulator, _line_model(added, wavelength, names, resolution, calibration),
                          _line_model(recal, wavelength, names, resolution, calibration),
                          _line_model(before, wavelength, names, resolution, calibration))


def held_refit(theory_fit, linelist: pd.DataFrame, repaired: pd.DataFrame, wavelength: np.ndarray,
               flux: np.ndarray, flux_err: np.ndarray, start: Broadening, resolution: float,
               calibration: str | None, grid: tuple[float, ...] | None = None) -> Broadening:
    """Labels and broadening of the stars refitted, warm from ``start`` (a ``Broadening``: labels and the
    stars' resolving power), through the plain theory with the changes' transmission at ``start.labels``
    held (divided out of ``flux`` and ``flux_err``); ``grid``: the FWHM tried (default ``fit_broadening``'s)."""
    changes = repaired_theory(theory_fit, linelist, repaired, wavelength, start.resolution_observed, calibration)
    with torch.no_grad():
        factor = changes.transmission(torch.as_tensor(start.labels, dtype=torch.float32)).double().numpy()
    kw = {} if grid is None else {"grid": grid}
    return fit_broadening(theory_fit, theory_fit.emulator, wavelength, flux / factor, flux_err / factor,
                          start.labels, resolution, **kw)
