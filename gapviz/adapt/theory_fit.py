"""The theory alone as a label fitter: a run's emulator with its run's rules for usable pixels.

What the finder refits stars with (``gapviz.discover.find``: each star fitted with the candidate features
left out, to see how each feature varies from star to star). ``gapviz apply`` saves it beside the store
(``STORE_DIR/theory.pt``) so ``gapviz find`` can run again on a store without the run directory.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from gapviz.adapt.checkpoint import emulator_from_payload, load_torch
from gapviz.adapt.data import prepare_arrays
from gapviz.errors import GapvizError
from gapviz.files import atomic_path
from gapviz.theory.emulator import Emulator

FORMAT = "gapviz-theory-fit"
#: What stands for the theory when labels are refitted: the run's emulator of the synthetic grid (any grid, a
#: black box), or LineModel itself with the theory's list (exact where the grid was made by LineModel).
THEORIES = ("emulator", "linemodel")
CHUNK = 256  # stars per forward pass


class LineModelTheory(torch.nn.Module):
    """LineModel of the theory's line list where an emulator would stand (its label names, box and grid): the
    theory itself, exactly, when the synthetic grid was made by LineModel (``gapviz mock``'s LineModel physics),
    instead of an emulator of it. Frozen; labels (n, L) physical → flux (n, npix)."""

    def __init__(self, linelist, wavelength: np.ndarray, resolution: float, calibration: str | None, like):
        from gapviz.theory.linemodel import LineModel

        super().__init__()
        if np.shape(wavelength)[-1] != like.n_pix:
            raise GapvizError(f"LineModel theory: {np.shape(wavelength)[-1]} pixels, the emulator has {like.n_pix}")
        self.model = LineModel(linelist, np.asarray(wavelength, dtype=np.float64), resolution=resolution,
                               label_names=list(like.label_names), calibration=calibration)
        for p in self.model.parameters():
            p.requires_grad_(False)
        self.anchor = torch.nn.Parameter(torch.zeros(1), requires_grad=False)  # where it lives, for the fitter
        self.label_names, self.n_pix = list(like.label_names), int(like.n_pix)
        self.register_buffer("label_min", like.label_min.detach().clone().cpu())
        self.register_buffer("label_max", like.label_max.detach().clone().cpu())

    def forward(self, labels: torch.Tensor) -> torch.Tensor:
        return self.model(labels.to(torch.float32))


@dataclass
class TheoryFit:
    """emulator: labels → flux on ``wavelength``; pixels with flux_err > ``sigma_max`` are left out and σ is
    raised to ``sigma_floor`` (the run's data rules, ``gapviz.adapt.data.prepare_arrays``)."""

    emulator: Emulator
    sigma_floor: float
    sigma_max: float

    @property
    def label_names(self) -> list[str]:
        return list(self.emulator.label_names)

    @property
    def device(self) -> torch.device:
        return next(self.emulator.parameters()).device

    @torch.no_grad()
    def theory(self, labels) -> np.ndarray:
        """The theory flux (n, npix) float32 at labels (n, L) in ``label_names`` order."""
        labels = np.atleast_2d(np.asarray(labels, dtype=np.float64))
        if labels.shape[1] != len(self.label_names):
            raise GapvizError(f"labels have shape {labels.shape}, expected (n, {len(self.label_names)}) in the "
                              f"order {self.label_names}")
        out = [self.emulator(torch.as_tensor(labels[s : s + CHUNK], dtype=torch.float32, device=self.device))
               .float().cpu().numpy() for s in range(0, labels.shape[0], CHUNK)]
        return np.concatenate(out) if out else np.empty((0, self.emulator.n_pix), np.float32)

    def with_line_model(self, linelist, wavelength: np.ndarray, resolution: float,
                        calibration: str | None) -> "TheoryFit":
        """This fitter with ``LineModelTheory`` (LineModel of ``linelist`` at ``resolution``, ``calibration``)
        in the emulator's place: the same labels, box and pixel rules."""
        return TheoryFit(LineModelTheory(linelist, wavelength, resolution, calibration, self.emulator),
                         self.sigma_floor, self.sigma_max)

    def fit_labels(self, flux, flux_err, **kw):
        """Labels of each star by χ² through the theory alone → ``gapviz.adapt.infer.LabelFit``. Pixels whose
        flux_err is non-finite or ≤ 0 are left out, so a caller can fit a star without some features."""
        from gapviz.adapt.infer import fit_labels

        if np.shape(flux)[-1] != self.emulator.n_pix:
            raise GapvizError(f"flux has {np.shape(flux)[-1]} pixels, expected {self.emulator.n_pix} (the theory's grid)")
        arrays = prepare_arrays(flux, flux_err, self.sigma_floor, self.sigma_max)
        err = np.where(arrays["mask"] > 0, arrays["sigma"], np.nan)
        kw.setdefault("n_starts", 8)
        # the first fitter until the shipped sample's candidates are regenerated: its refit labels (and so the
        # finder's attributions) are what data_samples/store/candidates.csv holds; method="lm" is the fast one
        kw.setdefault("method", "legacy")
        fit = fit_labels(self.emulator, arrays["flux"], err, self.emulator.label_min.cpu().numpy(),
                         self.emulator.label_max.cpu().numpy(), device=self.device, **kw)
        fit.label_names = self.label_names
        return fit

    def save(self, path: str | os.PathLike, overwrite: bool = True) -> Path:
        """Write the emulator and the pixel rules (torch.save, loadable with ``weights_only=True``)."""
        with atomic_path(path, overwrite=overwrite) as tmp:
            torch.save({"format": FORMAT, "emulator": self.emulator.payload(), "sigma_floor": float(self.sigma_floor),
                        "sigma_max": float(self.sigma_max)}, tmp)
        return Path(path)

    @classmethod
    def load(cls, path: str | os.PathLike, device: str | torch.device = "cpu") -> "TheoryFit":
        """Read what ``save`` wrote; GapvizError naming the file if it is not one."""
        payload = load_torch(Path(path), "theory file")
        if not isinstance(payload, dict) or payload.get("format") != FORMAT:
            raise GapvizError(f"{path}: not a gapviz theory file (expected format={FORMAT!r}, written by "
                              "'gapviz apply')")
        return cls(emulator_from_payload(payload["emulator"], device), payload["sigma_floor"], payload["sigma_max"])


def fit_through(theory_fit: TheoryFit, module: torch.nn.Module, flux: np.ndarray, flux_err: np.ndarray,
                init: np.ndarray | None = None):
    """Labels of each star through ``module`` (the plain emulator, broadened, or a repaired theory) with
    ``theory_fit``'s pixel rules → ``LabelFit``. With ``init``: a warm start from those labels (and the box centre) instead of the
    fitter's spread of starts, 4–8× cheaper; the labels it returns moved by < 1 K from the full search's on the
    LineModel mock's loop."""
    fit = TheoryFit(module, theory_fit.sigma_floor, theory_fit.sigma_max)
    kw = {"init": init, "n_starts": 1} if init is not None else {}
    return fit.fit_labels(flux, flux_err, method="lm", **kw)
