"""A theory seen through a broader line-spread function: the Gaussian the observed spectra have beyond it.

A theory is computed at one resolving power (the instrument's nominal one, ``gapviz.instrument.RESOLUTION``),
but the stars are observed through their own line-spread function (APOGEE's varies from fibre to fibre, and
macroturbulence broadens every line alike). Fitting labels through a sharper theory reads the shallower,
wider lines as other labels. ``Broadened`` convolves a theory's flux with a Gaussian of FWHM
``fwhm_kms`` (km/s, the quadrature difference of the two profiles), pixel by pixel on any wavelength grid
(the kernel is evaluated in Å at each pixel, so gaps between chips and non-uniform grids are handled; each
row is normalised over the pixels it reaches, so a grid's edges keep their level).

``extra_fwhm_kms`` and ``observed_resolution`` convert between the extra FWHM and the resolving power of the
observations: R_obs = 1 / √(1/R_theory² + (FWHM/c)²).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from gapviz.errors import GapvizError
from gapviz.instrument import FWHM_TO_SIGMA
from gapviz.theory.profiles import C_KMS

#: Kernel half-width in Gaussian σ.
KERNEL_SIGMAS = 4.0


def extra_fwhm_kms(resolution_theory: float, resolution_observed: float) -> float:
    """FWHM (km/s) of the Gaussian that takes a profile at ``resolution_theory`` to ``resolution_observed``
    (0 when the observations are as sharp as the theory or sharper)."""
    q = 1.0 / resolution_observed**2 - 1.0 / resolution_theory**2
    return float(C_KMS * np.sqrt(q)) if q > 0 else 0.0


def observed_resolution(resolution_theory: float, fwhm_kms: float) -> float:
    """The resolving power of a profile at ``resolution_theory`` broadened by a Gaussian of ``fwhm_kms``."""
    return float(1.0 / np.sqrt(1.0 / resolution_theory**2 + (fwhm_kms / C_KMS) ** 2))


def kernel(wavelength: np.ndarray, fwhm_kms: float) -> tuple[np.ndarray, np.ndarray]:
    """(index (P, K) int, weight (P, K)): the broadened flux at pixel p is Σ_k weight[p, k] · flux[index[p, k]]."""
    wavelength = np.asarray(wavelength, dtype=np.float64)
    if fwhm_kms < 0 or not np.isfinite(fwhm_kms):
        raise GapvizError(f"the broadening FWHM must be a finite number ≥ 0 km/s, got {fwhm_kms}")
    if wavelength.ndim != 1 or wavelength.size < 2 or np.any(np.diff(wavelength) <= 0):
        raise GapvizError("the wavelength grid must be one increasing axis of at least 2 pixels")
    sigma = wavelength * fwhm_kms * FWHM_TO_SIGMA / C_KMS  # Å at each pixel
    if fwhm_kms == 0:
        return np.arange(wavelength.size)[:, None], np.ones((wavelength.size, 1))
    step = np.minimum(np.diff(wavelength, prepend=-np.inf), np.diff(wavelength, append=np.inf))
    half = int(np.ceil(np.max(KERNEL_SIGMAS * sigma / step)))
    offsets = np.arange(-half, half + 1)
    index = np.arange(wavelength.size)[:, None] + offsets[None, :]
    inside = (index >= 0) & (index < wavelength.size)
    index = np.clip(index, 0, wavelength.size - 1)
    d = (wavelength[index] - wavelength[:, None]) / sigma[:, None]
    weight = np.where(inside & (np.abs(d) <= KERNEL_SIGMAS), np.exp(-0.5 * d**2), 0.0)
    # a pixel's weight is the wavelength span it covers, so a non-uniform grid integrates right
    width = np.gradient(wavelength)[index]
    weight = weight * width
    return index, weight / weight.sum(axis=1, keepdims=True)


class Broadened(nn.Module):
    """``inner`` (labels → flux on ``wavelength``) convolved with a Gaussian of ``fwhm_kms`` (module doc);
    keeps the emulator's attributes (``label_names``, ``n_pix``, ``label_min``, ``label_max``) so the label
    fitters take it as a theory."""

    def __init__(self, inner: nn.Module, wavelength: np.ndarray, fwhm_kms: float):
        super().__init__()
        self.inner, self.fwhm_kms = inner, float(fwhm_kms)
        self.label_names = list(inner.label_names)
        self.n_pix = inner.n_pix
        self.label_min, self.label_max = inner.label_min, inner.label_max
        if np.size(wavelength) != self.n_pix:
            raise GapvizError(f"the wavelength grid has {np.size(wavelength)} pixels, the theory {self.n_pix}")
        index, weight = kernel(wavelength, fwhm_kms)
        self.register_buffer("index", torch.as_tensor(index, dtype=torch.long), persistent=False)
        self.register_buffer("weight", torch.as_tensor(weight, dtype=torch.float32), persistent=False)

    def forward(self, labels: torch.Tensor) -> torch.Tensor:
        flux = self.inner(labels)
        index, weight = self.index.to(flux.device), self.weight.to(device=flux.device, dtype=flux.dtype)
        return (flux[..., index] * weight).sum(-1)
