"""Explain each candidate as a line-list change: a line the list lacks, a wrong log gf, wrong damping, or nothing.

``explain_candidates(store, linelist, reference=...)`` fits, for every candidate of a store written by
``gapviz find``, the alternatives below to the observed flux of a population of stars (each star at its fitted
labels, all stars at once), in a window of ±``population.WINDOW_ELEMENTS`` resolution elements (FWHM = λ/R) around the
candidate:

* **none**: model = flux_theory (0 parameters);
* **added** (log gf and, where its position is not listed, a shift |Δλ| ≤ ``MAX_SHIFT_ELEMENTS`` λ/R): model =
  flux_theory × absorbed(10^loggf t_s(labels) g(λ; λ0 + Δλ, σ)) (``fits.absorbed``: the LineModel's curve of growth
  and depth ceiling; with ``joint``, saturating with the theory's own absorption), with t_s the weak-line peak optical
  depth per unit gf of a line of species s and lower-level energy χ at each star's labels
  (``LineModel.log_tau_linear`` of a one-line table at log gf 0, with the store's calibration) and g the LineModel's
  unit-peak Gaussian (instrument + Doppler σ). Hypotheses: the candidate's attributed species and χ at the candidate's
  wavelength (3 parameters: ``ATTRIBUTED_EXTRA`` for its χ, chosen from a grid by the finder on the same stars); each
  of the ``N_REFERENCE`` strongest (at the population's median) reference-list lines within one resolution element
  that the theory's list lacks (their species, χ and position given; 2 parameters: log gf and a temperature-dependence
  nuisance Δχ, ``fits.fit_added``'s theta, so that a line of known χ is not beaten by a guessed one only because the
  theory's or the labels' temperature dependence is off); and **blends**: the 2 and the 3 strongest of those reference
  lines together, their listed log gf ratios and separations kept, one common log gf change and Δχ (3 parameters):
  each line is written (rows of the same candidate). A reference line is its listed transition, so its position is not
  fitted and it is written at its listed wavelength: with a shift (up to ``MAX_SHIFT_ELEMENTS`` λ/R) a listed line
  moved onto a neighbour's absorption and was written up to 0.4 Å from where that transition is (measured on both
  mocks: 12–19 % of the reference lines added, each a real missing line, were written nearer another one). A reference
  line's change is at most ``fits.DELTA_RANGE``'s top, as a known line's: a feature that needs more is another line.
  Measured on both mocks (README): the CO band head's candidates are blends of two or three missing lines, which one
  line at a guessed χ had fitted best (log gf 2–3.5 dex off). The least BIC wins.
* **recalibrated** (1 parameter Δ = log gf change, ``fits.DELTA_RANGE``): for each of the ``N_KNOWN`` strongest
  theory lines within one resolution element, model = flux_theory × absorbed(10^Δ τ_known g) /
  absorbed(τ_known g), with τ_known the line's weak-line peak optical depth at its listed log gf. Both signs:
  an emission-like residual at a known line is a line the theory makes too strong. Only lines whose log gf
  the line pass found wrong against the other lines (``recalibrate``: |z| > Z_CHANGE) may be recalibrated: an
  emission feature at a line whose log gf is as right as its neighbours' is instrumental (e.g. another
  line-spread function) and stays "none". The best χ² wins.
* **damping** (2 parameters): a strong known line within ``damping.WING_ELEMENTS`` whose wings stand out
  from the other strong lines' gets a wing template fitted (``gapviz.repair.damping``); all alternatives are
  then compared on the wider wing window, where the discrete ones also carry the other candidates in that
  window, each explained its own way (their χ² gains and parameters): damping has to explain the wings better
  than the lines the neighbours add anyway, or missing lines in a strong line's wings read as wrong damping.
* Known lines whose log gf the line pass found wrong far from every candidate get a row of their own
  (``candidate`` 0, "recalibrated").

χ² = Σ ((flux_obs − model) / flux_err)² over usable pixels (``pixel_mask`` and finite, positive flux_err) of
the stars with ``domain_flag == 0`` (at most ``max_stars``, evenly spread over the store: deterministic).
Fits: ``gapviz.repair.fits``. The log gf written is on the known lines' footing (``detrend``): a recalibration
is the line pass's residual (beyond the trend of lines like it), an added line's fit has the trend at its
species, χ and depth taken off, so that labels biased for the whole population do not leak into the list;
its error is √(σ_null² + σ_stat²), σ_null the scatter of the known lines of its group (the statistical
error alone, from the curvature of χ², is ~30× too small on the mocks).

Choice by the Bayesian information criterion BIC = χ² + k ln(n_points) (k = 0 none, 1 recalibrated,
3 added (a reference line 2, a blend 3, see above), 2 damping; n_points = the usable pixels of the window): the
smallest wins, ties to the simpler alternative.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pandas as pd
import xarray as xr

from gapviz.instrument import RESOLUTION, resolution_element
from gapviz.repair.damping import (
    WING_ELEMENTS,
    best_wings,
    strong_lines_near,
    wing_outliers,
)
from gapviz.repair.fits import DELTA_RANGE, Fit, bic, bic_params, chi2, fit_added, fit_recalibrated
from gapviz.repair.population import (
    Lines,
    Population,
    load_population,
    window,
)
from gapviz.repair.line_hypotheses import MATCH_ELEMENTS, added_hypotheses, known_lines
from gapviz.repair.recalibrate import Null, empirical_null, line_offsets, significant
from gapviz.store.open import store_candidates

#: Largest shift of an added line of guessed position (an attributed one) from the candidate, in resolution
#: elements (a reference line stays at its listed position).
MAX_SHIFT_ELEMENTS = 0.5
#: Reference-list lines (absent from the theory's list) tried per candidate, strongest first.
N_REFERENCE = 3
#: Theory lines tried for recalibration per candidate, strongest first.
N_KNOWN = 4
#: Extra parameters an attributed-species line costs over a reference line (its χ was fitted by the finder).
ATTRIBUTED_EXTRA = 1
LN10 = math.log(10.0)
CHOICES = ("none", "recalibrated", "added", "damping")
N_PARAM = {"none": 0, "recalibrated": 1, "added": 2, "damping": 2}
COLUMNS = ("candidate", "wavelength", "choice", "line_wavelength", "line_listed", "species", "isotopes", "elow_ev",
           "loggf",
           "loggf_err",
           "loggf_before", "line_index", "label", "n_stars", "chi2_none", "chi2_added", "chi2_recalibrated",
           "chi2_damping", "bic_none", "bic_added", "bic_recalibrated", "bic_damping", "wing_amplitude", "wing_gamma")


# --- the table ----------------------------------------------------------------------------------------------------

def _strongest(tau: np.ndarray, cand: np.ndarray, i: int, n: int) -> np.ndarray:
    """Indices of the ``n`` hypotheses of candidate ``i`` with the largest median τ over the stars."""
    idx = np.flatnonzero(cand == i)
    if idx.size == 0:
        return idx
    strength = np.median(tau[:, idx], axis=0) if tau.shape[0] else np.zeros(idx.size)
    return idx[np.argsort(-strength, kind="stable")[:n]]


def _empty_row(c: pd.Series, rank: int) -> dict:
    return {"candidate": rank, "wavelength": float(c["wavelength"]), "choice": "none", "line_wavelength": np.nan,
            "line_listed": np.nan,
            "species": "", "isotopes": "", "elow_ev": np.nan, "loggf": np.nan, "loggf_err": np.nan,
            "loggf_before": np.nan,
            "line_index": -1, "label": str(c.get("attributed_label", "") or ""), "n_stars": 0,
            "chi2_none": np.nan, "chi2_added": np.nan, "chi2_recalibrated": np.nan, "chi2_damping": np.nan,
            "bic_none": np.nan, "bic_added": np.nan, "bic_recalibrated": np.nan, "bic_damping": np.nan,
            "wing_amplitude": np.nan, "wing_gamma": np.nan}


Best = tuple[Fit, dict, float]  # a fit, the row fields it fills, its BIC


def _best_added(hyp: Lines, i: int, stars: np.ndarray, data: tuple, max_shift: float, n_points: int,
                null: Null, detrend: bool, thetas: np.ndarray | None = None, joint: bool = False) -> Best | None:
    """The added line (or blend) of least BIC for candidate ``i``: its attributed line, the strongest reference
    lines one by one and, where two or more are near, those reference lines together (``fits.fit_added``'s blend:
    their listed log gf ratios and separations kept, one factor; a blend's other lines are in the fields'
    ``"blend"``). A reference line's temperature dependence is a nuisance of its fit (``fit_added``'s theta).
    Its log gf is put on the known lines' footing: the fit minus the null's trend at its species, χ and depth;
    its error √(σ_null² + σ_stat² + (θ σ_χ)²), the last term for an attributed line only: its χ is the
    finder's guess (σ_χ: the spread of its species' χ in the lists; θ = 5040 K / teff, the stars' median), and
    its log gf moves by θ per eV of χ (measured: CO lines added at 3 eV instead of 0.4–1.2 eV were 2–5 dex off
    while their quoted errors were ~0.05 dex)."""
    cand, attributed = hyp.column("cand", int), hyp.column("source", str) == "attributed"
    reference = list(_strongest(hyp.tau[stars], np.where(attributed, -1, cand), i, N_REFERENCE))
    tried = [[h] for h in np.flatnonzero((cand == i) & attributed)] + [[h] for h in reference]
    tried += [reference[:k] for k in range(2, len(reference) + 1)]
    theta = float(np.median(thetas)) if thetas is not None and thetas.size else np.nan
    best = None
    for members in tried:
        lines = hyp.table.iloc[members]
        guessed = bool(attributed[members[0]])
        # τ at the lines' log gf (an attributed line's is 0): the fit's value is the change of log gf, common to
        # a blend's lines; a reference line's temperature dependence is a nuisance, an attributed line's χ costs
        # ATTRIBUTED_EXTRA
        # a reference line is its listed transition: its position is not fitted (one parameter fewer)
        fit = fit_added(*data, hyp.tau[stars][:, members], lines["wavelength"].to_numpy(float), hyp.sigma[members],
                        max_shift if guessed else 0.0, hyp.log_k, None if guessed else thetas, joint=joint,
                        depth_max=hyp.depth_max, max_value=None if guessed else DELTA_RANGE[1])
        # parameters: a guessed line's log gf, shift and χ; a reference line's log gf, its Δχ nuisance (with a
        # teff label) and, for a blend, one more
        k = N_PARAM["added"] + ATTRIBUTED_EXTRA if guessed else 1 + (thetas is not None) + (len(members) > 1)
        score = bic(fit.chi2, k, n_points)
        if not np.isfinite(fit.value) or (best is not None and score >= best[2]):
            continue
        rows = []
        for j, (_, line) in enumerate(lines.iterrows()):
            loggf = float(line["loggf"]) + fit.value
            depth = float(hyp.depth(np.median(hyp.tau[stars, members[j]]) * 10.0**fit.value))
            trend = float(null.trend_at([line["species"]], [line["elow_ev"]], [depth])[0]) if detrend else 0.0
            rows.append({"line_wavelength": float(line["wavelength"]) + fit.shift, "species": str(line["species"]),
                         "line_listed": np.nan if guessed else float(line["wavelength"]),  # its identity
                         "isotopes": str(line.get("isotopes", "")),  # the fit's τ has its fraction folded in
                         "elow_ev": float(line["elow_ev"]), "loggf": loggf - trend,
                         "loggf_err": math.hypot(float(null.sigma_at([line["species"]])[0]), fit.error,
                                                 _chi_term(line, theta) if guessed else 0.0),
                         "loggf_before": np.nan, "line_index": -1})
        best = (fit, rows[0] | {"blend": rows[1:]}, score)
    return best


def _chi_term(line: pd.Series, theta: float) -> float:
    """θ σ_χ of an attributed line (0 when either is unknown)."""
    spread = float(line.get("elow_spread", np.nan))
    return theta * spread if np.isfinite(theta) and np.isfinite(spread) else 0.0


def _best_recalibrated(known: Lines, i: int, stars: np.ndarray, data: tuple, n_points: int,
                       offsets: pd.DataFrame, detrend: bool) -> Best | None:
    """The recalibrated known line of least χ² among the ``N_KNOWN`` strongest near candidate ``i`` whose log gf
    the line pass found wrong (``recalibrate``: |z| > Z_CHANGE against the other lines). The change written is
    the line pass's residual (beyond the trend of lines like it), its error √(σ_null² + σ_stat²)."""
    wrong = offsets.loc[significant(offsets)].set_index("line_index") if len(offsets) else offsets
    best = None
    for k in _strongest(known.tau[stars], known.column("cand", int), i, N_KNOWN):
        line = known.table.iloc[k]
        index = int(line["line_index"])
        if index not in wrong.index:
            continue
        fit = fit_recalibrated(*data, known.tau[stars, k], float(line["wavelength"]), float(known.sigma[k]),
                               known.log_k, known.depth_max)
        if np.isfinite(fit.value) and (best is None or fit.chi2 < best[0].chi2):
            best = (fit, {"line_wavelength": float(line["wavelength"]), "species": str(line["species"]),
                          "elow_ev": float(line["elow_ev"]),
                          "loggf": float(line["loggf"]) + float(wrong.at[index, "residual" if detrend else "delta"]),
                          "loggf_err": float(wrong.at[index, "sigma"]), "loggf_before": float(line["loggf"]),
                          "line_index": index}, bic(fit.chi2, N_PARAM["recalibrated"], n_points))
    return best


