"""Wrong damping of a known strong line: residual wings around it, fitted over the population.

A strong line whose van der Waals damping the list gets wrong keeps its saturated core but has wings that
are too weak (or too strong) over several resolution elements on both sides: the finder sees a dip (or a
bump) beside or under the line, often two. The LineModel has Gaussian profiles and so no wings to scale;
the alternative is a wing template fitted on its own, 2 parameters (amplitude A, both signs, and width γ):

    model = theory × exp(−A s W(λ)),   W(λ) = γ² / ((λ − λ0)² + γ²) × (1 − g(λ; λ0, σ)),

with λ0 and σ the known line's position and Gaussian core σ (the core is left out of the template: a
saturated core barely changes with damping) and s = √(τ_s / median τ) per star (a damping wing grows with
√(N gf γ)). The fit is made on a wide window of ±``WING_ELEMENTS`` resolution elements around the line, where
the other alternatives are compared on the same pixels (their χ² gain comes from the candidate's window, and
a Gaussian line or core change does nothing beyond it).

Which lines may be damped is judged against the other strong lines, as log gf are (``recalibrate``): every
known line deeper than ``WING_MIN_DEPTH`` gets the template's linearised amplitude at a fixed width
(``NULL_GAMMA`` resolution elements); an instrument whose line-spread function differs from the theory's
puts wing-like residuals around *every* strong line, so only a line whose amplitude stands out from the
others' (robust z > ``Z_CHANGE`` over all of them, at least ``MIN_NULL_LINES``: strong lines are few and
candidates lie near most of them, so none are set aside) may get the damping explanation. Measured on the
SME mock (13 lines deeper than 25 %): the two lines given wrong damping have z −0.3 and +0.7 at γ = 1
element, inside the others' scatter (robust σ 0.026 in optical depth): not recognised there.

The list does not get a new damping constant from this: LineModel cannot translate a wing amplitude into
log γ6 (that needs a synthesis code). The line is marked ``change = damping`` with the fitted wing depth
at λ0 ± γ and γ as evidence; its log gf stays.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import least_squares

from gapviz.instrument import resolution_element
from gapviz.repair.fits import Fit, chi2
from gapviz.repair.population import Lines, Population
from gapviz.repair.recalibrate import MIN_NULL_LINES, Z_CHANGE
from gapviz.stats import robust_sigma

#: Known lines deeper than this (median over the stars) can show damping wings.
WING_MIN_DEPTH = 0.25
#: Half-width of the wing window, in resolution elements; a candidate this close to such a line may be its wings.
WING_ELEMENTS = 6.0
#: Starting widths γ of the wing template, in resolution elements.
GAMMA_START = (0.5, 1.0, 2.0)
#: Bounds of γ, in resolution elements.
GAMMA_RANGE = (0.2, 4.0)
#: Width of the template (resolution elements) for the test against the other strong lines.
NULL_GAMMA = 1.0


def wing_template(x: np.ndarray, centre: float, gamma: float, sigma: float) -> np.ndarray:
    """W(λ) of the module docstring (unit peak Lorentzian with the Gaussian core taken out)."""
    core = np.exp(-0.5 * ((x - centre) / sigma) ** 2)
    return gamma**2 / ((x - centre) ** 2 + gamma**2) * (1.0 - core)


def wing_window(wavelength: np.ndarray, centre: float, resolution: float) -> slice:
    half = WING_ELEMENTS * resolution_element(centre, resolution)
    return slice(int(np.searchsorted(wavelength, centre - half)),
                 int(np.searchsorted(wavelength, centre + half, side="right")))


def fit_wings(obs, weight, theory, x, scale, centre, sigma, element) -> Fit:
    """Best (A, γ) of the wing template; Fit.value = A (the wing's optical depth at λ0 ± γ is A/2),
    Fit.shift = γ (Å). ``scale`` (S,): s per star; ``element``: one resolution element (Å)."""
    sw = np.sqrt(weight)
    resid = obs - theory
    best = None
    for g0 in GAMMA_START:
        unit = theory * scale[:, None] * wing_template(x, centre, g0 * element, sigma)[None, :]
        den = float(np.sum(weight * unit**2))
        if den <= 0:
            continue
        amp = float(np.sum(weight * -resid * unit)) / den
        value = chi2(obs, weight, theory * (1.0 - amp * unit / np.where(theory > 0, theory, 1.0)))
        if best is None or value < best[0]:
            best = (value, amp, g0)
    if best is None:
        return Fit(chi2(obs, weight, theory))

    def residual(p):
        tau = p[0] * scale[:, None] * wing_template(x, centre, p[1] * element, sigma)[None, :]
        return (sw * (obs - theory * np.exp(-tau))).ravel()

    lo, hi = np.array([-2.0, GAMMA_RANGE[0]]), np.array([2.0, GAMMA_RANGE[1]])
    start = np.clip([best[1], best[2]], lo + 1e-6, hi - 1e-6)
    res = least_squares(residual, start, bounds=(lo, hi), x_scale=np.array([0.01, 0.5]), diff_step=1e-4,
                        method="trf")
    return Fit(float(np.sum(res.fun**2)), float(res.x[0]), float("nan"), float(res.x[1] * element))


def wing_outliers(pop: Population, lines: Lines, resolution: float) -> set[int]:
    """``line_index`` of the strong lines (``lines``: the whole list) whose wing amplitude at NULL_GAMMA stands
    out from the other strong lines' (module docstring); empty when fewer than MIN_NULL_LINES can be compared."""
    if not len(lines.table):
        return set()
    depth = lines.depth(np.median(lines.tau, axis=0))
    index, amp = [], []
    for k in np.flatnonzero(depth > WING_MIN_DEPTH):
        centre = float(lines.table["wavelength"].iloc[k])
        sl = wing_window(pop.wavelength, centre, resolution)
        stars = np.any(pop.weight[:, sl] > 0, axis=1)
        if not stars.any():
            continue
        tau = lines.tau[stars, k]
        scale = np.sqrt(tau / max(float(np.median(tau)), 1e-12))
        element = resolution_element(centre, resolution)
        x, theory, weight = pop.wavelength[sl], pop.theory[stars, sl], pop.weight[stars, sl]
        unit = theory * scale[:, None] * wing_template(x, centre, NULL_GAMMA * element, float(lines.sigma[k]))
        den = float(np.sum(weight * unit**2))
        if den <= 0:
            continue
        index.append(int(lines.table["line_index"].iloc[k]))
        amp.append(float(np.sum(weight * (theory - pop.obs[stars, sl]) * unit)) / den)
    amp = np.asarray(amp)
    if amp.size < MIN_NULL_LINES:
        return set()
    sigma = robust_sigma(amp)
    if not np.isfinite(sigma) or sigma <= 0:
        return set()
    z = (amp - np.median(amp)) / sigma
    return {i for i, zi in zip(index, z) if abs(zi) > Z_CHANGE}


def strong_lines_near(known: Lines, i: int, centre: float, resolution: float, allowed: set[int]) -> np.ndarray:
    """Rows of ``known`` (the lines tried for candidate ``i``) within reach whose wings stand out (``allowed``:
    ``wing_outliers``)."""
    if not len(known.table) or not allowed:
        return np.zeros(0, dtype=int)
    cand = known.column("cand", int)
    reach = WING_ELEMENTS * resolution_element(centre, resolution)
    near = np.abs(known.column("wavelength", float) - centre) <= reach
    ok = np.isin(known.column("line_index", int), list(allowed))
    return np.flatnonzero((cand == i) & near & ok)


def best_wings(pop: Population, known: Lines, rows: np.ndarray, resolution: float) -> tuple[Fit, int, slice] | None:
    """The wing fit of least χ² over ``rows`` (strong known lines): (fit, row, its wing window)."""
    best = None
    for k in rows:
        line = known.table.iloc[k]
        centre = float(line["wavelength"])
        sl = wing_window(pop.wavelength, centre, resolution)
        stars = np.any(pop.weight[:, sl] > 0, axis=1)
        tau = known.tau[stars, k]
        scale = np.sqrt(tau / max(float(np.median(tau)), 1e-12))
        fit = fit_wings(pop.obs[stars, sl], pop.weight[stars, sl], pop.theory[stars, sl], pop.wavelength[sl],
                        scale, centre, float(known.sigma[k]), resolution_element(centre, resolution))
        gain = chi2(pop.obs[stars, sl], pop.weight[stars, sl], pop.theory[stars, sl]) - fit.chi2
        if np.isfinite(fit.value) and (best is None or gain > best[3]):
            best = (fit, int(k), sl, gain)
    return None if best is None else best[:3]
