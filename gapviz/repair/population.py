"""The stars a repair fits and the lines it tries: one population, one rule for windows and line strengths.

``load_population(store, max_stars)``: the in-domain stars (``domain_flag == 0``, at most ``max_stars``, evenly
spread: deterministic) with their fitted labels, observed and theory flux and weights 1/flux_err² (0 where a
pixel is unusable or masked). ``Lines.build(table, pop, ...)``: per line and star the weak-line peak optical
depth at the line's log gf (``LineModel.log_tau_linear``, with the store's calibration), its Gaussian σ and the
LineModel's saturation onset.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import torch
import xarray as xr

from gapviz.discover.find import store_label_names
from gapviz.errors import GapvizError
from gapviz.instrument import resolution_element
from gapviz.repair.fits import absorbed
from gapviz.stats import usable
from gapviz.store.aggregate import even_rows

#: Half-width of a fitted window, in resolution elements (FWHM = λ/R).
WINDOW_ELEMENTS = 1.5

@dataclass(frozen=True)
class Population:
    """The stars the fits use: labels (S, L) and cubes (S, P); weight = 1/flux_err² (0 where unusable); star_id
    (S,) the store's ``star_id`` (or row number) of each."""

    wavelength: np.ndarray
    label_names: list[str]
    labels: np.ndarray
    obs: np.ndarray
    theory: np.ndarray
    weight: np.ndarray
    star_id: np.ndarray | None = None

    def flux_and_errors(self) -> tuple[np.ndarray, np.ndarray]:
        """(flux, flux_err) (S, P) for a label fit: NaN where a pixel is unusable (weight 0)."""
        ok = self.weight > 0
        return (np.where(ok, self.obs, np.nan),
                np.where(ok, 1.0 / np.sqrt(np.where(ok, self.weight, 1.0)), np.nan))

    def at_labels(self, labels: np.ndarray, theory: np.ndarray) -> Population:
        """The same stars at other labels, with the theory flux there (0 where a pixel is unusable)."""
        return replace(self, labels=labels, theory=np.where(self.weight > 0, theory, 0.0))


def select_stars(store: xr.Dataset, max_stars: int) -> np.ndarray:
    """Indices of at most ``max_stars`` in-domain stars (``domain_flag == 0``), evenly spread."""
    n = store.sizes["star"]
    ok = np.ones(n, dtype=bool)
    if "domain_flag" in store.variables:
        ok = np.asarray(store["domain_flag"].values) == 0
    inside = np.flatnonzero(ok)
    return inside[even_rows(inside.size, max_stars)]


def load_population(store: xr.Dataset, max_stars: int) -> Population:
    """Labels and cubes of the selected stars; stars with a non-finite label are left out."""
    need = ["flux_obs", "flux_err", "flux_theory", "label"]
    missing = [v for v in need if v not in store.variables]
    if missing:
        raise GapvizError(f"explain_candidates: the store lacks {missing}; it needs a store written by "
                          "'gapviz apply' + 'gapviz find' (docs/ARCHITECTURE.md §6)")
    names = store_label_names(store)
    rows = select_stars(store, max_stars)
    part = store.isel(star=rows)
    labels = np.column_stack([np.asarray(part[n].values, dtype=np.float64) for n in names])
    keep = np.all(np.isfinite(labels), axis=1)
    get = lambda v: np.asarray(part[v].values, dtype=np.float64)[keep]
    obs, err, theory = get("flux_obs"), get("flux_err"), get("flux_theory")
    ok = usable(err, obs, theory)
    if "pixel_mask" in part.variables:
        ok &= np.asarray(part["pixel_mask"].values)[keep] == 1
    weight = np.where(ok, 1.0 / np.where(ok, err, 1.0) ** 2, 0.0)
    star_id = np.asarray(part["star_id"].values).astype(str) if "star_id" in part else rows.astype(str)
    return Population(np.asarray(store["wavelength"].values, dtype=np.float64), names, labels[keep],
                      np.where(ok, obs, 0.0), np.where(ok, theory, 0.0), weight, star_id[keep])


def window(wavelength: np.ndarray, centre: float, resolution: float) -> slice:
    """Pixels within ±WINDOW_ELEMENTS resolution elements of ``centre``."""
    half = WINDOW_ELEMENTS * resolution_element(centre, resolution)
    return slice(int(np.searchsorted(wavelength, centre - half)), int(np.searchsorted(wavelength, centre + half,
                                                                                      side="right")))


def weak_line_tau(lines: pd.DataFrame, pop: Population, resolution: float,
                  calibration: str | None) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, float, float | None]:
    """(kept lines, τ (S, H) weak-line peak optical depth at each star's labels and the line's log gf, σ (H,) Å,
    log k of the LineModel's saturation, its depth ceiling D (None without a calibration)).

    Lines that fall off the grid are dropped (the returned table is the kept rows, in order).
    """
    from gapviz.theory.linemodel import LineModel

    if lines.empty:
        return lines, np.zeros((pop.labels.shape[0], 0)), np.zeros(0), 0.0, None
    table = lines.reset_index(drop=True).assign(_row=np.arange(len(lines)))
    model = LineModel(table, pop.wavelength, resolution=resolution, label_names=pop.label_names, min_depth=0.0,
                      calibration=calibration)
    with torch.no_grad():
        log_tau = model.log_tau_linear(torch.as_tensor(pop.labels, dtype=torch.float32)).numpy()
    kept = model.linelist
    return (kept, np.power(10.0, log_tau.astype(np.float64)), np.asarray(model.line_sigma, dtype=np.float64),
            model.log_k, model.depth_max)


@dataclass(frozen=True)
class Lines:
    """Lines to try, each for one candidate: table (rows; ``cand``), τ (S, H) at each line's log gf, σ (H,) Å,
    the LineModel's saturation log k and depth ceiling D (None: none)."""

    table: pd.DataFrame
    tau: np.ndarray
    sigma: np.ndarray
    log_k: float
    depth_max: float | None = None

    @classmethod
    def build(cls, lines: pd.DataFrame, pop: Population, resolution: float, calibration: str | None) -> Lines:
        return cls(*weak_line_tau(lines, pop, resolution, calibration))

    def depth(self, tau: np.ndarray) -> np.ndarray:
        """Central depth of a line alone whose weak-line peak optical depth is ``tau`` (any shape): the LineModel's
        curve of growth and depth ceiling (``fits.absorbed``)."""
        return 1.0 - absorbed(tau, self.log_k, self.depth_max)

    def dominance(self, tau: np.ndarray) -> np.ndarray:
        """(H,) each line's share of all these lines' weak-line optical depth at its own centre, for peak optical
        depths ``tau`` (H,) (1: alone; ½: a blend of two equal lines)."""
        w = self.column("wavelength", float)
        order = np.argsort(w)
        reach = 5.0 * float(self.sigma.max()) if self.sigma.size else 0.0
        lo, hi = np.searchsorted(w[order], w - reach), np.searchsorted(w[order], w + reach, side="right")
        out = np.ones(w.size)
        for h in range(w.size):
            j = order[lo[h]:hi[h]]
            total = np.sum(tau[j] * np.exp(-0.5 * ((w[h] - w[j]) / self.sigma[j]) ** 2))
            out[h] = tau[h] / total if total > 0 else 1.0
        return out

    def column(self, name: str, dtype) -> np.ndarray:
        return self.table[name].to_numpy(dtype) if len(self.table) else np.zeros(0, dtype)