def _thetas(pop: Population, stars: np.ndarray) -> np.ndarray | None:
    """(S,) θ = 5040 K / teff of the selected stars (None without a teff label)."""
    if "teff" not in pop.label_names:
        return None
    return 5040.0 / pop.labels[stars, list(pop.label_names).index("teff")]


def _narrow_fits(c: pd.Series, i: int, pop: Population, hyp: Lines, known: Lines, wings: tuple[Lines, set],
                 resolution: float, offsets: pd.DataFrame, null: Null, detrend: bool, joint: bool = False) -> dict:
    """Candidate ``i``'s alternatives in its own window (none, recalibrated, added) and its best wing fit:
    {"row", "fits", "none", "n_points", "damped" (or None), "wavelength"}; the choice is made by ``_decide``."""
    row = _empty_row(c, int(c["rank"]) if "rank" in c else i + 1)
    out = {"row": row, "fits": None, "none": np.nan, "n_points": 0, "damped": None,
           "wavelength": float(c["wavelength"])}
    sl = window(pop.wavelength, float(c["wavelength"]), resolution)
    stars = np.any(pop.weight[:, sl] > 0, axis=1)
    obs, weight, theory = pop.obs[stars, sl], pop.weight[stars, sl], pop.theory[stars, sl]
    n_points = int(np.count_nonzero(weight))
    if n_points == 0:
        return out
    data = (obs, weight, theory, pop.wavelength[sl])
    none = chi2(obs, weight, theory)
    max_shift = MAX_SHIFT_ELEMENTS * resolution_element(float(c["wavelength"]), resolution)
    out["fits"] = {"none": (Fit(none), {}, none),
                   "recalibrated": _best_recalibrated(known, i, stars, data, n_points, offsets, detrend),
                   "added": _best_added(hyp, i, stars, data, max_shift, n_points, null, detrend,
                                        _thetas(pop, stars), joint)}
    out.update(none=none, n_points=n_points)
    row["n_stars"] = int(np.count_nonzero(stars))
    wing_lines, allowed = wings
    out["damped"] = best_wings(pop, wing_lines, strong_lines_near(wing_lines, i, float(c["wavelength"]), resolution,
                                                                  allowed), resolution)
    return out


