"""The Payne-style emulator: a small MLP from stellar labels to a normalised synthetic spectrum.

``Emulator(labels (n, L) physical units) -> flux (n, npix)``, trained on a labelled synthetic set by
``fit_emulator``. Labels are scaled to [-0.5, 0.5] by the training set's min/max (Ting et al. 2019);
the output is ``1.2 * sigmoid(.)`` so the flux lies in (0, 1.2). Saved as a plain dict that loads with
``torch.load(..., weights_only=True)``.
"""

from __future__ import annotations

import copy
import math
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from gapviz.errors import GapvizError
from gapviz.files import atomic_path
from gapviz.progress import progress_bar
from gapviz.io.spectra import Spectra

FORMAT = "gapviz-emulator"
FORMAT_VERSION = 1
FLUX_MAX = 1.2  # the output ceiling: normalised flux lies in (0, FLUX_MAX)
ACTIVATIONS = {"silu": nn.SiLU, "leaky_relu": nn.LeakyReLU}


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` → cuda when available, else cpu; anything else is passed to ``torch.device``."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise GapvizError(f"device {device}: CUDA was asked for but is not available here; use --device cpu")
    return device


class Emulator(nn.Module):
    """Labels (n, L) in physical units (teff K, logg dex, ...) → normalised flux (n, npix) on ``wavelength``.

    Two hidden layers of width ``hidden`` (SiLU or LeakyReLU), output ``1.2 * sigmoid``.
    """

    def __init__(
        self,
        label_names: list[str] | tuple[str, ...],
        label_min: np.ndarray,
        label_max: np.ndarray,
        wavelength: np.ndarray,
        hidden: int = 300,
        activation: str = "silu",
    ):
        super().__init__()
        if activation not in ACTIVATIONS:
            raise GapvizError(f"emulator activation {activation!r}: expected one of {sorted(ACTIVATIONS)}")
        self.label_names = [str(n) for n in label_names]
        self.hidden = int(hidden)
        self.activation = activation
        self.report: dict = {}  # what training reached (EmulatorReport as a dict), saved with the weights
        n_label, n_pix = len(self.label_names), int(np.size(wavelength))
        lo = torch.as_tensor(np.asarray(label_min, dtype=np.float64).reshape(n_label))
        hi = torch.as_tensor(np.asarray(label_max, dtype=np.float64).reshape(n_label))
        self.register_buffer("label_min", lo)
        self.register_buffer("label_max", hi)
        self.register_buffer("wavelength_", torch.as_tensor(np.asarray(wavelength, dtype=np.float64)))
        act = ACTIVATIONS[activation]
        self.net = nn.Sequential(
            nn.Linear(n_label, hidden), act(), nn.Linear(hidden, hidden), act(), nn.Linear(hidden, n_pix)
        )

    @property
    def wavelength(self) -> np.ndarray:
        """(npix,) float64, vacuum Å."""
        return self.wavelength_.detach().cpu().numpy()

    @property
    def n_label(self) -> int:
        return len(self.label_names)

    @property
    def n_pix(self) -> int:
        return int(self.wavelength_.numel())

    def scale(self, labels: torch.Tensor) -> torch.Tensor:
        """Physical labels (n, L) → scaled labels in [-0.5, 0.5] over the training box."""
        lo, width = self._box(labels)
        return (labels - lo) / width - 0.5

    def unscale(self, scaled: torch.Tensor) -> torch.Tensor:
        """Scaled labels (n, L) → physical units."""
        lo, width = self._box(scaled)
        return (scaled + 0.5) * width + lo

    def _box(self, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        lo = self.label_min.to(like)
        width = (self.label_max - self.label_min).to(like)
        return lo, torch.where(width > 0, width, torch.ones_like(width))  # a constant label scales to -0.5

    def forward(self, labels: torch.Tensor) -> torch.Tensor:
        """labels (n, L) physical units → flux (n, npix), differentiable."""
        dtype = self.net[0].weight.dtype
        return FLUX_MAX * torch.sigmoid(self.net(self.scale(labels.to(dtype))))

    def forward_scaled(self, scaled: torch.Tensor) -> torch.Tensor:
        """Scaled labels (n, L) in [-0.5, 0.5] → flux (n, npix); what training and fitting optimise."""
        return FLUX_MAX * torch.sigmoid(self.net(scaled))

    # --- numpy conveniences -------------------------------------------------------------------------
    def in_range(self, labels: np.ndarray, tolerance: float = 0.0) -> np.ndarray:
        """(n,) bool: labels (n, L) inside the training box widened by ``tolerance`` × its width per side."""
        labels = self._as_labels(labels)
        lo = self.label_min.cpu().numpy()
        hi = self.label_max.cpu().numpy()
        pad = tolerance * (hi - lo)
        return np.all((labels >= lo - pad) & (labels <= hi + pad), axis=1)

    def check_labels(self, labels: np.ndarray, tolerance: float = 0.05, what: str = "labels") -> None:
        """Raise GapvizError naming the first offending label if any star lies outside the box (± tolerance)."""
        labels = self._as_labels(labels)
        ok = self.in_range(labels, tolerance)
        if ok.all():
            return
        lo = self.label_min.cpu().numpy()
        hi = self.label_max.cpu().numpy()
        star = int(np.flatnonzero(~ok)[0])
        pad = tolerance * (hi - lo)
        col = int(np.flatnonzero((labels[star] < lo - pad) | (labels[star] > hi + pad))[0])
        raise GapvizError(
            f"{what}: {int((~ok).sum())} star(s) outside the emulator's training box, e.g. star {star} has "
            f"{self.label_names[col]}={labels[star, col]:g}, expected {lo[col]:g}..{hi[col]:g} "
            f"(±{tolerance:.0%} of the range); the emulator cannot extrapolate"
        )

    def _as_labels(self, labels: np.ndarray) -> np.ndarray:
        labels = np.atleast_2d(np.asarray(labels, dtype=np.float64))
        if labels.ndim != 2 or labels.shape[1] != self.n_label:
            raise GapvizError(
                f"labels have shape {labels.shape}, expected (n, {self.n_label}) in the order {self.label_names}"
            )
        return labels

    @torch.no_grad()
    def predict(
        self, labels: np.ndarray, validate: bool = False, tolerance: float = 0.05, batch_size: int = 4096
    ) -> np.ndarray:
        """labels (n, L) physical units → flux (n, npix) float32 numpy; ``validate`` refuses labels off the box."""
        labels = self._as_labels(labels)
        if validate:
            self.check_labels(labels, tolerance)
        device = self.label_min.device
        out = np.empty((labels.shape[0], self.n_pix), dtype=np.float32)
        for start in range(0, labels.shape[0], batch_size):
            chunk = torch.as_tensor(labels[start : start + batch_size], device=device)
            out[start : start + batch_size] = self(chunk).float().cpu().numpy()
        return out

    # --- persistence --------------------------------------------------------------------------------
    def payload(self, report: "EmulatorReport | None" = None) -> dict:
        """The emulator as a plain dict of tensors/str/numbers (what ``save`` writes; weights_only-safe)."""
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "label_names": list(self.label_names),
            "hidden": self.hidden,
            "activation": self.activation,
            "state_dict": {k: v.detach().cpu().clone() for k, v in self.state_dict().items()},
            "report": asdict(report) if report is not None else dict(getattr(self, "report", {})),
        }

    @classmethod
    def from_payload(cls, payload: dict, device: str | torch.device = "cpu", source: str = "<memory>") -> "Emulator":
        """Rebuild an emulator from ``payload()``'s dict; GapvizError naming ``source`` if it is not one."""
        if not isinstance(payload, dict) or payload.get("format") != FORMAT:
            raise GapvizError(f"{source}: not a gapviz emulator (expected a dict with format={FORMAT!r})")
        if payload.get("format_version", 0) > FORMAT_VERSION:
            raise GapvizError(
                f"{source}: emulator format version {payload['format_version']} is newer than this gapviz "
                f"understands ({FORMAT_VERSION}); upgrade gapviz"
            )
        try:
            state = payload["state_dict"]
            emu = cls(
                payload["label_names"],
                state["label_min"].numpy(),
                state["label_max"].numpy(),
                state["wavelength_"].numpy(),
                hidden=payload["hidden"],
                activation=payload["activation"],
            )
            emu.load_state_dict(state)
        except (KeyError, RuntimeError, AttributeError) as exc:
            raise GapvizError(f"{source}: damaged gapviz emulator ({type(exc).__name__}: {exc})") from None
        emu.report = dict(payload.get("report", {}))
        return emu.to(resolve_device(device)).eval()

    def save(self, path: str | os.PathLike, overwrite: bool = True, report: "EmulatorReport | None" = None) -> Path:
        """Write ``payload()`` with torch.save (loadable with ``weights_only=True``), atomically."""
        path = Path(path)
        with atomic_path(path, overwrite=overwrite) as tmp:
            torch.save(self.payload(report), tmp)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike, device: str | torch.device = "cpu") -> "Emulator":
        """Read an emulator written by ``save``; GapvizError naming the file if it is not one."""
        path = Path(path)
        if not path.is_file():
            raise GapvizError(f"{path}: no such emulator file")
        try:
            payload = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # pickle, zip and weights-only errors all mean "not our file"
            raise GapvizError(f"{path}: not a readable gapviz emulator (torch.load failed: {exc})") from None
        return cls.from_payload(payload, device=device, source=str(path))


@dataclass
class EmulatorReport:
    """What training reached. rms values are in normalised-flux units over usable pixels."""

    val_rms: float
    train_rms: float
    n_train: int
    n_val: int
    epochs: int
    seconds: float
    stopped: str  # "converged" (early stopping), "time", "epochs"
    device: str
    seed: int


def _split(n: int, val_fraction: float, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    perm = torch.randperm(n, generator=generator)
    n_val = int(round(n * val_fraction)) if n > 1 else 0
    n_val = min(max(n_val, 1 if val_fraction > 0 and n > 1 else 0), n - 1)
    return perm[n_val:], perm[:n_val]


def _weighted_mse(model: Emulator, x: torch.Tensor, y: torch.Tensor, w: torch.Tensor, batch: int) -> float:
    total, count = 0.0, 0.0
    with torch.no_grad():
        for s in range(0, x.shape[0], batch):
            d = (model.forward_scaled(x[s : s + batch]) - y[s : s + batch]) ** 2 * w[s : s + batch]
            total += float(d.sum())
            count += float(w[s : s + batch].sum())
    return total / max(count, 1.0)


#: Every epoch takes at least this many optimiser steps: the plateau schedule and early stopping count
#: epochs, and with one step per epoch (a 500-star set at batch 512) they halved the rate and stopped after
#: 4 s (validation rms 0.015 on the SME mock's 500 spectra).
MIN_STEPS_PER_EPOCH = 8
MIN_BATCH = 32


def fit_emulator(
    spectra: Spectra,
    label_names: list[str] | tuple[str, ...] | None = None,
    hidden: int = 300,
    activation: str = "silu",
    max_minutes: float = 2.0,
    max_epochs: int = 100_000,
    batch_size: int = 512,
    learning_rate: float = 4e-3,
    val_fraction: float = 0.1,
    patience: int = 120,
    seed: int = 0,
    device: str | torch.device = "auto",
    progress: bool = True,
) -> tuple[Emulator, EmulatorReport]:
    """Train an Emulator on a labelled synthetic set (flux (nstar, npix), labels named ``label_names``).

    Adam on minibatches (``batch_size``, smaller for a small set so that an epoch has at least
    ``MIN_STEPS_PER_EPOCH`` steps), the learning rate halved when the validation MSE stalls (ReduceLROnPlateau),
    early stopping after ``patience`` epochs without improvement or when the rate falls 1000×; the best
    validation state is kept. Stops at ``max_minutes`` wall time or ``max_epochs``, whichever first
    (only the epoch limit is reproducible bit for bit). Pixels with non-finite flux carry no weight.
    """
    names = list(label_names) if label_names is not None else spectra.label_names
    if not names:
        raise GapvizError(f"{spectra.source}: no /labels in this set; an emulator needs a labelled synthetic set")
    labels = spectra.label_array(names)
    if not np.all(np.isfinite(labels)):
        bad = names[int(np.flatnonzero(~np.isfinite(labels).all(axis=0))[0])]
        raise GapvizError(f"{spectra.source}: /labels/{bad} has non-finite values; every synthetic star needs labels")
    if spectra.n_star < 2:
        raise GapvizError(f"{spectra.source}: {spectra.n_star} spectrum; an emulator needs at least 2 to train")
    dev = resolve_device(device)
    gen = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):  # seeded initial weights, the caller's global RNG untouched
        torch.manual_seed(seed)
        model = Emulator(names, labels.min(axis=0), labels.max(axis=0), spectra.wavelength, hidden, activation)
    ok = spectra.usable()
    flux = np.where(ok, spectra.flux, 0.0).astype(np.float32)
    mean = np.clip(flux.sum(0) / np.maximum(ok.sum(0), 1), 1e-3, FLUX_MAX - 1e-3)
    with torch.no_grad():  # start from the mean spectrum: the net then only learns the label dependence
        last = model.net[-1]
        last.weight.mul_(0.1)
        last.bias.copy_(torch.as_tensor(np.log(mean / (FLUX_MAX - mean)), dtype=torch.float32))
    model = model.to(dev)

    x = model.scale(torch.as_tensor(labels, device=dev)).float()
    y = torch.as_tensor(flux, device=dev)
    w = torch.as_tensor(ok, dtype=torch.float32, device=dev)
    train_idx, val_idx = _split(spectra.n_star, val_fraction, gen)
    if val_idx.numel() == 0:
        val_idx = train_idx
    train_idx, val_idx = train_idx.to(dev), val_idx.to(dev)
    xv, yv, wv = x[val_idx], y[val_idx], w[val_idx]
    batch_size = min(batch_size, max(MIN_BATCH, -(-train_idx.numel() // MIN_STEPS_PER_EPOCH)))

    opt = torch.optim.Adam(model.parameters(), lr=learning_rate)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=max(patience // 4, 2))
    best, best_state, since_best = math.inf, copy.deepcopy(model.state_dict()), 0
    start, stopped, epoch = time.monotonic(), "epochs", 0
    bar = _progress(progress, max_minutes)
    try:
        for epoch in range(1, max_epochs + 1):
            model.train()
            order = train_idx[torch.randperm(train_idx.numel(), generator=gen).to(dev)]
            for s in range(0, order.numel(), batch_size):
                b = order[s : s + batch_size]
                wb = w[b]
                loss = (((model.forward_scaled(x[b]) - y[b]) ** 2) * wb).sum() / wb.sum().clamp_min(1.0)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
            val = _weighted_mse(model, xv, yv, wv, 4096)
            elapsed = time.monotonic() - start
            sched.step(val)  # a time-budgeted cosine schedule did worse here (0.0045 vs 0.0031 in 1 min)
            if val < best * (1 - 1e-4):
                best, best_state, since_best = val, copy.deepcopy(model.state_dict()), 0
            else:
                since_best += 1
            if bar is not None:
                bar.set_postfix(val_rms=f"{math.sqrt(best):.5f}", epoch=epoch, refresh=False)
                bar.n = min(round(elapsed, 1), bar.total)
                bar.refresh()
            if since_best >= patience or opt.param_groups[0]["lr"] < learning_rate * 1e-3:
                stopped = "converged"
                break
            if elapsed >= max_minutes * 60:
                stopped = "time"
                break
    finally:
        if bar is not None:
            bar.close()
    model.load_state_dict(best_state)
    model.eval()
    report = EmulatorReport(
        val_rms=math.sqrt(best),
        train_rms=math.sqrt(_weighted_mse(model, x[train_idx], y[train_idx], w[train_idx], 4096)),
        n_train=int(train_idx.numel()),
        n_val=int(val_idx.numel()),
        epochs=epoch,
        seconds=time.monotonic() - start,
        stopped=stopped,
        device=str(dev),
        seed=seed,
    )
    model.report = asdict(report)
    return model, report


def _progress(enabled: bool, max_minutes: float):
    if not enabled:
        return None
    return progress_bar(total=round(max_minutes * 60, 1), unit="s", desc="train emulator", leave=True,
                bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.0f}/{total:.0f} s {postfix}")
