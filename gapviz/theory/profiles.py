"""Line widths, the Doppler curve of growth and the sparse Gaussian profile matrix of the line model.

All wavelengths in Å; widths are Gaussian σ (Å) unless named ``b`` (Doppler parameter, σ·√2).
"""

from __future__ import annotations

import math
import warnings
from functools import lru_cache

import numpy as np
import torch
from scipy.integrate import trapezoid
from scipy.special import voigt_profile

# the speed of light lives in gapviz.instrument; gapviz.theory's modules import it from here too
from gapviz.instrument import C_KMS

K_BOLTZMANN = 1.380649e-16  # erg/K
AMU = 1.66053907e-24  # g


def doppler_b(wavelength: np.ndarray, mass_amu: np.ndarray, teff: float, microturbulence: float) -> np.ndarray:
    """(nline,) Doppler parameter b (Å): thermal at ``teff`` (K) for ``mass_amu`` plus microturbulence (km/s)."""
    v_thermal = np.sqrt(2.0 * K_BOLTZMANN * teff / (np.asarray(mass_amu) * AMU)) / 1e5
    return np.asarray(wavelength) * np.sqrt(v_thermal**2 + microturbulence**2) / C_KMS


#: Voigt damping parameter a = Γ / (4π Δν_D) of the curve of growth: typical of van der Waals-broadened
#: H-band metal lines in giants; gives strong lines their square-root (damping-wing) growth.
DAMPING_A = 0.02


@lru_cache(maxsize=4)
def cog_table(a: float = DAMPING_A) -> tuple[np.ndarray, np.ndarray]:
    """log10 τ0 grid and log10 F(τ0), F = W / (√π b) = (1/√π)∫(1 − exp(−τ0 H(a, x)/H(a, 0))) dx.

    H is the Voigt function; the exact curve of growth that ``COG_FIT`` approximates (used by the tests).
    """
    log_tau = np.linspace(-4.0, 10.0, 281)
    half = np.concatenate([np.linspace(0.0, 8.0, 401)[:-1], np.geomspace(8.0, 1e6, 800)])
    x = np.concatenate([-half[:0:-1], half])
    shape = voigt_profile(x, 1.0 / np.sqrt(2.0), a) / voigt_profile(0.0, 1.0 / np.sqrt(2.0), a)
    tau = 10.0 ** log_tau[:, None]
    f = trapezoid(-np.expm1(-tau * shape[None, :]), x, axis=1) / math.sqrt(math.pi)
    return log_tau, np.log10(f)


#: (a, b, g) of R(x) = F(x)/x ≈ (1 + a x + b x² / (1 + g x))^(−1/2), least-squares fit to ``cog_table()``
#: for τ0 = 1e-3 ... 1e7 (max error 0.013 dex; exact weak-line limit R → 1, damping limit R ∝ x^(−1/2)).
COG_FIT = (0.67507, 0.17896, 0.0085156)


def saturation_factor(x: torch.Tensor) -> torch.Tensor:
    """R(τ0) = F(τ0) / τ0 in (0, 1], closed-form fit to the Voigt curve of growth; τ0 ≥ 0, any shape."""
    a, b, g = COG_FIT
    x = torch.clamp(x, max=1e30)
    gx = g * x
    return torch.rsqrt(1.0 + x * (a + (b / g) * gx / (1.0 + gx)))  # b x² / (1 + g x), without overflow


def saturate(tau_linear: torch.Tensor, log_k: float) -> torch.Tensor:
    """Observed optical depth of lines whose weak-line (linear) observed optical depth is ``tau_linear``.

    k = √2 σ / b is the ratio of observed to intrinsic width: an isolated line of intrinsic centre depth
    τ0 = k τ_linear shows an observed peak F(τ0) / k (same equivalent width). Any shape; zeros stay zero.
    """
    return tau_linear * saturation_factor(tau_linear * 10.0**log_k)


@lru_cache(maxsize=1)
def _unsaturation_table() -> tuple[torch.Tensor, torch.Tensor]:
    """log10 u and log10 F(u) = log10(u R(u)) on a dense grid (F rises monotonically): ``unsaturate``'s table."""
    log_u = torch.linspace(-10.0, 16.0, 10401, dtype=torch.float64)
    u = torch.pow(10.0, log_u)
    return log_u, torch.log10(u * saturation_factor(u))