def _best_discrete(prepared: dict) -> tuple[float, int]:
    """(χ² gain, parameters) of a candidate's best explanation in its own window other than damping."""
    fits, n = prepared["fits"], prepared["n_points"]
    if fits is None:
        return 0.0, 0
    name = min((k for k in ("none", "recalibrated", "added") if fits.get(k) is not None), key=lambda k: fits[k][2])
    return prepared["none"] - fits[name][0].chi2, bic_params(fits[name][2], fits[name][0].chi2, n)


def _others_in_wings(prepared: list[dict], i: int, wavelength: np.ndarray) -> tuple[float, int]:
    """Σ (χ² gain, parameters) of the best non-damping explanations of the candidates other than ``i`` whose
    position lies inside candidate ``i``'s wing window (on the pixel grid ``wavelength``)."""
    damped = prepared[i]["damped"]
    if damped is None:
        return 0.0, 0
    inside = wavelength[damped[2]]
    lo, hi = float(inside.min()), float(inside.max())
    gain, k = 0.0, 0
    for j, p in enumerate(prepared):
        if j != i and lo <= p["wavelength"] <= hi:
            g, kj = _best_discrete(p)
            gain, k = gain + g, k + kj
    return gain, k


def _decide(prepared: dict, others: tuple[float, int], wings: Lines, pop: Population) -> dict:
    """The table row: the alternative of least BIC. With a wing fit, on its wing window, where the discrete
    alternatives also carry ``others`` = (χ² gain, parameters) of the other candidates' own best explanations
    inside that window: damping must explain the wings better than the lines that the neighbouring candidates
    add or recalibrate anyway (missing lines in a strong line's wings otherwise read as wrong damping)."""
    row, fits = prepared["row"], prepared["fits"]
    if fits is None:
        return row
    if prepared["damped"] is not None:
        fits = _on_wing_window(fits, prepared["damped"], pop, wings, prepared["none"], prepared["n_points"], others)
    for name, fit in fits.items():
        if fit is not None:
            row[f"chi2_{name}"], row[f"bic_{name}"] = fit[0].chi2, fit[2]
    choice = min((n for n in CHOICES if fits.get(n) is not None), key=lambda n: fits[n][2])  # ties: the simpler
    row["choice"] = choice
    row.update(fits[choice][1])
    return row


