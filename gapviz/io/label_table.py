"""Tables of stellar labels to synthesise: CSV or HDF5 rows, or a TOML box / population spec.

``read_label_rows(path)`` -> (labels: {name: (nstar,) float64}, star_id or None). Forms:

* CSV: one row per star, a column per label (``teff,logg,fe_h,mg_fe,...``); an optional ``star_id`` column.
* HDF5: a gapviz spectra file's ``/labels`` group, or 1-D datasets at the top level, one per label.
* TOML: a ``[box]`` table (see ``gapviz.workflow.synth_labels``), read by the workflow, not here.

Names are lower-cased; values must be finite numbers; every star needs teff, logg and fe_h.
"""

from __future__ import annotations

import os
from pathlib import Path

import h5py
import numpy as np
import pandas as pd

from gapviz.errors import GapvizError

REQUIRED = ("teff", "logg", "fe_h")


def read_label_rows(path: str | os.PathLike) -> tuple[dict[str, np.ndarray], np.ndarray | None]:
    """Labels per star from a CSV or HDF5 file (see the module docstring)."""
    path = Path(path)
    if not path.is_file():
        raise GapvizError(f"{path}: no such labels file (expected CSV, HDF5 or TOML)")
    with open(path, "rb") as fh:
        head = fh.read(8)
    if head.startswith(b"\x89HDF"):
        labels, star_id = _read_h5(path)
    else:
        labels, star_id = _read_csv(path)
    check_labels(labels, str(path))
    return labels, star_id


def _read_csv(path: Path) -> tuple[dict[str, np.ndarray], np.ndarray | None]:
    try:
        table = pd.read_csv(path, comment="#", skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise GapvizError(f"{path}: not a readable labels CSV: {exc}") from None
    table.columns = [str(c).strip().lower() for c in table.columns]
    star_id = table.pop("star_id").astype(str).to_numpy() if "star_id" in table else None
    labels = {}
    for name in table.columns:
        values = pd.to_numeric(table[name], errors="coerce").to_numpy(np.float64)
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            raise GapvizError(f"{path}: line {bad[0] + 2}: {name} = {table[name].iloc[bad[0]]!r} is not a finite number")
        labels[name] = values
    return labels, star_id


def _read_h5(path: Path) -> tuple[dict[str, np.ndarray], np.ndarray | None]:
    with h5py.File(path, "r") as f:
        group = f["labels"] if isinstance(f.get("labels"), h5py.Group) else f
        labels = {k.strip().lower(): np.asarray(v[()], dtype=np.float64) for k, v in group.items()
                  if isinstance(v, h5py.Dataset) and v.ndim == 1 and v.dtype.kind in "fiu"}
        star_id = None
        if "star_id" in f:
            star_id = np.array([x.decode() if isinstance(x, bytes) else str(x) for x in f["star_id"][()]])
    return labels, star_id


def check_labels(labels: dict[str, np.ndarray], source: str) -> None:
    """GapvizError unless ``labels`` has teff, logg, fe_h, at least one star, equal lengths and finite values."""
    missing = [n for n in REQUIRED if n not in labels]
    if missing:
        raise GapvizError(f"{source}: labels lack {missing}; every star needs teff, logg and fe_h (found {sorted(labels)})")
    sizes = {np.size(v) for v in labels.values()}
    if len(sizes) != 1 or 0 in sizes:
        raise GapvizError(f"{source}: label columns must have one value per star, all the same length (got {sizes})")
    for name, values in labels.items():
        if not np.isfinite(values).all():
            raise GapvizError(f"{source}: label {name} has non-finite values")
