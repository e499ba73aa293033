"""A trained run, ready to apply: ``load_adaptation(run_dir, device)`` → ``Adaptation`` (ARCHITECTURE.md §5).

All inputs and outputs are numpy: flux, flux_err (n, npix) on ``model.wavelength`` (vacuum Å); labels
(n, L) in physical units in the order ``model.label_names``. Pixels with non-finite flux or error, error
≤ 0 or error > ``sigma_max`` of the run are ignored by the encoders' χ²-trained maps and the label fit.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from gapviz.adapt.checkpoint import MODEL_FORMAT, MODEL_VERSION, emulator_from_payload, load_torch
from gapviz.adapt.config import config_from_dict
from gapviz.adapt.data import prepare_arrays
from gapviz.adapt.networks import PhysicalAdapter, build_networks
from gapviz.adapt.theory_fit import TheoryFit
from gapviz.errors import GapvizError
from gapviz.theory.emulator import resolve_device

CHUNK = 256  # stars per forward pass


class Adaptation:
    """The learned map between theory and observations of one run (see module doc)."""

    def __init__(self, payload: dict, device: str | torch.device = "cpu", source: str = "<memory>"):
        self.device = resolve_device(device)
        self.config = config_from_dict(payload["config"], source)
        self.label_names: list[str] = list(payload["label_names"])
        self.wavelength: np.ndarray = payload["wavelength"].numpy().astype(np.float64)
        self.metadata: dict = dict(payload.get("metadata", {}))
        self.summary: dict = dict(payload.get("summary", {}))
        self.emulator = emulator_from_payload(payload["emulator"], self.device)
        #: The theory alone as a label fitter (what the finder refits stars with; saved beside a store).
        self.theory_fit = TheoryFit(self.emulator, self.config.data.sigma_floor, self.config.data.sigma_max)
        gen, _, _ = build_networks(self.config.model, self.wavelength.size, payload["flux_mean"],
                                   payload["flux_std"], self.emulator)
        gen.load_state_dict(payload["state_dict"])
        self.gen = gen.to(self.device).eval()
        self.split_min = payload.get("split_min")
        self.split_max = payload.get("split_max")

    # --- helpers -------------------------------------------------------------------------------------
    @property
    def n_label(self) -> int:
        return len(self.label_names)

    @property
    def physical(self) -> bool:
        return isinstance(self.gen, PhysicalAdapter)

    def _arrays(self, flux, flux_err) -> dict[str, np.ndarray]:
        flux = np.atleast_2d(np.asarray(flux, dtype=np.float32))
        if flux.shape[-1] != self.wavelength.size:
            raise GapvizError(f"flux has {flux.shape[-1]} pixels, expected {self.wavelength.size} on model.wavelength")
        if flux_err is not None and np.shape(np.atleast_2d(flux_err)) != flux.shape:
            raise GapvizError(f"flux_err has shape {np.shape(flux_err)}, expected {flux.shape} like flux")
        d = self.config.data
        return prepare_arrays(flux, flux_err, d.sigma_floor, d.sigma_max)

    def _t(self, a: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(np.asarray(a), dtype=torch.float32, device=self.device)

    def _labels(self, labels) -> np.ndarray:
        labels = np.atleast_2d(np.asarray(labels, dtype=np.float64))
        if labels.shape[1] != self.n_label:
            raise GapvizError(f"labels have shape {labels.shape}, expected (n, {self.n_label}) in the order {self.label_names}")
        return labels

    @torch.no_grad()
    def _chunks(self, fn, *arrays) -> np.ndarray:
        n = arrays[0].shape[0]
        out = [fn(*[self._t(a[s : s + CHUNK]) for a in arrays]).float().cpu().numpy() for s in range(0, n, CHUNK)]
        return np.concatenate(out) if out else np.empty((0, self.wavelength.size), np.float32)

    @torch.no_grad()
    def _encode(self, flux, flux_err) -> tuple[torch.Tensor, torch.Tensor]:
        x = self._t(self._arrays(flux, flux_err)["flux"])
        zs, sps = zip(*[self.gen.encode_obs(x[s : s + CHUNK]) for s in range(0, x.shape[0], CHUNK)])
        return torch.cat(zs), torch.cat(sps)

    # --- the §5 interface ----------------------------------------------------------------------------
    def theory(self, labels) -> np.ndarray:
        """The plain theory (emulator) at labels (n, L) → flux (n, npix) float32."""
        return self.theory_fit.theory(self._labels(labels))

    def to_synthetic(self, flux, flux_err=None) -> np.ndarray:
        """Observed → its synthetic counterpart (n, npix) float32 (physical model: the theory at the encoded labels)."""
        x = self._arrays(flux, flux_err)["flux"]
        return self._chunks(lambda f: self.gen.decode_synth(self.gen.encode_obs(f)[0]), x)

    def adapted(self, flux, flux_err=None) -> np.ndarray:
        """The adapted model of each observed star (n, npix) float32: observed → synthetic counterpart →
        observed, with the star's own split latent (the map validated during training)."""
        x = self._arrays(flux, flux_err)["flux"]

        def run(f):  # through the synthetic counterpart, as trained and validated (obs → syn → obs)
            z, sp = self.gen.encode_obs(f)
            return self.gen.decode_obs(self.gen.encode_synth(self.gen.decode_synth(z)), sp)

        return self._chunks(run, x)

    def encoded_labels(self, flux, flux_err=None) -> np.ndarray:
        """Physical model: the labels (n, L) the observed encoder reads off each spectrum (no fit)."""
        if not self.physical:
            raise GapvizError("encoded_labels needs a physical-kind run; use fit_labels")
        z, _ = self._encode(flux, flux_err)
        return self.emulator.unscale(z.double()).cpu().numpy()

    def _forward_adapted(self, sp: torch.Tensor | None) -> "AdaptedForward":
        """labels (n, L) physical [+ z_sp columns] → adapted flux (n, npix), differentiable."""
        return AdaptedForward(self, sp)

    def fit_labels(self, flux, flux_err, **kw):
        """Labels of each star by χ² through the adapted model (gapviz.adapt.infer.fit_labels) → LabelFit.

        Physical model: the labels and the few split-latent numbers are fitted together (z_sp bounded to
        the range seen in training), starting from the encoder's reading; only the labels are returned.
        Reference model: z_sp is fixed at its population mean.
        """
        from gapviz.adapt.infer import fit_labels

        arrays = self._arrays(flux, flux_err)
        err = np.where(arrays["mask"] > 0, arrays["sigma"], np.nan)
        lo = self.emulator.label_min.cpu().numpy()
        hi = self.emulator.label_max.cpu().numpy()
        if self.physical:
            z, sp = self._encode(flux, flux_err)
            init = np.concatenate([self.emulator.unscale(z.double()).cpu().numpy(), sp.cpu().numpy()], axis=1)
            lo = np.concatenate([lo, self.split_min.numpy()])
            hi = np.concatenate([hi, self.split_max.numpy()])
            init = np.clip(init, lo, hi)
            kw.setdefault("n_starts", 4)
            fit = fit_labels(self._forward_adapted(None), arrays["flux"], err, lo, hi, init=init,
                             device=self.device, **kw)
            L = self.n_label
            fit.labels, fit.labels_err, fit.at_bound = fit.labels[:, :L], fit.labels_err[:, :L], fit.at_bound[:, :L]
        else:
            fit = fit_labels(self._forward_adapted(self.gen.split_mean[None]), arrays["flux"], err, lo, hi,
                             device=self.device, **kw)
        fit.label_names = list(self.label_names)
        return fit

    def fit_theory_labels(self, flux, flux_err, **kw):
        """Labels of each star by χ² through the theory (the emulator) alone → LabelFit
        (``gapviz.adapt.theory_fit.TheoryFit.fit_labels``)."""
        self._arrays(flux, flux_err)  # the same shape checks as every other map
        return self.theory_fit.fit_labels(flux, flux_err, **kw)

    def response(self, labels, flux, flux_err=None) -> tuple[np.ndarray, np.ndarray]:
        """(d_adapted, d_theory), each (n, L, npix) float32: ∂flux/∂label (flux per label unit) at each star's
        labels; the adapted model uses each star's own split latent (from its observed spectrum)."""
        labels = self._labels(labels)
        _, sp = self._encode(flux, flux_err)
        if labels.shape[0] != sp.shape[0]:
            raise GapvizError(f"labels have {labels.shape[0]} rows but flux has {sp.shape[0]}; one row per star")
        L = self.n_label
        d_ad, d_th = [], []
        for s in range(0, labels.shape[0], CHUNK):
            lab = torch.as_tensor(labels[s : s + CHUNK], dtype=torch.float32, device=self.device)
            f_ad = self._forward_adapted(sp[s : s + CHUNK])
            ja, jt = [], []
            for k in range(L):
                tangent = torch.zeros_like(lab)
                tangent[:, k] = 1.0
                ja.append(torch.func.jvp(f_ad, (lab,), (tangent,))[1])
                jt.append(torch.func.jvp(self.emulator, (lab,), (tangent,))[1])
            d_ad.append(torch.stack(ja, 1).detach().float().cpu().numpy())
            d_th.append(torch.stack(jt, 1).detach().float().cpu().numpy())
        return np.concatenate(d_ad), np.concatenate(d_th)