def _on_wing_window(fits: dict, damped: tuple, pop: Population, wings: Lines, none_narrow: float,
                    n_narrow: int, others: tuple[float, int] = (0.0, 0)) -> dict:
    """Every alternative's χ² and BIC on the wing window (``damping``): the damping fit's own, the others' as
    χ²(none) there minus their gain in the candidate's window (a Gaussian change does nothing beyond it) and
    minus ``others``' gain (the other candidates in the wing window, explained their own way), with their
    parameters."""
    fit, k, sl = damped
    stars = np.any(pop.weight[:, sl] > 0, axis=1)
    weight = pop.weight[stars, sl]
    n_points = int(np.count_nonzero(weight))
    none = chi2(pop.obs[stars, sl], weight, pop.theory[stars, sl])
    other_gain, other_k = others  # "none" for this candidate still lets its neighbours be explained
    out: dict[str, Best | None] = {"none": (Fit(none - other_gain), {}, bic(none - other_gain, other_k, n_points))}
    for name in ("recalibrated", "added"):
        if fits[name] is not None:
            value = none - (none_narrow - fits[name][0].chi2) - other_gain
            k_params = bic_params(fits[name][2], fits[name][0].chi2, n_narrow)
            out[name] = (replace(fits[name][0], chi2=value), fits[name][1], bic(value, k_params + other_k, n_points))
    line = wings.table.iloc[k]
    out["damping"] = (fit, {"line_wavelength": float(line["wavelength"]), "species": str(line["species"]),
                            "elow_ev": float(line["elow_ev"]), "loggf": float(line["loggf"]), "loggf_err": np.nan,
                            "loggf_before": float(line["loggf"]), "line_index": int(line["line_index"]),
                            "wing_amplitude": fit.value, "wing_gamma": fit.shift},
                      bic(fit.chi2, N_PARAM["damping"], n_points))
    return out


