"""The population fits of one window: χ², an added line, a known line's log gf change, BIC.

Data of a window: ``obs``, ``weight`` (1/flux_err², 0 where unusable), ``theory``: (stars, pixels) on pixels
``x`` (Å). Lines are the LineModel's: a Gaussian of σ (instrument + Doppler) whose weak-line peak optical depth
per star is given, saturated by the LineModel's curve of growth (``profiles.saturate``) and, where the store's
calibration has one, held above its depth ceiling D (a line alone: ``absorbed``; the calibrated LineModel's
lines are made so, and an added line fitted without D came out too weak: SME mock, README). Fits start from a
linearised amplitude (and, for an added line, a grid of shifts) and finish with
``scipy.optimize.least_squares``; the statistical 1σ error comes from the curvature (JᵀJ)⁻¹, scaled by
√max(1, χ²ν).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from scipy.optimize import least_squares

from gapviz.theory.profiles import flux_of, tau_of

#: Shifts of the starting grid of an added line.
N_SHIFT = 11
#: Bounds of a known line's log gf change (dex): a list's log gf is rarely off by more than a dex upwards (a far
#: stronger line is another line), and −2 dex is a line that is not there.
DELTA_RANGE = (-2.0, 1.0)
#: Bound (eV) of an added line's temperature-dependence nuisance (``fit_added``'s theta).
MAX_CHI_NUISANCE = 2.0


@dataclass(frozen=True)
class Fit:
    """One alternative's best fit: χ², log gf (or Δ) and its error, shift (Å), χ nuisance (eV)."""

    chi2: float
    value: float = np.nan
    error: float = np.nan
    shift: float = 0.0
    chi_shift: float = 0.0  # eV: the temperature-dependence nuisance of an added line (``fit_added``'s theta)


def absorbed(tau_linear: np.ndarray, log_k: float, depth_max: float | None = None) -> np.ndarray:
    """Flux of a pixel whose lines' summed weak-line optical depth is ``tau_linear`` (``profiles.flux_of``)."""
    with torch.no_grad():
        return flux_of(torch.as_tensor(np.asarray(tau_linear, dtype=np.float64)), log_k, depth_max).numpy()


def beneath(theory: np.ndarray, log_k: float, depth_max: float | None = None) -> np.ndarray:
    """The summed weak-line optical depth already at each pixel of ``theory`` (flux, any shape; 0 where it is
    ≥ 1; ``profiles.tau_of``): what a line added there saturates together with, as LineModel's lines do."""
    with torch.no_grad():
        return tau_of(torch.as_tensor(np.asarray(theory, dtype=np.float64)), log_k, depth_max).numpy()


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


