"""The finder: a store in, its candidate features out — ``find_candidates(store, linelist) -> xr.Dataset``.

Steps (each in its own module; the measured history of these choices is docs/FINDER.md):
1. systematics out (``systematics``): the line-spread function, a wavelength shift and population-wide
   abundance offsets are fitted to the mean correction and removed;
2. detection (``detect``): matched filter at λ/R with CLEAN-like deblending, a depth guard of ``N_MAD``
   robust σ of the matched-filter amplitude and an absolute floor ``MIN_DEPTH``;
3. cross-match (``crossmatch``): in the line list if a theory line within 0.3 λ/R is at least half as deep;
4. attribution (``ATTRIBUTIONS``; default ``hypothesis``): the sampled stars are refitted by the theory
   alone with every candidate's pixels left out, and each candidate's observed − theory depth from star to
   star is matched with hypothetical lines of the theory's species (``hypotheses``);
5. identification against a reference list and ranking (``crossmatch.identify``, ``rank``).
Everything it reads is in the store (``gapviz.store``); the theory refit needs the store's theory
(``gapviz.adapt.theory_fit.TheoryFit``, or any object with ``fit_labels`` and ``theory``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np
import pandas as pd
import xarray as xr

from gapviz.adapt.broadening import refit_broadened
from gapviz.discover.attribute import attribute, sensitivity_from_arrays
from gapviz.discover.crossmatch import crossmatch, identify, line_model_depths
from gapviz.discover.detect import detect_features
from gapviz.discover.hypotheses import attribute_hypotheses, build_hypotheses
from gapviz.discover.rank import rank
from gapviz.discover.species import attribute_species, species_patterns
from gapviz.discover.systematics import instrumental_templates, label_offset_templates, remove_systematics
from gapviz.errors import GapvizError
from gapviz.instrument import RESOLUTION
from gapviz.store import schema as S
from gapviz.store.aggregate import even_rows

#: Detection depth guard on the learned correction, in robust σ of the matched-filter amplitude.
N_MAD = 0.75
#: Absolute depth floor of a detected feature in the systematics-cleaned mean correction.
MIN_DEPTH = 0.005
#: Pixels within this many resolution elements of a candidate are left out of the attribution refit.
EXCLUDE_FWHM = 1.0
#: Stars (evenly spaced) whose observed flux, error and theory residual the attribution uses.
SAMPLE_STARS = 1000
ATTRIBUTIONS = ("hypothesis", "species", "regression", "response")
#: The candidate table's columns, as stored (``candidate_<column>``) and written to candidates.csv.
CANDIDATE_COLUMNS = [n.removeprefix("candidate_") for n in S.CANDIDATE_VARS]
LINE_COLUMNS = [n.removeprefix("line_") for n in S.LINE_VARS]

LineDepthFn = Callable[[pd.DataFrame, np.ndarray, float, dict[str, float]], np.ndarray]


def feature_pixels(wavelength: np.ndarray, candidates: pd.DataFrame, resolution: float,
                   n_fwhm: float = EXCLUDE_FWHM) -> np.ndarray:
    """(npix,) bool: pixels within ``n_fwhm`` × λ/R of any candidate."""
    out = np.zeros(wavelength.size, dtype=bool)
    for w in candidates["wavelength"].to_numpy(float) if len(candidates) else []:
        out |= np.abs(wavelength - w) <= n_fwhm * w / resolution
    return out


def store_label_names(store: xr.Dataset) -> list[str]:
    """The inferred labels of a store, in its ``label`` order."""
    return [str(v) for v in store["label"].values] if "label" in store.variables else []


def find_candidates(store: xr.Dataset, linelist: pd.DataFrame, *, reference: pd.DataFrame | None = None,
                    theory=None, attribution: str = "hypothesis", resolution: float = RESOLUTION,
                    line_depths: LineDepthFn | None = None, calibration: str | None = None) -> xr.Dataset:
    """The candidate features of ``store`` (a Dataset from ``gapviz apply``): a Dataset on dims ``candidate``
    (``candidate_<column>``, rank order) and ``line`` (``line_<column>``, the theory's list on the grid), and
    ``correction_systematic`` (wavelength), with attrs ``resolution``, ``attribution_method``, ``n_candidates``.

    linelist, reference: line tables (``gapviz.io.linelist``) already cut to the grid; theory: what the
    ``hypothesis`` attribution refits stars with (``fit_labels(flux, flux_err).labels``, ``theory(labels)``);
    line_depths: overrides the LineModel that judges whether a theory line is strong enough.
    calibration: LineModel's calibration for expected depths and attribution templates (None: the plain
    model; "sme": calibrated against SME, for a theory from a radiative-transfer code).
    """
    if attribution not in ATTRIBUTIONS:
        raise GapvizError(f"--attribution {attribution!r}: expected one of {ATTRIBUTIONS}")
    missing = [v for v in ("correction_mean", "correction_std", "flux_theory_mean", "label_spread") if v not in store]
    if missing or store.attrs.get("method") == "baseline":
        raise GapvizError(f"the store lacks {missing or 'per-star corrections'}: the finder needs a store written by "
                          "'gapviz apply' (a baseline store carries its own candidates)")
    wl = np.asarray(store["wavelength"].values, dtype=np.float64)
    names = store_label_names(store)
    spread = np.asarray(store["label_spread"].values, dtype=np.float64)
    mean = np.asarray(store["correction_mean"].values)
    sem = np.asarray(store["correction_std"].values) / np.sqrt(np.maximum(np.asarray(store["correction_n"].values), 1))
    templates = np.vstack([instrumental_templates(wl, np.asarray(store["flux_theory_mean"].values)),
                           label_offset_templates(np.asarray(store["response_theory"].values), names, spread)])
    signal, _ = remove_systematics(mean, templates)
    systematic = (mean - signal).astype(np.float32)
    found = detect_features(wl, signal, sem, resolution, n_mad=N_MAD, min_depth=MIN_DEPTH,
                            n_below=np.asarray(store["correction_n_below"].values),
                            n_above=np.asarray(store["correction_n_above"].values), baseline_fwhm=None)
    labels = np.column_stack([np.asarray(store[n].values, dtype=np.float64) for n in names])
    median_labels = dict(zip(names, np.nanmedian(labels, axis=0)))
    depth_fn = line_depths or functools.partial(line_model_depths, calibration=calibration)
    line_depth = depth_fn(linelist, wl, resolution, median_labels)
    ref_depth = depth_fn(reference, wl, resolution, median_labels) if reference is not None else None
    found = crossmatch(found, linelist, line_depth, resolution, reference, ref_depth)
    found, used, seen = _attribute(found, attribution, store, linelist, line_depth, resolution, theory, calibration)
    found = rank(identify(found, linelist, reference, ref_depth, resolution))
    attrs = {"resolution": float(resolution), "attribution_method": used,
             "line_model_calibration": calibration or "none"}
    if seen is not None:
        attrs["resolution_observed"] = float(seen)
    return candidates_dataset(found, linelist, systematic, attrs)


def _sample(store: xr.Dataset) -> dict[str, np.ndarray]:
    rows = even_rows(store.sizes["star"], SAMPLE_STARS)
    part = store[["flux_obs", "flux_err", "residual_theory"]].isel(star=rows)
    return {k: np.asarray(part[k].values, dtype=np.float32) for k in part.data_vars}


def _attribute(found, attribution, store, lines, line_depth, resolution, theory,
               calibration=None) -> tuple[pd.DataFrame, str, float | None]:
    """Attribute by hypothetical lines (default), species behaviour or a label rule; return (table, method, the
    stars' resolving power fitted with the refit (``gapviz.adapt.broadening``), None when there was no refit)."""
    wl, names = np.asarray(store["wavelength"].values, dtype=np.float64), store_label_names(store)
    if attribution in ("hypothesis", "species") and len(found):
        sample = _sample(store)
        if attribution == "hypothesis":
            if theory is None:
                raise GapvizError("--attribution hypothesis refits stars through the theory: the store has no "
                                  f"{S.THEORY_FILE} beside it (written by 'gapviz apply'); pass another --attribution")
            # refit the sampled stars by the theory alone without the features, so no star's fit absorbs them
            err = np.where(feature_pixels(wl, found, resolution)[None, :], np.nan, sample["flux_err"])
            flux = np.nan_to_num(sample["flux_obs"], nan=1.0)
            refit = np.asarray(theory.fit_labels(flux, err).labels, dtype=np.float64)
            # with the stars' extra line broadening: a sharper theory reads broad lines as other labels, and
            # the hypotheses' χ with them (on the SME mock the finder's χ came out ~1 eV high)
            refit, model, broad = refit_broadened(theory, wl, flux.astype(np.float64), err.astype(np.float64), refit,
                                                  resolution)
            seen = broad.resolution_observed if broad is not None else resolution
            hyp = build_hypotheses(lines, line_depth, wl, refit, names, seen, calibration)
            if hyp.species.size:
                return attribute_hypotheses(found, sample["flux_obs"] - model, model, hyp), attribution, seen
        else:
            known = species_patterns(sample["flux_obs"], wl, lines, line_depth, names, resolution)
            if known.species:
                return attribute_species(found, sample["residual_theory"], known), attribution, None
    if attribution in ("hypothesis", "species"):
        attribution = "regression"  # nothing to attribute, or no usable line: the label rule (cheap)
    out = attribute(found, sensitivity_from_arrays(store, attribution), wl, names, resolution,
                    spread=np.asarray(store["label_spread"].values, dtype=np.float64))
    out["attributed_species"] = ""
    return out, attribution, None


def candidates_dataset(candidates: pd.DataFrame, lines: pd.DataFrame, systematic: np.ndarray | None,
                       attrs: dict) -> xr.Dataset:
    """The finder's output as a Dataset in the store's vocabulary (dtypes, units, long_name)."""
    data = {}
    for table, prefix, dim, columns in ((candidates, "candidate_", "candidate", CANDIDATE_COLUMNS),
                                        (lines, "line_", "line", LINE_COLUMNS)):
        for col in columns:
            spec = S.CANDIDATE_VARS.get(prefix + col) or S.LINE_VARS[prefix + col]
            data[prefix + col] = ((dim,), _column(table, col, spec.dtype), {"units": spec.units,
                                                                           "long_name": spec.long_name})
    if systematic is not None:
        spec = S.WAVELENGTH_VARS["correction_systematic"]
        data[spec.name] = (("wavelength",), systematic, {"units": spec.units, "long_name": spec.long_name})
    return xr.Dataset(data, attrs=attrs | {"n_candidates": len(candidates)})


def _column(table: pd.DataFrame, col: str, dtype: str) -> np.ndarray:
    """One column in its stored dtype; a missing column is "" (strings), NaN (floats) or -1 (integers)."""
    if dtype == "str":
        values = table[col].to_numpy() if col in table else np.full(len(table), "", dtype=object)
        return np.array(["" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v) for v in values],
                        dtype=object)
    values = np.asarray(table[col].to_numpy(), dtype=np.float64) if col in table else np.full(len(table), np.nan)
    return values.astype(dtype) if np.dtype(dtype).kind == "f" else np.nan_to_num(values, nan=-1).astype(dtype)