def load_adaptation(run_dir: str | os.PathLike, device: str | torch.device = "cpu") -> Adaptation:
    """Open a finished ``gapviz train`` run; GapvizError if RUN_DIR holds no (readable) model.pt."""
    run_dir = Path(run_dir)
    path = run_dir / "model.pt"
    if not path.is_file():
        what = "an unfinished run (resume it with gapviz train --resume)" if (run_dir / "checkpoint.pt").exists() \
            else "not a gapviz run directory"
        raise GapvizError(f"{run_dir}: no model.pt; {what}")
    payload = load_torch(path, "model")
    if not isinstance(payload, dict) or payload.get("format") != MODEL_FORMAT:
        raise GapvizError(f"{path}: not a gapviz adaptation model (expected format={MODEL_FORMAT!r})")
    if payload.get("format_version", 0) > MODEL_VERSION:
        raise GapvizError(f"{path}: model format {payload['format_version']} is newer than this gapviz reads")
    return Adaptation(payload, device, str(path))


class AdaptedForward:
    """The adapted model as the label fitter's forward: ``self(params)`` with params = labels (n, L) in
    physical units followed, where ``sp`` is None, by the fitted split-latent entries; ``tangents`` gives its
    Jacobian by hand for the physical adapter (``PhysicalAdapter.decode_obs_tangents``)."""

    def __init__(self, adaptation: Adaptation, sp: torch.Tensor | None):
        self.gen, self.emulator, self.n_label, self.sp = adaptation.gen, adaptation.emulator, adaptation.n_label, sp
        self.physical = adaptation.physical

    def _split(self, params: torch.Tensor) -> torch.Tensor:
        L = self.n_label
        return params[:, L:].float() if self.sp is None else self.sp.expand(params.shape[0], *self.sp.shape[1:])

    def __call__(self, params: torch.Tensor) -> torch.Tensor:
        labels = params[:, : self.n_label]
        if self.physical:
            return self.gen.decode_obs(self.emulator.scale(labels).float(), self._split(params))
        return self.gen.decode_obs(self.gen.encode_synth(self.emulator(labels)), self._split(params))

    def tangents(self, params: torch.Tensor, dparams_dz: torch.Tensor, pixel_weight: torch.Tensor | None = None):
        """(model (n, npix), d model / dz (n, P, npix) times ``pixel_weight`` (n, npix)) where d params / dz =
        ``dparams_dz`` (P,), for the physical adapter with fitted split entries; None otherwise (the fitter
        then uses autodiff)."""
        if not self.physical or self.sp is not None:
            return None
        L = self.n_label
        _, width = self.emulator._box(params[:, :L])
        z_sh = self.emulator.scale(params[:, :L]).float()
        return self.gen.decode_obs_tangents(z_sh, self._split(params), (dparams_dz[:L] / width).float(),
                                            dparams_dz[L:].float(), pixel_weight)
