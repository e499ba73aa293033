"""The no-learning baseline: median(observed) − median(synthetic), peaks above the noise.

No labels and no attribution. A candidate counts as absent from the theory (``in_linelist`` False) where the
synthetic median shows no feature of at least half the candidate's depth at that pixel. Medians are taken
over at most ``max_stars`` stars per set (evenly spaced rows, read in chunks) so memory stays bounded.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import pandas as pd

from gapviz.discover.crossmatch import STRENGTH_FRACTION, crossmatch
from gapviz.discover.detect import detect_features
from gapviz.instrument import RESOLUTION
from gapviz.io.spectra import SpectraFile, check_same_grid

MAX_STARS = 5000
ATTRIBUTION_NONE = "none"


@dataclass
class MedianSpectrum:
    """Per-pixel median flux (npix,), its standard error (1.2533 σ/√n) and the number of stars used."""

    wavelength: np.ndarray
    median: np.ndarray
    sem: np.ndarray
    n_star: int


def median_spectrum(path: str | os.PathLike, max_stars: int = MAX_STARS, chunk: int = 1024) -> MedianSpectrum:
    """Median over (a subsample of) the stars of a spectra file; unusable pixels are ignored."""
    with SpectraFile(path) as f:
        rows = np.unique(np.linspace(0, f.n_star - 1, min(f.n_star, max_stars)).astype(int))
        parts = []
        for start in range(0, rows.size, chunk):
            s = f.read(rows[start:start + chunk])
            parts.append(np.where(s.usable(), s.flux, np.nan))
        flux = np.concatenate(parts)
        n = np.isfinite(flux).sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            med = np.nanmedian(flux, axis=0)
            sem = 1.2533 * np.nanstd(flux, axis=0) / np.sqrt(np.maximum(n, 1))
        return MedianSpectrum(f.wavelength, med, sem, int(rows.size))


def baseline_candidates(
    observed: str | os.PathLike,
    synthetic: str | os.PathLike,
    linelist: pd.DataFrame,
    resolution: float = RESOLUTION,
    reference: pd.DataFrame | None = None,
    max_stars: int = MAX_STARS,
    min_significance: float = 5.0,
    min_depth: float = 0.01,
) -> tuple[MedianSpectrum, MedianSpectrum, pd.DataFrame]:
    """(observed median, synthetic median, candidates) of the baseline method; candidates have the columns
    of ``crossmatch`` plus ``attributed_label`` = "none", ``attribution_confidence`` = 0."""
    obs, syn = median_spectrum(observed, max_stars), median_spectrum(synthetic, max_stars)
    check_same_grid(obs.wavelength, syn.wavelength, str(observed), str(synthetic))
    diff = obs.median - syn.median
    sem = np.sqrt(obs.sem**2 + syn.sem**2)
    found = detect_features(obs.wavelength, diff, sem, resolution, min_significance, min_depth)
    found = crossmatch(found, linelist, None, resolution, reference, None)
    syn_depth = 1.0 - syn.median[found["pixel"].to_numpy(dtype=int)] if len(found) else np.zeros(0)
    found["linelist_depth"] = syn_depth
    found["in_linelist"] = syn_depth >= STRENGTH_FRACTION * np.abs(found["depth"].to_numpy(dtype=float))
    found["attributed_label"] = ATTRIBUTION_NONE
    found["attribution_confidence"] = 0.0
    return obs, syn, found
