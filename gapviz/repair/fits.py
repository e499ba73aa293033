"""The population fits of one window: χ², an added line, a known line's log gf change, BIC.

Data of a window: ``obs``, ``weight`` (1/flux_err², 0 where unusable), ``theory``: (stars, pixels) on pixels
``x`` (Å). Lines are the LineModel's: a Gaussian of σ (instrument + Doppler) whose weak-line peak optical depth
per star is given, saturated by the LineModel's curve of growth (``saturated``). Fits start from a linearised
amplitude (and, for an added line, a grid of shifts) and finish with ``scipy.optimize.least_squares``; the
statistical 1σ error comes from the curvature (JᵀJ)⁻¹, scaled by √max(1, χ²ν).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from scipy.optimize import least_squares

from gapviz.theory.profiles import saturate

#: Shifts of the starting grid of an added line.
N_SHIFT = 11
#: Bounds of a known line's log gf change (dex): a list's log gf is rarely off by more than a dex upwards (a far
#: stronger line is another line), and −2 dex is a line that is not there.
DELTA_RANGE = (-2.0, 1.0)


@dataclass(frozen=True)
class Fit:
    """One alternative's best fit: χ², log gf (or Δ) and its error, shift (Å)."""

    chi2: float
    value: float = np.nan
    error: float = np.nan
    shift: float = 0.0


def saturated(tau_linear: np.ndarray, log_k: float) -> np.ndarray:
    """Observed optical depth of an isolated line whose weak-line optical depth is ``tau_linear`` (any shape):
    the LineModel's curve of growth (``gapviz.theory.profiles.saturate``), per pixel."""
    with torch.no_grad():
        return saturate(torch.as_tensor(np.asarray(tau_linear, dtype=np.float64)), log_k).numpy()


def chi2(obs: np.ndarray, weight: np.ndarray, model: np.ndarray) -> float:
    """Σ weight (obs − model)² (weight = 1/flux_err², 0 where unusable)."""
    return float(np.sum(weight * (obs - model) ** 2))


def _gauss(x: np.ndarray, centre: float, sigma: float) -> np.ndarray:
    return np.exp(-0.5 * ((x - centre) / sigma) ** 2)


def _error(jac: np.ndarray, chi2_value: float, n_points: int, k: int) -> np.ndarray:
    """(k,) 1σ errors from the curvature (JᵀJ)⁻¹, scaled by √max(1, χ²ν)."""
    try:
        cov = np.linalg.inv(jac.T @ jac)
    except np.linalg.LinAlgError:
        return np.full(k, np.nan)
    scale = max(1.0, chi2_value / max(n_points - k, 1))
    return np.sqrt(np.clip(np.diag(cov), 0.0, None) * scale)


def fit_added(obs, weight, theory, x, tau_unit, centre, sigma, max_shift, log_k) -> Fit:
    """Best log gf and shift of a line with per-star weak-line τ per unit gf ``tau_unit`` (S,) at ``centre`` ±
    max_shift; model = theory × exp(−saturated(gf τ_unit g)). obs, weight, theory: (S, P) on pixels x (P,).
    Fit.value = log gf, Fit.shift = Δλ (Å). Start: a grid of shifts with the linearised weak-line amplitude.
    """
    sw = np.sqrt(weight)
    resid = obs - theory
    base = chi2(obs, weight, theory)
    shifts = np.linspace(-max_shift, max_shift, N_SHIFT)
    g = _gauss(x[None, :], centre + shifts[:, None], sigma)  # (J, P)
    unit = theory[None] * tau_unit[None, :, None] * g[:, None, :]  # (J, S, P): −d model / d(gf), weak line
    num = np.einsum("sp,jsp->j", weight * -resid, unit)
    den = np.einsum("sp,jsp->j", weight, unit**2)
    amp = np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.0)
    gain = np.where(amp > 0, num**2 / np.where(den > 0, den, 1.0), 0.0)
    best = int(np.argmax(gain))
    if gain[best] <= 0:
        return Fit(base)
    start = np.array([math.log10(amp[best]), shifts[best]])

    def residual(p):
        tau = 10.0 ** p[0] * tau_unit[:, None] * _gauss(x[None, :], centre + p[1], sigma)
        return (sw * (obs - theory * np.exp(-saturated(tau, log_k)))).ravel()

    lo, hi = np.array([start[0] - 3.0, -max_shift]), np.array([start[0] + 5.0, max_shift])
    res = least_squares(residual, np.clip(start, lo + 1e-9, hi - 1e-9), bounds=(lo, hi),
                        x_scale=np.array([0.1, sigma]), diff_step=1e-4, method="trf")
    value = float(np.sum(res.fun**2))
    err = _error(res.jac, value, int(np.count_nonzero(weight)), 2)
    return Fit(value, float(res.x[0]), float(err[0]), float(res.x[1]))


def fit_recalibrated(obs, weight, theory, x, tau_known, line_wavelength, sigma, log_k) -> Fit:
    """Best log gf change Δ of a known line with per-star weak-line τ ``tau_known`` (S,) at ``line_wavelength``:
    model = theory × exp(−(saturated(10^Δ τ g) − saturated(τ g))). Start: the linearised weak-line change."""
    sw = np.sqrt(weight)
    resid = obs - theory
    shape = tau_known[:, None] * _gauss(x, line_wavelength, sigma)[None, :]  # (S, P)
    unit = theory * shape
    den = float(np.sum(weight * unit**2))
    if den <= 0:
        return Fit(chi2(obs, weight, theory))
    amp = float(np.sum(weight * -resid * unit)) / den  # 10^Δ − 1, linearised
    lo, hi = DELTA_RANGE
    start = float(np.clip(math.log10(max(1.0 + amp, 10.0**lo)), lo + 1e-6, hi - 1e-6))
    now = saturated(shape, log_k)

    def residual(p):
        return (sw * (obs - theory * np.exp(-(saturated(10.0 ** p[0] * shape, log_k) - now)))).ravel()

    res = least_squares(residual, [start], bounds=([lo], [hi]), x_scale=[0.1], diff_step=1e-4, method="trf")
    value = float(np.sum(res.fun**2))
    err = _error(res.jac, value, int(np.count_nonzero(weight)), 1)
    return Fit(value, float(res.x[0]), float(err[0]))


def bic(chi2_value: float, k: int, n_points: int) -> float:
    """χ² + k ln(n_points) (NaN χ² stays NaN)."""
    return chi2_value + k * math.log(max(n_points, 1))


def bic_params(bic_value: float, chi2_value: float, n_points: int) -> int:
    """The parameter count k that ``bic`` charged: (BIC − χ²) / ln(n_points), rounded (0 for n_points ≤ 1)."""
    return round((bic_value - chi2_value) / math.log(n_points)) if n_points > 1 else 0
