"""Attribution by species behaviour: which known species does a candidate vary like, star to star?

A missing CO line deepens and weakens from star to star exactly as the catalogued CO lines do (same
molecule, same limiting element, similar excitation), whatever the stars' labels are. So:

* each species' *pattern* (n_star,): at "clean" lines of the theory list (central depth at the median star
  >= ``MIN_LINE_DEPTH`` and at least ``DOMINANCE`` of all theory absorption within one resolution element),
  the observed depth 1 − flux_obs at the line's pixel, divided by its median over the stars, averaged over
  the species' clean lines (species with fewer than ``MIN_LINES`` clean lines are left out);
* a candidate's per-star signal: the residual against the theory (flux_obs − flux_theory) averaged over the
  candidate's pixel ± 1, sign flipped for absorption (deeper is larger);
* the candidate goes to the species whose pattern it correlates with best (Pearson over the stars both
  cover), then to that species' limiting element's label (``gapviz.labels.line_element``: CN -> N,
  CO -> C, OH/H2O -> O, FeH -> Fe, atoms -> themselves; ``element_to_label``: elements without a label ->
  ``fe_h``). Confidence: best correlation minus the best correlation of a species with another label (0-1).
  No positive correlation at all -> "none".

Both inputs are observed quantities, so the attribution does not inherit errors of the inferred labels.
Species of the theory list only: a molecule the theory lacks entirely cannot be named. Measured (and
fragile to its clean-line cuts): docs/FINDER.md.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from gapviz.discover.attribute import NONE
from gapviz.instrument import RESOLUTION

#: A clean line is at least this deep (central, at the median star) ...
MIN_LINE_DEPTH = 0.02
#: ... and makes at least this fraction of the theory's absorption within one resolution element.
DOMINANCE = 0.5
#: A species needs this many clean lines to have a pattern.
MIN_LINES = 2
#: Stars (evenly spaced rows) kept in memory for the attribution.
MAX_STARS = 1000


@dataclass
class SpeciesPatterns:
    """species (S,), label (S,) that limits it ("" if none), pattern (n_star, S), n_lines (S,) clean lines."""

    species: list[str]
    label: list[str]
    pattern: np.ndarray
    n_lines: list[int]


def species_label(species: str, elements: str, label_names: Sequence[str]) -> str:
    """The label that limits a species' lines (see the module doc); "" if none (H, He)."""
    from gapviz.labels import element_to_label, line_element

    return element_to_label(line_element(species, elements), label_names)