def _line_pass_row(line: pd.Series, n_points: int, detrend: bool) -> dict:
    """A table row (candidate 0) for a known line the line pass found wrong that no candidate claims."""
    fit = bic(float(line["chi2"]), N_PARAM["recalibrated"], n_points)
    return {"candidate": 0, "wavelength": float(line["wavelength"]), "choice": "recalibrated",
            "line_wavelength": float(line["wavelength"]), "species": str(line["species"]),
            "elow_ev": float(line["elow_ev"]), "loggf": float(line["loggf"]) + float(line["residual" if detrend
                                                                                         else "delta"]),
            "loggf_err": float(line["sigma"]), "loggf_before": float(line["loggf"]),
            "line_index": int(line["line_index"]), "label": "", "n_stars": int(line["n_stars"]),
            "chi2_none": float(line["chi2_none"]), "chi2_added": np.nan, "chi2_recalibrated": float(line["chi2"]),
            "bic_none": float(line["chi2_none"]), "bic_added": np.nan, "bic_recalibrated": fit}


def _with_blends(rows: list[dict]) -> list[dict]:
    """Rows with a blend's other lines as rows of their own after it (same candidate, choice and evidence)."""
    out = []
    for row in rows:
        members = row.pop("blend", None) or []
        out.append(row)
        out += [row | member for member in members]
    return out


