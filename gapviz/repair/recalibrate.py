"""Every known line's log gf checked against the population, judged against the other lines (an empirical null).

``line_offsets(pop, linelist, ...)``: for each line of the theory's list whose peak depth at the population's
median strength exceeds ``TEST_DEPTH``, the log gf change Δ that best fits all stars at once in a window of
±``WINDOW_ELEMENTS`` resolution elements (``fits.fit_recalibrated``), with its statistical error.

Why a null: with hundreds of stars the statistical error of Δ is ~0.002 dex, but the Δ of lines whose log gf
is right scatter by ~0.1 dex (measured on the SME mock's store): the theory's labels are biased, its
line-spread function and continuum differ from the stars', lines blend with lines it lacks or gets wrong.
Those systematics follow the line's species, excitation and strength, so ``empirical_null(offsets)`` fits,
robustly (iteratively reweighted least squares with Tukey's biweight at ``TUKEY_C`` robust σ), a trend
Δ ≈ a_g + b_g χ_low + c_g depth per species group g (a species with at least ``MIN_GROUP_LINES`` null lines is
its own group; the others pool into atoms or molecules; a group with fewer lines than that keeps only a_g)
over the lines that no candidate claims (none within ``near`` Å lists), and takes

    residual = Δ − trend,   σ_null,g = robust σ of the group's residuals,   z = residual / √(σ_null,g² + σ_stat²)

(σ_null,g of a group with fewer than ``MIN_GROUP_LINES`` null lines: that of all null lines; molecules in a
band blend more and scatter more than atoms).

A line's log gf is wrong when |z| > ``Z_CHANGE`` and it dominates its blend: at its centre it makes at least
``MIN_DOMINANCE`` of the list's weak-line optical depth (at the population's median, ``dominance``). In a blend
the lines trade strength with each other and with the lines the list lacks, so one line's Δ there is not its
own: on both mocks most changes to lines whose log gf was right were of blended lines, in the CO band heads
(README). Its change is the *residual* (what the line does beyond the
lines like it; the trend is the labels' and the instrument's business, which the label refit takes up), and
its error √(σ_null² + σ_stat²). ``trend_at(null, species, chi, depth)`` evaluates the trend for any line, so
that an added line's fitted log gf can be put on the same footing (``explain``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from gapviz.io.linelist import parse_species
from gapviz.repair.fits import chi2, fit_recalibrated
from gapviz.repair.population import Lines, Population, window
from gapviz.stats import robust_sigma

#: Lines whose peak depth at the population's median strength exceeds this are tested.
TEST_DEPTH = 0.03
#: |z| above this: the line's log gf is wrong.
Z_CHANGE = 3.0
#: A line whose share of the list's optical depth at its centre is below this is a blend's: its Δ is measured
#: (line_offsets.csv) but never made a change.
MIN_DOMINANCE = 0.5
#: A species with at least this many null lines gets a trend of its own (and slopes in χ and depth).
MIN_GROUP_LINES = 12
#: Below this many null lines in all, σ_null cannot be measured and is taken as 0 (a note says so).
MIN_NULL_LINES = 5
#: Tukey biweight tuning constant (in robust σ).
TUKEY_C = 4.685
OFFSET_COLUMNS = ("line_index", "wavelength", "species", "elow_ev", "loggf", "depth", "delta", "delta_err",
                  "chi2", "chi2_none", "n_points", "n_stars", "near_candidate", "dominance")


def line_offsets(pop: Population, linelist: pd.DataFrame, resolution: float, calibration: str | None,
                 candidate_wavelengths: np.ndarray, near_elements: float = 1.0) -> pd.DataFrame:
    """One row per tested line (``OFFSET_COLUMNS``); ``near_candidate``: a candidate within near_elements λ/R."""
    table = linelist.reset_index(drop=True).assign(line_index=np.arange(len(linelist)))
    lines = Lines.build(table, pop, resolution, calibration)
    if not len(lines.table):
        return pd.DataFrame(columns=list(OFFSET_COLUMNS))
    median_tau = np.median(lines.tau, axis=0)
    depth = lines.depth(median_tau)
    dominance = lines.dominance(median_tau)
    cands = np.sort(np.asarray(candidate_wavelengths, dtype=np.float64))
    rows = []
    for h in np.flatnonzero(depth > TEST_DEPTH):
        line = lines.table.iloc[h]
        w = float(line["wavelength"])
        sl = window(pop.wavelength, w, resolution)
        stars = np.any(pop.weight[:, sl] > 0, axis=1)
        obs, weight, theory = pop.obs[stars, sl], pop.weight[stars, sl], pop.theory[stars, sl]
        n_points = int(np.count_nonzero(weight))
        if n_points == 0:
            continue
        fit = fit_recalibrated(obs, weight, theory, pop.wavelength[sl], lines.tau[stars, h], w,
                               float(lines.sigma[h]), lines.log_k, lines.depth_max)
        near = bool(cands.size and np.min(np.abs(cands - w)) <= near_elements * w / resolution)
        rows.append({"line_index": int(line["line_index"]), "wavelength": w, "species": str(line["species"]),
                     "elow_ev": float(line["elow_ev"]), "loggf": float(line["loggf"]), "depth": float(depth[h]),
                     "delta": fit.value, "delta_err": fit.error, "chi2": fit.chi2,
                     "chi2_none": chi2(obs, weight, theory), "n_points": n_points,
                     "n_stars": int(np.count_nonzero(stars)), "near_candidate": near,
                     "dominance": float(dominance[h])})
    return pd.DataFrame(rows, columns=list(OFFSET_COLUMNS))


def _group(species: str, big: set[str]) -> str:
    if species in big:
        return species
    try:
        return "molecules" if parse_species(species)[2] else "atoms"
    except ValueError:
        return "atoms"


@dataclass(frozen=True)
class Null:
    """The trend per group (coefficients of 1, χ, depth), σ_null (all null lines, and per group) and the number
    of lines it was measured on."""

    coef: dict
    big: frozenset
    sigma: float
    n_lines: int
    group_sigma: dict = field(default_factory=dict)

    def sigma_at(self, species) -> np.ndarray:
        """σ_null of each line's group (the all-lines σ for a group without its own)."""
        species = np.atleast_1d(np.asarray(species)).astype(str)
        return np.array([self.group_sigma.get(_group(s, set(self.big)), self.sigma) for s in species])

    def trend_at(self, species, chi, depth) -> np.ndarray:
        """The trend Δ at lines of ``species`` (array-likes of equal length); 0 for a group never seen."""
        species, chi, depth = (np.atleast_1d(np.asarray(a)) for a in (species, chi, depth))
        out = np.zeros(species.size)
        for i, (s, c, d) in enumerate(zip(species.astype(str), chi.astype(float), depth.astype(float))):
            beta = self.coef.get(_group(s, set(self.big)))
            if beta is not None:
                out[i] = beta[0] + beta[1] * c + beta[2] * d
        return out


