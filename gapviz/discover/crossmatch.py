"""Match candidates with line lists: is the feature a known line that is too weak (strength problem) or a
line the theory lacks (missing line)? And which reference-list line is it, if any?

Why a tight position tolerance: an APOGEE-like list holds ~16 lines per Å, so nearly every missing line has
*some* catalogued line within one resolution element (λ/R ≈ 0.7 Å at R = 22500). A strength problem makes a
correction dip centred on the known line, so ``in_linelist`` asks for a theory line within
``POSITION_TOLERANCE`` × λ/R of the candidate's fitted (sub-pixel) centroid that is itself strong enough
(depth >= ``STRENGTH_FRACTION`` × the candidate's). Measured figures: docs/FINDER.md.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from gapviz.discover.rank import absent_absorption
from gapviz.errors import GapvizError
from gapviz.instrument import RESOLUTION

#: A theory line "explains" a candidate if its own depth is at least this fraction of the candidate's.
STRENGTH_FRACTION = 0.5
#: ... and lies within this fraction of a resolution element (λ/R) of the candidate's centroid.
POSITION_TOLERANCE = 0.3
#: Lines weaker than this (central depth) are ignored when naming the nearest theory line.
MIN_LINE_DEPTH = 1e-3


def lines_in_range(linelist: pd.DataFrame, wavelength: np.ndarray, source: str, margin: float = 2.0) -> pd.DataFrame:
    """The lines within the grid (± ``margin`` Å); GapvizError naming ``source`` if there are none."""
    lo, hi = float(np.min(wavelength)) - margin, float(np.max(wavelength)) + margin
    sel = linelist[(linelist["wavelength"] >= lo) & (linelist["wavelength"] <= hi)].reset_index(drop=True)
    if sel.empty:
        span = (f"{linelist['wavelength'].min():.2f}-{linelist['wavelength'].max():.2f} Å"
                if len(linelist) else "no lines at all")
        raise GapvizError(
            f"{source}: no lines in the spectra's range {lo + margin:.2f}-{hi - margin:.2f} Å (vacuum); "
            f"the list has {len(linelist)} lines spanning {span}: expected a line list for this wavelength range"
        )
    return sel


def read_linelist_in_range(path: str | os.PathLike, wavelength: np.ndarray) -> pd.DataFrame:
    """Read a line list (``gapviz.io.linelist.read_linelist``) and keep the lines on the grid."""
    from gapviz.io.linelist import read_linelist

    return lines_in_range(read_linelist(path), wavelength, str(path))


def line_model_depths(linelist: pd.DataFrame, wavelength: np.ndarray, resolution: float,
                      labels: dict[str, float], calibration: str | None = None) -> np.ndarray:
    """(nline,) central depth of each line alone at ``labels`` (``gapviz.theory.linemodel.LineModel``).

    Lines the LineModel drops as too weak everywhere get depth 0. Labels it needs but ``labels`` lacks
    are 0 (solar [X/Fe]). ``calibration``: LineModel's (None, or "sme" when the theory comes from a
    radiative-transfer code; ``gapviz.theory.calibration``).
    """
    from gapviz.labels import DEFAULT_LABELS
    from gapviz.theory.linemodel import LineModel

    try:
        model = LineModel(linelist, wavelength, resolution=resolution, label_names=list(labels),
                          calibration=calibration)
    except GapvizError:
        model = LineModel(linelist, wavelength, resolution=resolution, label_names=DEFAULT_LABELS,
                          calibration=calibration)
    row = np.array([[labels.get(n, 0.0) for n in model.label_names]], dtype=np.float64)
    kept = np.asarray(model.line_depths(row), dtype=np.float64).reshape(-1)
    slots: dict[tuple[float, str], list[int]] = {}
    for i, key in enumerate(zip(linelist["wavelength"].to_numpy(float), linelist["species"].astype(str))):
        slots.setdefault(key, []).append(i)
    depths = np.zeros(len(linelist))
    for d, key in zip(kept, zip(model.line_wavelength, model.line_species.astype(str))):
        if slots.get(key):
            depths[slots[key].pop(0)] = d
    return depths


def crossmatch(
    candidates: pd.DataFrame,
    linelist: pd.DataFrame,
    line_depth: np.ndarray | None,
    resolution: float = RESOLUTION,
    reference: pd.DataFrame | None = None,
    reference_depth: np.ndarray | None = None,
    strength_fraction: float = STRENGTH_FRACTION,
    position_tolerance: float = POSITION_TOLERANCE,
) -> pd.DataFrame:
    """Add ``in_linelist``, ``nearest_species``, ``nearest_wavelength``, ``linelist_depth``, ``identification``.

    candidates: table from ``detect_features`` (``wavelength`` Å, ``depth``); linelist: §2 table of the
    theory's lines; line_depth (nline,): central depth of each line alone at the stars' median labels
    (``LineModel.line_depths``) or None to treat every line as strong. A candidate is ``in_linelist`` when
    a theory line within ``position_tolerance`` resolution elements (|Δλ| <= tol × λ/R) of its centroid has
    depth >= ``strength_fraction`` × |depth|; ``linelist_depth`` is the deepest such line (0 if none).
    ``identification``: see ``identify``.
    """
    out = candidates.copy()
    lw = linelist["wavelength"].to_numpy(dtype=np.float64)
    depth = np.ones(lw.size) if line_depth is None else np.asarray(line_depth, dtype=np.float64).reshape(-1)
    species = linelist["species"].astype(str).to_numpy()
    visible = depth >= MIN_LINE_DEPTH if np.any(depth >= MIN_LINE_DEPTH) else np.ones(lw.size, bool)
    in_list, near_sp, near_wl, best_depth = [], [], [], []
    for wl, d in zip(out["wavelength"].to_numpy(), out["depth"].to_numpy()):
        fwhm = wl / resolution
        close = np.abs(lw - wl) <= position_tolerance * fwhm
        best = float(depth[close].max()) if close.any() else 0.0
        best_depth.append(best)
        in_list.append(bool(best >= strength_fraction * abs(d)))
        cand = np.flatnonzero(visible)
        j = cand[np.argmin(np.abs(lw[cand] - wl))] if cand.size else None
        near_sp.append(species[j] if j is not None else "")
        near_wl.append(float(lw[j]) if j is not None else np.nan)
    out["in_linelist"] = in_list
    out["nearest_species"] = near_sp
    out["nearest_wavelength"] = near_wl
    out["linelist_depth"] = best_depth
    return identify(out, linelist, reference, reference_depth, resolution)


def identify(candidates: pd.DataFrame, linelist: pd.DataFrame, reference: pd.DataFrame | None,
             reference_depth: np.ndarray | None, resolution: float = RESOLUTION) -> pd.DataFrame:
    """Set ``identification``: the reference line proposed for each candidate, as "species wavelength".

    Among the ``reference`` lines within one resolution element: those of the candidate's
    ``attributed_species`` if it has one there (the species whose behaviour the feature follows); for an
    absorption feature absent from the theory's list, those the theory's list lacks if any (a missing line
    is a catalogued line the theory does not have); then the strongest (by ``reference_depth``, the line's
    own depth at the stars' median labels, else log gf). "" if no reference line is that close.
    """
    out = candidates.copy()
    if reference is None or reference.empty or out.empty:
        out["identification"] = ""
        return out
    rw = reference["wavelength"].to_numpy(dtype=np.float64)
    rs = reference["species"].astype(str).to_numpy()
    strength = (np.asarray(reference_depth, dtype=np.float64).reshape(-1) if reference_depth is not None
                else reference["loggf"].to_numpy(dtype=np.float64))
    theory = {(round(w, 2), sp) for w, sp in zip(linelist["wavelength"].to_numpy(float),
                                                 linelist["species"].astype(str))}
    lacking = np.array([(round(w, 2), sp) not in theory for w, sp in zip(rw, rs)], dtype=bool)
    species = out["attributed_species"].astype(str).to_numpy() if "attributed_species" in out else None
    absent = absent_absorption(out)
    ident = []
    for k, wl in enumerate(out["wavelength"].to_numpy(float)):
        close = np.abs(rw - wl) <= wl / resolution
        for narrower in ((rs == species[k]) if species is not None and species[k] else None,
                         lacking if absent[k] else None):
            if narrower is not None and (close & narrower).any():
                close = close & narrower
        idx = np.flatnonzero(close)
        if idx.size == 0:
            ident.append("")
            continue
        j = idx[int(np.nanargmax(strength[idx]))] if np.any(np.isfinite(strength[idx])) else idx[0]
        ident.append(f"{rs[j]} {rw[j]:.2f}")
    out["identification"] = ident
    return out
