"""Validation on held-out observed stars: how well each map reproduces them (median χ²ν).

* ``theory``       the plain theory: the emulator at each star's best-fit labels (fit_labels)
* ``obs_syn_obs``  observed → synthetic counterpart → observed, with the star's own z_sp (the cycle)
* ``syn_obs``      synthetic → observed: the theory at the star's best-fit labels (a synthetic spectrum made
                   without our encoders) → synthetic encoder → observed decoder with the star's own z_sp
* ``syn_obs_split_mean`` synthetic counterpart → observed with z_sp at its population mean: only the labels
                   come from the observed spectrum, so this shows what the adaptation closes without copying
χ²ν uses the training σ (flux_err floored, σ > sigma_max masked) and dof = usable pixels − number of labels.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from gapviz.adapt.data import Batch
from gapviz.adapt.losses import chi2nu_per_star


def fit_theory(emulator: nn.Module, val: Batch, device: torch.device, n_starts: int = 8) -> np.ndarray:
    """Best-fit labels (n, L), physical units, of the validation stars through the plain emulator."""
    from gapviz.adapt.infer import fit_labels

    err = torch.where(val.mask > 0, val.sigma, torch.full_like(val.sigma, float("nan")))
    fit = fit_labels(emulator, val.flux.numpy(), err.numpy(), emulator.label_min.cpu().numpy(),
                     emulator.label_max.cpu().numpy(), n_starts=n_starts, device=device)
    return fit.labels


@torch.no_grad()
def validation_chi2nu(gen: nn.Module, val: Batch, theory_flux: torch.Tensor, n_label: int,
                      batch_size: int = 256) -> dict[str, float]:
    """Median χ²ν of each map on ``val`` (see module doc); ``theory_flux`` (n, npix) at the best-fit labels."""
    was_training = gen.training
    gen.eval()
    parts: dict[str, list[torch.Tensor]] = {k: [] for k in ("theory", "obs_syn_obs", "syn_obs", "syn_obs_split_mean")}
    for s in range(0, len(val), batch_size):
        b = Batch(val.flux[s : s + batch_size], val.sigma[s : s + batch_size], val.mask[s : s + batch_size])
        th = theory_flux[s : s + batch_size]
        z_o, sp = gen.encode_obs(b.flux)
        z_cp = gen.encode_synth(gen.decode_synth(z_o))  # the synthetic counterpart, read by the synthetic encoder
        maps = {"theory": th, "obs_syn_obs": gen.decode_obs(z_cp, sp),
                "syn_obs": gen.decode_obs(gen.encode_synth(th), sp),
                "syn_obs_split_mean": gen.decode_obs(z_cp, gen.split_mean.expand_as(sp))}
        for k, m in maps.items():
            parts[k].append(chi2nu_per_star(m.float(), b.flux, b.sigma, b.mask, n_label))
    gen.train(was_training)
    return {k: float(torch.cat(v).median()) for k, v in parts.items()}


def chi2nu_at_fitted_labels(payload: dict, val) -> float:
    """Median χ²ν of the synthetic→observed map at labels fitted through the adapted model (the label
    inference of gapviz.adapt.model.Adaptation.fit_labels) on the held-out observed stars."""
    from gapviz.adapt.model import Adaptation

    model = Adaptation(payload, "cpu" if val.flux.device.type == "cpu" else val.flux.device)
    err = torch.where(val.mask > 0, val.sigma, torch.full_like(val.sigma, float("nan")))
    fit = model.fit_labels(val.flux.cpu().numpy(), err.cpu().numpy())
    return float(np.median(fit.chi2nu))