def nearest_pixel(wavelength: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Index of the grid pixel nearest each wavelength ``at`` (Å)."""
    i = np.clip(np.searchsorted(wavelength, at), 1, wavelength.size - 1)
    return np.where(np.abs(wavelength[i - 1] - at) <= np.abs(wavelength[i] - at), i - 1, i)


def clean_lines(linelist: pd.DataFrame, line_depth: np.ndarray, wavelength: np.ndarray,
                resolution: float = RESOLUTION, min_depth: float = MIN_LINE_DEPTH,
                dominance: float = DOMINANCE) -> np.ndarray:
    """(nline,) bool: lines deep enough, dominant within λ/R, and centred within half a pixel of the grid."""
    lw = linelist["wavelength"].to_numpy(np.float64)
    depth = np.asarray(line_depth, dtype=np.float64).reshape(-1)
    pix = nearest_pixel(wavelength, lw)
    step = np.gradient(wavelength)[pix]
    ok = (depth >= min_depth) & (np.abs(wavelength[pix] - lw) <= 0.5 * step)
    for i in np.flatnonzero(ok):
        near = np.abs(lw - lw[i]) <= lw[i] / resolution
        ok[i] = depth[i] >= dominance * depth[near].sum()
    return ok


def species_patterns(flux: np.ndarray, wavelength: np.ndarray, linelist: pd.DataFrame, line_depth: np.ndarray,
                     label_names: Sequence[str], resolution: float = RESOLUTION) -> SpeciesPatterns:
    """Per-species observed depth patterns over the stars; flux (n, npix) observed, NaN where unusable."""
    flux = np.asarray(flux, dtype=np.float64)
    clean = clean_lines(linelist, line_depth, wavelength, resolution)
    species = linelist["species"].astype(str).to_numpy()
    elements = (linelist["elements"].astype(str).to_numpy() if "elements" in linelist else species)
    pix = nearest_pixel(wavelength, linelist["wavelength"].to_numpy(np.float64))
    names, labels, patterns, counts = [], [], [], []
    for sp in sorted(set(species[clean].tolist())):
        idx = np.flatnonzero(clean & (species == sp))
        if idx.size < MIN_LINES:
            continue
        depth = 1.0 - flux[:, pix[idx]]
        with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns (masked pixels)
            scale = np.nanmedian(depth, axis=0)
            good = np.isfinite(scale) & (scale > 0)
            if good.sum() < MIN_LINES:
                continue
            patterns.append(np.nanmean(depth[:, good] / scale[good], axis=1))
        names.append(sp)
        labels.append(species_label(sp, elements[idx[0]], label_names))
        counts.append(int(good.sum()))
    pattern = np.column_stack(patterns) if patterns else np.zeros((flux.shape[0], 0))
    return SpeciesPatterns(names, labels, pattern, counts)


def correlations(y: np.ndarray, patterns: np.ndarray) -> np.ndarray:
    """(S,) Pearson correlation of y (n,) with each column of patterns (n, S), over stars where both are finite."""
    out = np.full(patterns.shape[1], np.nan)
    for k in range(patterns.shape[1]):
        ok = np.isfinite(y) & np.isfinite(patterns[:, k])
        if ok.sum() < 3:
            continue
        a, b = y[ok] - y[ok].mean(), patterns[ok, k] - patterns[ok, k].mean()
        den = np.sqrt((a * a).sum() * (b * b).sum())
        out[k] = (a * b).sum() / den if den > 0 else np.nan
    return out


def choose_species(signal: np.ndarray, known: SpeciesPatterns) -> tuple[str, str, float]:
    """(species, label, confidence) for one candidate's per-star signal (n,) (deeper is larger)."""
    if not known.species:
        return "", NONE, 0.0
    r = np.nan_to_num(correlations(signal, known.pattern), nan=-1.0)
    best = int(np.argmax(r))
    if r[best] <= 0:
        return "", NONE, 0.0
    other = [r[k] for k in range(r.size) if known.label[k] != known.label[best]]
    margin = r[best] - (max(other) if other else 0.0)
    return known.species[best], known.label[best] or NONE, float(np.clip(margin, 0.0, 1.0))


def pixel_window_mean(cube: np.ndarray, pixel: int) -> np.ndarray:
    """(n,) mean of ``cube`` (n, npix) over pixels ``pixel`` ± 1, NaN ignored (NaN where all are)."""
    lo, hi = max(0, pixel - 1), min(cube.shape[1], pixel + 2)
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN windows (masked pixels)
        return np.nanmean(cube[:, lo:hi], axis=1)


def attribute_species(candidates: pd.DataFrame, residual: np.ndarray, known: SpeciesPatterns) -> pd.DataFrame:
    """Add ``attributed_species``, ``attributed_label``, ``attribution_confidence`` to ``candidates``.

    residual (n, npix): flux_obs − flux_theory of the same stars as ``known`` (NaN where unusable);
    candidates need ``pixel`` and ``depth``.
    """
    out = candidates.copy()
    residual = np.asarray(residual, dtype=np.float64)
    chosen = []
    for p, d in zip(out["pixel"].to_numpy(int), out["depth"].to_numpy(float)):
        chosen.append(choose_species(-np.sign(d) * pixel_window_mean(residual, p), known))
    out["attributed_species"] = [c[0] for c in chosen]
    out["attributed_label"] = [c[1] for c in chosen]
    out["attribution_confidence"] = [c[2] for c in chosen]
    return out