def unsaturate(tau_observed: torch.Tensor, log_k: float) -> torch.Tensor:
    """The weak-line optical depth whose ``saturate`` is ``tau_observed`` (≥ 0, any shape, float64): the curve of
    growth inverted by interpolation in log (relative error < 1e-4). Zeros stay zero."""
    log_u, log_f = _unsaturation_table()
    k = 10.0**log_k
    t = torch.as_tensor(tau_observed, dtype=torch.float64)
    target = torch.clamp(torch.log10(torch.clamp(t * k, min=1e-300)), float(log_f[0]), float(log_f[-1]))
    j = torch.clamp(torch.searchsorted(log_f, target.reshape(-1)), 1, log_f.numel() - 1).reshape(target.shape)
    w = (target - log_f[j - 1]) / (log_f[j] - log_f[j - 1])
    out = torch.pow(10.0, log_u[j - 1] + w * (log_u[j] - log_u[j - 1])) / k
    return torch.where(t > 0, out, torch.zeros_like(out))


def flux_of(tau_linear: torch.Tensor, log_k: float, depth_max: float | None = None) -> torch.Tensor:
    """Flux of a pixel whose lines' summed weak-line optical depth is ``tau_linear``: exp(−saturate(τ)), or, with
    a depth ceiling D (LineModel's calibration: a core cannot go darker than 1 − D, its source function),
    1 + D expm1(−saturate(τ) / D). LineModel's flux is this of its pixels' summed τ."""
    observed = saturate(torch.as_tensor(tau_linear), log_k)
    if depth_max is None:
        return torch.exp(-observed)
    return 1.0 + depth_max * torch.expm1(-observed / depth_max)


def tau_of(flux: torch.Tensor, log_k: float, depth_max: float | None = None) -> torch.Tensor:
    """The inverse of ``flux_of`` (float64): the summed weak-line optical depth that makes ``flux`` (any shape;
    flux ≥ 1 gives 0, a core darker than the ceiling allows is clipped just inside it)."""
    flux = torch.as_tensor(flux, dtype=torch.float64)
    if depth_max is None:
        observed = -torch.log(torch.clamp(flux, min=1e-6, max=1.0))
    else:
        depth = torch.clamp(1.0 - flux, min=0.0, max=0.999 * depth_max)
        observed = -depth_max * torch.log1p(-depth / depth_max)
    return unsaturate(observed, log_k)


def _profile_entries(grid: np.ndarray, centre: np.ndarray, sigma: np.ndarray, nsigma: float):
    """(pixel index, line index, value) of unit-peak Gaussians cut at ±nsigma σ."""
    lo = np.searchsorted(grid, centre - nsigma * sigma)
    hi = np.searchsorted(grid, centre + nsigma * sigma)
    line_idx = np.repeat(np.arange(centre.size), hi - lo)
    starts = np.repeat(lo - np.cumsum(np.r_[0, (hi - lo)[:-1]]), hi - lo)
    pix_idx = np.arange(line_idx.size) + starts if line_idx.size else np.zeros(0, dtype=np.int64)
    values = np.exp(-0.5 * ((grid[pix_idx] - centre[line_idx]) / sigma[line_idx]) ** 2)
    return pix_idx, line_idx, values


def _sparse_csr(rows: np.ndarray, cols: np.ndarray, values: np.ndarray, shape, dtype) -> torch.Tensor:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's "sparse CSR is beta" notice
        coo = torch.sparse_coo_tensor(
            torch.as_tensor(np.stack([rows, cols])), torch.as_tensor(values, dtype=dtype), shape
        ).coalesce()
        return coo.to_sparse_csr()


def gaussian_profile_matrix(
    grid: np.ndarray, centre: np.ndarray, sigma: np.ndarray, nsigma: float, dtype: torch.dtype
) -> torch.Tensor:
    """Sparse CSR (npix, nline): unit-peak Gaussians exp(−½((λ − λ_l)/σ_l)²) cut at ±nsigma σ_l."""
    pix, line, values = _profile_entries(grid, centre, sigma, nsigma)
    return _sparse_csr(pix, line, values, (grid.size, centre.size), dtype)


def binned_profile_matrix(
    grid: np.ndarray, centre: np.ndarray, sigma: np.ndarray, nsigma: float,
    columns: tuple[np.ndarray, np.ndarray], weights: tuple[np.ndarray, np.ndarray], ncolumn: int, dtype: torch.dtype,
) -> torch.Tensor:
    """Sparse CSR (npix, ncolumn): each line's unit-peak Gaussian added to two columns with two weights.

    columns, weights: ((nline,), (nline,)) each; used to sum lines that share a strength (the line model's
    species × excitation-energy nodes), so that a batch needs one strength per column, not per line.
    """
    pix, line, values = _profile_entries(grid, centre, sigma, nsigma)
    rows = np.concatenate([pix, pix])
    cols = np.concatenate([columns[0][line], columns[1][line]])
    vals = np.concatenate([values * weights[0][line], values * weights[1][line]])
    keep = vals != 0
    return _sparse_csr(rows[keep], cols[keep], vals[keep], (grid.size, ncolumn), dtype)