def _robust_fit(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Tukey-biweight IRLS of y on the columns of x (a ridge 1e-6 keeps a degenerate column harmless)."""
    w = np.ones(y.size)
    beta = np.zeros(x.shape[1])
    for _ in range(20):
        sw = np.sqrt(w)
        a = (x * sw[:, None]).T @ (x * sw[:, None]) + 1e-6 * np.eye(x.shape[1])
        beta = np.linalg.solve(a, (x * sw[:, None]).T @ (y * sw))
        r = y - x @ beta
        s = robust_sigma(r)
        if not np.isfinite(s) or s <= 0:
            break
        u = r / (TUKEY_C * s)
        w = np.where(np.abs(u) < 1, (1 - u**2) ** 2, 0.0)
    return beta


def empirical_null(offsets: pd.DataFrame) -> tuple[pd.DataFrame, Null]:
    """``offsets`` with ``trend``, ``residual``, ``sigma`` (√(σ_null² + σ_stat²)) and ``z``; and the Null."""
    ok = np.isfinite(offsets["delta"].to_numpy(float)) if len(offsets) else np.zeros(0, bool)
    base = offsets[ok & ~offsets["near_candidate"].to_numpy(bool)] if len(offsets) else offsets
    counts = base["species"].astype(str).value_counts() if len(base) else pd.Series(dtype=int)
    big = frozenset(s for s, n in counts.items() if n >= MIN_GROUP_LINES)
    groups = np.array([_group(s, set(big)) for s in base["species"].astype(str)]) if len(base) else np.zeros(0, str)
    coef = {}
    for g in np.unique(groups):
        sub = base[groups == g]
        y = sub["delta"].to_numpy(float)
        if y.size >= MIN_GROUP_LINES:
            x = np.column_stack([np.ones(y.size), sub["elow_ev"].to_numpy(float), sub["depth"].to_numpy(float)])
            coef[g] = _robust_fit(x, y)
        else:
            coef[g] = np.array([float(np.median(y)), 0.0, 0.0])
    null = Null(coef, big, 0.0, int(len(base)))
    if len(base) >= MIN_NULL_LINES:
        resid = base["delta"].to_numpy(float) - null.trend_at(base["species"], base["elow_ev"], base["depth"])
        per_group = {g: float(robust_sigma(resid[groups == g])) for g in np.unique(groups)
                     if np.count_nonzero(groups == g) >= MIN_GROUP_LINES}
        null = Null(coef, big, float(robust_sigma(resid)), int(len(base)), per_group)
    out = offsets.copy()
    if len(out):
        out["trend"] = null.trend_at(out["species"], out["elow_ev"], out["depth"])
        out["residual"] = out["delta"] - out["trend"]
        out["sigma"] = np.sqrt(null.sigma_at(out["species"]) ** 2
                               + np.nan_to_num(out["delta_err"].to_numpy(float), nan=np.inf) ** 2)
        out["z"] = out["residual"] / out["sigma"]
    else:
        out = out.assign(trend=[], residual=[], sigma=[], z=[])
    return out, null


def significant(offsets: pd.DataFrame) -> np.ndarray:
    """(n,) bool: the line's log gf is wrong: |z| > Z_CHANGE (NaN z: no) and, where measured, its ``dominance`` is
    at least MIN_DOMINANCE."""
    z = offsets["z"].to_numpy(float) if len(offsets) else np.zeros(0)
    alone = offsets["dominance"].to_numpy(float) >= MIN_DOMINANCE if "dominance" in offsets else True
    return (np.nan_to_num(np.abs(z), nan=0.0) > Z_CHANGE) & alone
