"""Loss terms of the adaptation, each a pure function of tensors.

χ² terms compare a model flux with a target flux using an effective σ: the flux error floored at
``sigma_floor`` (0.005 in normalised flux), with pixels whose error exceeds ``sigma_max`` (0.05), or whose
flux or error is not finite, masked out (weight 0). Synthetic spectra have no error: σ = the floor.
"""

from __future__ import annotations

import torch

from gapviz.stats import degrees_of_freedom


def effective_sigma(flux: torch.Tensor, flux_err: torch.Tensor | None, sigma_floor: float, sigma_max: float
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    """(flux (n, npix), flux_err or None) → (sigma (n, npix) ≥ floor, mask (n, npix) float 1 = usable).

    Unusable pixels get sigma = 1 (any finite value: their weight is 0).
    """
    if flux_err is None:
        flux_err = torch.full_like(flux, sigma_floor)
    ok = torch.isfinite(flux) & torch.isfinite(flux_err) & (flux_err > 0) & (flux_err <= sigma_max)
    sigma = torch.where(ok, flux_err.clamp_min(sigma_floor), torch.ones_like(flux_err))
    return sigma, ok.to(flux.dtype)


def masked_chi2(model: torch.Tensor, flux: torch.Tensor, sigma: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean χ² per usable pixel over the batch: Σ mask·((model − flux)/σ)² / Σ mask (a scalar)."""
    r = torch.where(mask > 0, (model - torch.nan_to_num(flux)) / sigma, torch.zeros_like(model))
    return (mask * r**2).sum() / mask.sum().clamp_min(1.0)


def chi2nu_per_star(model: torch.Tensor, flux: torch.Tensor, sigma: torch.Tensor, mask: torch.Tensor,
                    n_param: int = 0) -> torch.Tensor:
    """(n,) reduced χ² of each star: Σ_pix mask·r² / degrees of freedom (``gapviz.stats``: usable pixels −
    n_param, at least 1), the torch twin of ``gapviz.stats.chi2nu``."""
    r = torch.where(mask > 0, (model - torch.nan_to_num(flux)) / sigma, torch.zeros_like(model))
    dof = degrees_of_freedom(mask.sum(1), n_param)
    return (mask * r**2).sum(1) / dof


def label_loss(z: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared difference of scaled labels (n, L) (the emulator's [-0.5, 0.5] box)."""
    return ((z - target) ** 2).mean()


def correction_penalty(delta: torch.Tensor, sigma: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean (δ/σ)² over usable pixels: the correction costs what it would cost as a residual."""
    return masked_chi2(delta, torch.zeros_like(delta), sigma, mask)


def split_penalty(z_sp: torch.Tensor) -> torch.Tensor:
    """Mean z_sp²: keeps the split latent small, so it cannot carry the spectrum."""
    return (z_sp**2).mean()


def discriminator_loss(real: torch.Tensor, fake: torch.Tensor, kind: str) -> torch.Tensor:
    """Loss of a discriminator given its logits on real (n,) and fake (m,) samples."""
    if kind == "lsgan":
        return 0.5 * (((real - 1) ** 2).mean() + (fake**2).mean())
    if kind == "hinge":
        return torch.relu(1 - real).mean() + torch.relu(1 + fake).mean()
    if kind == "bce":
        bce = torch.nn.functional.binary_cross_entropy_with_logits
        return bce(real, torch.ones_like(real)) + bce(fake, torch.zeros_like(fake))
    raise ValueError(kind)


def generator_loss(fake: torch.Tensor, kind: str) -> torch.Tensor:
    """Loss of a generator whose fakes the discriminator scored ``fake`` (m,)."""
    if kind == "lsgan":
        return 0.5 * ((fake - 1) ** 2).mean()
    if kind == "hinge":
        return -fake.mean()
    if kind == "bce":
        return torch.nn.functional.binary_cross_entropy_with_logits(fake, torch.ones_like(fake))
    raise ValueError(kind)
