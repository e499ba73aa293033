"""The observations' extra line broadening, fitted over the population with the labels.

The finder's attribution (``gapviz.discover.find``) and the repair loop (``gapviz.repair.loop``) refit labels
through the theory alone (``theory_fit.fit_through``). When the stars' line-spread function is broader than
the theory's (``gapviz.theory.broaden``), every line is shallower and wider than the theory makes it at the
true labels, and the fit moves the labels to make up for it. No line list can take that bias away: on the
shipped SME mock (observed at R = 20,000, theory at 22,500) the theory with the truth's complete list still
fitted teff +148 K and logg +0.48 too high; with the broadening fitted, −52 K and +0.03 at a fitted R of
20,070 (``benchmarks/repair_label_floor.py``).

``fit_broadening`` refits the stars' labels (warm) through the theory broadened by each FWHM of ``GRID_KMS``
(upwards until χ² has risen twice past its least) and takes the population's least χ², refined by a
parabola through the least point and its neighbours: one number for the population (the spectrograph's, not
each star's). Missing lines widen the plain theory's optimum (the SME mock: 8.6 km/s with the original list,
6.75 with the complete one, 6.9 true), so the loop refits it around the last value with every pass's
repaired theory (``around``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
from torch import nn

from gapviz.adapt.theory_fit import TheoryFit, fit_through
from gapviz.theory.broaden import Broadened, observed_resolution

#: The extra FWHM (km/s) tried: from none to one that takes R = 22,500 to ≈ 14,000.
GRID_KMS = (0.0, 3.0, 6.0, 9.0, 12.0, 15.0, 18.0)


@dataclass
class Broadening:
    """fwhm_kms: the extra Gaussian FWHM; resolution_observed: the resolving power it makes of the theory's;
    labels (S, L) and chi2 (S,) of the fit at it; tried: {FWHM: population χ²}; at_edge: the least χ² was at
    the grid's broad end (the observations may be broader still)."""

    fwhm_kms: float
    resolution_observed: float
    labels: np.ndarray
    chi2: np.ndarray
    tried: dict = field(default_factory=dict)
    at_edge: bool = False

    def report(self) -> dict:
        return {"fwhm_kms": self.fwhm_kms, "resolution_observed": self.resolution_observed,
                "chi2_tried": {f"{k:g}": v for k, v in self.tried.items()}, "at_edge": self.at_edge}


#: Stars (evenly spread) whose χ² chooses the FWHM in ``refit_broadened`` (all are then refitted at it): one
#: FWHM for a population needs no more, and each FWHM tried is a label refit of them.
BROADENING_STARS = 200
#: The step (km/s) of the three FWHM tried around the last pass's when the loop refits the broadening.
STEP_KMS = 1.5


def around(fwhm_kms: float, step: float = STEP_KMS) -> tuple[float, ...]:
    """Three FWHM about ``fwhm_kms`` (none below 0) for a refit of the broadening."""
    low = max(fwhm_kms - step, 0.0)
    return tuple(sorted({low, fwhm_kms, fwhm_kms + step}))


def broadened(module: nn.Module, wavelength: np.ndarray, fwhm_kms: float) -> nn.Module:
    """``module`` seen through the extra broadening (itself when there is none)."""
    return module if fwhm_kms == 0 else Broadened(module, wavelength, fwhm_kms)


def _parabola_minimum(x: np.ndarray, y: np.ndarray) -> float:
    """The vertex of the parabola through three points, or the least point when it opens downwards."""
    a, b, _ = np.polyfit(x, y, 2)
    return float(-b / (2 * a)) if a > 0 else float(x[np.argmin(y)])


def fit_broadening(theory_fit, module: nn.Module, wavelength: np.ndarray, flux: np.ndarray,
                   flux_err: np.ndarray, init: np.ndarray, resolution: float,
                   grid: tuple[float, ...] = GRID_KMS) -> Broadening:
    """The population's extra broadening (module doc) for ``module`` (the plain theory) at the theory's
    ``resolution``."""
    fits, tried = {}, {}
    for fwhm in grid:  # upwards until χ² has risen twice past its least (it is one-dipped in the FWHM)
        fits[float(fwhm)] = fit_through(theory_fit, broadened(module, wavelength, fwhm), flux, flux_err, init=init)
        tried[float(fwhm)] = float(np.nansum(fits[float(fwhm)].chi2))
        values = list(tried.values())
        if len(values) >= 3 and min(values[-2:]) > min(values):
            break
    x = np.array(list(tried))
    y = np.array(list(tried.values()))
    k = int(np.argmin(y))
    at_edge = k == len(grid) - 1
    best = float(x[k])
    if k < len(x) - 1 and len(x) >= 3:  # refine between the neighbours (from none up, at the grid's start)
        lo = max(k - 1, 0)
        guess = float(np.clip(_parabola_minimum(x[lo:lo + 3], y[lo:lo + 3]), x[lo], x[k + 1]))
        if guess not in fits:
            fit = fit_through(theory_fit, broadened(module, wavelength, guess), flux, flux_err,
                              init=fits[best].labels)
            tried[guess] = float(np.nansum(fit.chi2))
            if tried[guess] < y[k]:
                best, fits[guess] = guess, fit
    fit = fits[best]
    return Broadening(best, observed_resolution(resolution, best), np.asarray(fit.labels, dtype=np.float64),
                      np.asarray(fit.chi2, dtype=np.float64), dict(sorted(tried.items())), bool(at_edge))


def broadened_flux(theory_fit: TheoryFit, wavelength: np.ndarray, fwhm_kms: float, labels: np.ndarray) -> np.ndarray:
    """(S, P) float64 theory flux at ``labels`` seen through the extra broadening ``fwhm_kms``."""
    seen = TheoryFit(broadened(theory_fit.emulator, wavelength, fwhm_kms), theory_fit.sigma_floor,
                     theory_fit.sigma_max)
    return seen.theory(labels).astype(np.float64)


def refit_broadened(theory_fit, wavelength: np.ndarray, flux: np.ndarray, flux_err: np.ndarray,
                    labels: np.ndarray, resolution: float,
                    max_stars: int = BROADENING_STARS) -> tuple[np.ndarray, np.ndarray, Broadening | None]:
    """(labels, theory flux at them, ``Broadening``) of stars already fitted at ``labels`` through the plain
    theory, with the broadening fitted too: chosen on at most ``max_stars`` of them (evenly spread: one FWHM
    for the population needs no more), then every star refitted at it. A theory that is not a ``TheoryFit``
    (no ``emulator``) is left as it is: (labels, ``theory_fit.theory(labels)``, None)."""
    if not isinstance(theory_fit, TheoryFit):
        return labels, np.asarray(theory_fit.theory(labels), dtype=np.float64), None
    n = len(flux)
    rows = np.unique(np.linspace(0, n - 1, min(n, max_stars)).round().astype(int)) if n else np.zeros(0, int)
    got = fit_broadening(theory_fit, theory_fit.emulator, wavelength, flux[rows], flux_err[rows], labels[rows],
                         resolution)
    if rows.size < n:  # every star at the population's FWHM
        whole = fit_through(theory_fit, broadened(theory_fit.emulator, wavelength, got.fwhm_kms), flux, flux_err,
                            init=labels)
        got = replace(got, labels=np.asarray(whole.labels, dtype=np.float64),
                      chi2=np.asarray(whole.chi2, dtype=np.float64))
    return got.labels, broadened_flux(theory_fit, wavelength, got.fwhm_kms, got.labels), got
