"""Expected line depths at the shown star's labels: which line-list markers the wavelength browser draws.

A global log gf cut hides the molecules: a CO or CN line of log gf −5 is as deep in a cool giant as an Fe I line
of log gf −1. So markers are chosen by the central depth each line alone would make at the labels of the star
shown (the mean labels of the stars shown), from ``gapviz.theory.linemodel.LineModel`` on the store's own line
list, grid, resolution and calibration (``line_model_calibration``, as the store's find used it). The store
keeps no dissociation energies; molecules take theirs from ``gapviz.io.linelist.MOLECULE_D0_EV``.

When the model cannot be built (a line list it cannot read, no label teff/logg), the depths are NaN and the
markers fall back to the strongest log gf (``marker_lines``); ``MarkerChoice.note`` says so.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
import pandas as pd

from apps.store_data import StoreData
from gapviz.errors import GapvizError
from gapviz.instrument import RESOLUTION
from gapviz.io.linelist import MOLECULE_D0_EV

MAX_LINES = 40  # line markers drawn at once (deepest first)
MIN_DEPTH = 0.01  # default shallowest expected depth shown (1 % of the continuum)

_models: dict[str, tuple[object | None, str]] = {}
_lock = threading.Lock()


def line_model(data: StoreData):
    """(LineModel on the store's line list, "") or (None, why not); built once per store and process (~0.1 s)."""
    key = str(data.path)
    with _lock:
        if key not in _models:
            _models[key] = _build(data)
        return _models[key]


def _build(data: StoreData):
    from gapviz.theory.linemodel import LineModel

    lines = data.lines
    if lines.empty or not {"wavelength", "species", "loggf", "elow_ev"} <= set(lines.columns):
        return None, "the store holds no line list with wavelength, species, log gf and excitation energy"
    table = lines.assign(d0_ev=lines["species"].map(MOLECULE_D0_EV).astype(float), row=np.arange(len(lines)))
    calibration = str(data.attrs.get("line_model_calibration", "") or "none")
    try:
        model = LineModel(table, data.wavelength, resolution=float(data.attrs.get("resolution", RESOLUTION)),
                          label_names=data.label_names, min_depth=0.0,
                          calibration=None if calibration == "none" else calibration)
    except (GapvizError, ValueError, KeyError) as exc:
        return None, f"expected depths unavailable ({exc})"
    return model, ""


def star_labels(data: StoreData, stars) -> np.ndarray:
    """(n, nlabel) labels of ``stars`` in the store's label order; an unknown label is the store's median."""
    values = data.stars[data.label_names].to_numpy(dtype=np.float64)
    with np.errstate(all="ignore"):
        median = np.nanmedian(values, axis=0)
    rows = values[np.asarray(stars, dtype=np.int64)]
    return np.where(np.isfinite(rows), rows, median)


def shown_labels(data: StoreData, stars: list[int]) -> np.ndarray:
    """(nlabel,) mean labels of ``stars`` (``star_labels``; of every star when there are none)."""
    return star_labels(data, stars if len(stars) else np.arange(data.n_star)).mean(axis=0)


def expected_depths(data: StoreData, labels: np.ndarray) -> np.ndarray:
    """(nline,) central depth (0..1) each line of ``data.lines`` alone would make at ``labels`` (store order);
    NaN for lines the model lacks (no pixel near them, no model)."""
    depth = np.full(len(data.lines), np.nan)
    model, _ = line_model(data)
    if model is not None and np.isfinite(labels).all():
        rows = model.linelist["row"].to_numpy(dtype=np.int64)
        depth[rows] = model.line_depths(labels[None, :])[0]
    return depth


@dataclass
class MarkerChoice:
    """The line markers to draw (``lines`` with a ``depth`` column, deepest first) and a sentence on why some
    lines are not drawn ("" when nothing needs saying)."""

    lines: pd.DataFrame
    note: str


def marker_lines(lines: pd.DataFrame, depth: np.ndarray, x0: float, x1: float, species: list[str],
                 min_depth: float, cap: int = MAX_LINES) -> MarkerChoice:
    """Lines inside [x0, x1] Å of the chosen ``species`` (all if empty) whose expected ``depth`` is at least
    ``min_depth``, deepest ``cap`` first. Without depths (all NaN) the strongest log gf ``cap`` are drawn."""
    if lines.empty:
        return MarkerChoice(lines.assign(depth=[]), "The store holds no line list.")
    table = lines.assign(depth=depth)
    here = table[(table["wavelength"] >= x0) & (table["wavelength"] <= x1)]
    if species:
        here = here[here["species"].isin(species)]
    if not np.isfinite(depth).any():
        return MarkerChoice(here.sort_values("loggf", ascending=False).head(cap),
                            "Expected depths unavailable: markers are the strongest log gf.")
    deep = here[here["depth"] >= min_depth].sort_values("depth", ascending=False)
    note = ""
    if species:
        hidden = [s for s in species if not (deep["species"] == s).any()]
        for s in hidden:
            mine = here[here["species"] == s]
            if mine.empty:
                note += f"No {s} line in {x0:.1f}–{x1:.1f} Å. "
            else:
                note += (f"The {len(mine)} {s} line(s) in view are all shallower than {min_depth:.3g} at these "
                         f"labels (deepest {mine['depth'].max():.2g}): lower the shallowest depth shown. ")
    if len(deep) > cap:
        note += f"{cap} deepest of {len(deep)} lines drawn."
    return MarkerChoice(deep.head(cap), note.strip())