def explain_population(pop: Population, candidates: pd.DataFrame, linelist: pd.DataFrame, *,
                       reference: pd.DataFrame | None, calibration: str | None, resolution: float,
                       detrend: bool = True, joint: bool = False) -> tuple[pd.DataFrame, pd.DataFrame, Null]:
    """(table, line offsets, null) for ``candidates`` (rank order) over ``pop``: see ``explain_candidates``.
    ``detrend=False``: log gf as fitted at these labels (the χ² optimum), without the null's trend taken off.
    ``joint``: added lines saturate together with the theory's own absorption at each pixel (``fits.fit_added``),
    as LineModel's do: for a theory that is LineModel itself."""
    cand_wl = candidates["wavelength"].to_numpy(np.float64) if len(candidates) else np.zeros(0)
    offsets, null = empirical_null(line_offsets(pop, linelist, resolution, calibration, cand_wl, MATCH_ELEMENTS))
    rows = []
    if len(candidates):
        hyp = Lines.build(added_hypotheses(candidates, linelist, reference, resolution), pop, resolution,
                          calibration)
        known = Lines.build(known_lines(candidates, linelist, resolution), pop, resolution, calibration)
        whole = Lines.build(linelist.reset_index(drop=True).assign(line_index=np.arange(len(linelist))), pop,
                            resolution, calibration)
        wings = (Lines.build(known_lines(candidates, linelist, resolution, WING_ELEMENTS), pop, resolution,
                             calibration), wing_outliers(pop, whole, resolution))
        prepared = [_narrow_fits(c, i, pop, hyp, known, wings, resolution, offsets, null, detrend, joint)
                    for i, c in candidates.iterrows()]
        rows = _with_blends([_decide(p, _others_in_wings(prepared, i, pop.wavelength), wings[0], pop)
                             for i, p in enumerate(prepared)])
    if len(offsets):
        lone = offsets[significant(offsets) & ~offsets["near_candidate"].to_numpy(bool)]
        rows += [_line_pass_row(line, int(line["n_points"]), detrend) for _, line in lone.iterrows()]
    return pd.DataFrame(rows, columns=list(COLUMNS)), offsets, null


def ranked_candidates(store: xr.Dataset) -> pd.DataFrame:
    """The store's candidate table in rank order (row i is candidate i of the explanations)."""
    candidates = store_candidates(store)
    if "rank" in candidates:
        candidates = candidates.sort_values("rank", kind="stable").reset_index(drop=True)
    return candidates


def explain_candidates(store: xr.Dataset, linelist: pd.DataFrame, *, reference: pd.DataFrame | None = None,
                       calibration: str | None = None, resolution: float | None = None, max_stars: int = 400,
                       seed: int = 0) -> pd.DataFrame:
    """One row per candidate (rank order): the chosen explanation and every alternative's χ² and BIC; then one
    row (``candidate`` 0) per known line whose log gf the line pass (``recalibrate``) found wrong far from every
    candidate. The line offsets and the null are in ``table.attrs["line_offsets"]`` and ``["null"]``.

    calibration: the LineModel calibration (None or "sme"; default the store's ``line_model_calibration``
    attr); resolution: default the store's ``resolution`` attr (else APOGEE's). ``seed`` is accepted for
    interface stability; the star selection and the fits are deterministic. Columns: ``COLUMNS``.
    """
    del seed  # deterministic: evenly spread stars, grid starts
    if resolution is None:
        resolution = float(store.attrs.get("resolution", RESOLUTION))
    if calibration is None:
        cal = str(store.attrs.get("line_model_calibration", "none"))
        calibration = None if cal in ("", "none") else cal
    candidates = ranked_candidates(store)
    if candidates.empty:
        return pd.DataFrame(columns=list(COLUMNS))
    pop = load_population(store, max_stars)
    table, offsets, null = explain_population(pop, candidates, linelist, reference=reference,
                                              calibration=calibration, resolution=resolution)
    table.attrs["null"] = {"sigma_null": null.sigma, "sigma_null_by_group": null.group_sigma, "n_lines": null.n_lines,
                           "n_tested": int(len(offsets)), "n_wrong": int(significant(offsets).sum())}
    return table