def fit_added(obs, weight, theory, x, tau_unit, centre, sigma, max_shift, log_k, theta=None, *,
              joint: bool = False, depth_max: float | None = None, max_value: float | None = None) -> Fit:
    """Best log gf and shift of a line with per-star weak-line τ per unit gf ``tau_unit`` (S,) at ``centre`` ±
    max_shift; model = theory × absorbed(gf τ_unit g) (the line alone: exp(−saturate(·)), or with LineModel's
    depth ceiling ``depth_max`` where its calibration has one). obs, weight, theory: (S, P) on pixels x (P,).
    Fit.value = log gf, Fit.shift = Δλ (Å). Start: a grid of shifts with the linearised weak-line amplitude.

    ``joint``: the line saturates together with the absorption τ0 the theory already has at each pixel, as the
    lines of one pixel do in LineModel: model = theory × absorbed(τ0 + gf τ_unit g) / absorbed(τ0), τ0 =
    ``beneath(theory)``. Right where the theory is LineModel itself (``gapviz repair --theory linemodel``);
    alone (the default), a line added in a blend takes as much light as if it were isolated.

    ``max_shift`` ≤ 0: the line's position is known (a listed transition's): it is not fitted (Fit.shift = 0),
    and the fit has one parameter fewer.

    ``max_value``: an upper bound on Fit.value (a listed line's log gf change: ``DELTA_RANGE``'s, for a line of a
    reference list, whose log gf is known to within that).

    A blend: ``tau_unit`` (S, K), ``centre`` and ``sigma`` (K,): the K lines keep their τ ratios and separations
    and are scaled and shifted together (τ summed per pixel before saturating, as LineModel does); Fit.value is
    then log10 of the common factor.

    ``theta`` (S,) (5040 K / teff of the stars): the line's temperature dependence is a nuisance too: τ_unit ×
    10^(−Δχ (θ − θ̃)), θ̃ the stars' median, |Δχ| ≤ ``MAX_CHI_NUISANCE`` eV (Fit.chi_shift). The line's
    strength at θ̃ and so its log gf at its own χ are unchanged by it: a line whose χ is known is not made to
    lose to another one only because the theory's temperature dependence (or the labels) is off.
    """
    tau_unit = np.asarray(tau_unit, dtype=np.float64)
    tau_unit = tau_unit[:, None] if tau_unit.ndim == 1 else tau_unit  # (S, K)
    centre = np.atleast_1d(np.asarray(centre, dtype=np.float64))
    sigma = np.atleast_1d(np.asarray(sigma, dtype=np.float64))

    def profile(shift: float) -> np.ndarray:  # (S, P): Σ_k τ_k g_k
        return tau_unit @ _gauss(x[None, :], centre[:, None] + shift, sigma[:, None])

    sw = np.sqrt(weight)
    resid = obs - theory
    base = chi2(obs, weight, theory)
    if joint:
        tau0 = beneath(theory, log_k, depth_max)
        flux0 = np.maximum(absorbed(tau0, log_k, depth_max), 1e-6)
        transmission = lambda tau: absorbed(tau0 + tau, log_k, depth_max) / flux0
        slope = (1.0 - transmission(1e-4)) / 1e-4  # −d T / dτ at τ0: the weak line's share of the light there
    else:
        transmission = lambda tau: absorbed(tau, log_k, depth_max)
        slope = 1.0
    fixed = max_shift <= 0
    shifts = np.zeros(1) if fixed else np.linspace(-max_shift, max_shift, N_SHIFT)
    unit = np.stack([theory * slope * profile(d) for d in shifts])  # (J, S, P): −d model / d(gf), weak line
    num = np.einsum("sp,jsp->j", weight * -resid, unit)
    den = np.einsum("sp,jsp->j", weight, unit**2)
    amp = np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.0)
    gain = np.where(amp > 0, num**2 / np.where(den > 0, den, 1.0), 0.0)
    best = int(np.argmax(gain))
    if gain[best] <= 0:
        return Fit(base)
    dtheta = None if theta is None else np.asarray(theta, dtype=np.float64) - float(np.median(theta))
    # parameters: log gf, then the shift (unless fixed), then Δχ (with theta)
    start = [math.log10(amp[best])] + ([] if fixed else [shifts[best]]) + ([] if dtheta is None else [0.0])
    top = start[0] + 5.0
    if max_value is not None:
        start[0], top = min(start[0], max_value), max_value
    i_chi = 1 if fixed else 2

    def residual(p):
        tau = 10.0 ** p[0] * profile(0.0 if fixed else p[1])
        if dtheta is not None:
            tau = tau * 10.0 ** (-p[i_chi] * dtheta)[:, None]
        return (sw * (obs - theory * transmission(tau))).ravel()

    lo, hi, scale = [start[0] - 3.0], [top], [0.1]
    if not fixed:
        lo, hi, scale = lo + [-max_shift], hi + [max_shift], scale + [float(np.min(sigma))]
    if dtheta is not None:
        lo, hi, scale = lo + [-MAX_CHI_NUISANCE], hi + [MAX_CHI_NUISANCE], scale + [0.2]
    lo, hi = np.array(lo), np.array(hi)
    res = least_squares(residual, np.clip(np.array(start), lo + 1e-9, hi - 1e-9), bounds=(lo, hi),
                        x_scale=np.array(scale), diff_step=1e-4, method="trf")
    value = float(np.sum(res.fun**2))
    err = _error(res.jac, value, int(np.count_nonzero(weight)), len(start))
    return Fit(value, float(res.x[0]), float(err[0]), 0.0 if fixed else float(res.x[1]),
               0.0 if dtheta is None else float(res.x[i_chi]))


def fit_recalibrated(obs, weight, theory, x, tau_known, line_wavelength, sigma, log_k,
                     depth_max: float | None = None) -> Fit:
    """Best log gf change Δ of a known line with per-star weak-line τ ``tau_known`` (S,) at ``line_wavelength``:
    model = theory × absorbed(10^Δ τ g) / absorbed(τ g) (``absorbed``: the line alone, with LineModel's depth
    ceiling ``depth_max`` where there is one). Start: the linearised weak-line change."""
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
    now = absorbed(shape, log_k, depth_max)

    def residual(p):
        return (sw * (obs - theory * absorbed(10.0 ** p[0] * shape, log_k, depth_max) / now)).ravel()

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
