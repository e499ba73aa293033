"""The mock experiment's ground truth file, ``truth.h5`` (HDF5, read and written with h5py).

Layout::

    /removed/{wavelength, species, element, label, loggf, elow_ev, depth_ref, depth_max, blend_ratio,
              blended}
                                     one row per line left out of the theory: wavelength vacuum Å; element and
                                     label drive its strength (label "" if none, e.g. H); loggf dex; central
                                     depths 0-1 of the complete theory (R = resolution): depth_ref at the
                                     reference giant (teff 4700, logg 2.5, solar), depth_max over the observed
                                     stars; blend_ratio = deepest kept line within λ/resolution_observed over
                                     its own depth, at the star where it is deepest; blended = blend_ratio >= 0.5
    /perturbed/{wavelength, species, delta_loggf}   lines the theory has with log gf off by delta_loggf dex
    /labels/<name>   (nstar,)        true labels of the observed stars (teff K, logg dex, abundances dex)
    /star_id         (nstar,)        matching observed.h5's /star_id
    /snr             (nstar,)        each observed star's continuum S/N
    /chi2nu_theory_true (nstar,)     reduced χ² of the observed flux against the theory at the true labels
    attrs: resolution (theory), resolution_observed, seed, command, and the experiment's other settings.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np
import pandas as pd

from gapviz.errors import GapvizError
from gapviz.files import atomic_path

_STR = h5py.string_dtype()


@dataclass
class Truth:
    """What the mock experiment hid from the theory and from the observed file."""

    removed: pd.DataFrame
    perturbed: pd.DataFrame
    labels: dict[str, np.ndarray]
    star_id: np.ndarray
    snr: np.ndarray
    chi2nu_theory_true: np.ndarray
    attrs: dict = field(default_factory=dict)


def _write_table(group: h5py.Group, table: pd.DataFrame) -> None:
    for name in table.columns:
        values = table[name].to_numpy()
        if values.dtype.kind in "OUS":
            group.create_dataset(name, data=np.asarray(values, dtype=object), dtype=_STR)
        else:
            group.create_dataset(name, data=values)


def _read_table(group: h5py.Group) -> pd.DataFrame:
    cols = {}
    names = [n for n in COLUMN_ORDER if n in group] + sorted(n for n in group if n not in COLUMN_ORDER)
    for name in names:
        ds = group[name]
        values = ds[()]
        if ds.dtype.kind == "O" or h5py.check_string_dtype(ds.dtype):
            values = np.array([v.decode() if isinstance(v, bytes) else str(v) for v in values])
        cols[name] = values
    return pd.DataFrame(cols)


def write_truth(truth: Truth, path: str | os.PathLike, overwrite: bool = True) -> Path:
    """Write ``truth`` to ``path`` atomically (no timestamps, so one seed gives the same bytes)."""
    path = Path(path)
    with atomic_path(path, overwrite=overwrite) as tmp:
        with h5py.File(tmp, "w") as f:
            _write_table(f.create_group("removed"), truth.removed)
            _write_table(f.create_group("perturbed"), truth.perturbed)
            labels = f.create_group("labels")
            for name, values in truth.labels.items():
                labels.create_dataset(name, data=np.asarray(values, dtype=np.float64))
            f.create_dataset("star_id", data=np.asarray(truth.star_id, dtype=object), dtype=_STR)
            f.create_dataset("snr", data=np.asarray(truth.snr, dtype=np.float64))
            f.create_dataset("chi2nu_theory_true", data=np.asarray(truth.chi2nu_theory_true, dtype=np.float64))
            for key, value in truth.attrs.items():
                f.attrs[key] = value
    return path


def _optional(f: h5py.File, name: str, n: int) -> np.ndarray:
    return np.asarray(f[name][()], dtype=np.float64) if name in f else np.full(n, np.nan)


def _ordered_labels(f: h5py.File) -> dict[str, np.ndarray]:
    """/labels in the experiment's label order (attr label_names), not HDF5's alphabetical one."""
    group = f["labels"]
    order = str(f.attrs.get("label_names", "")).split(",")
    names = [n for n in order if n in group] + sorted(n for n in group if n not in order)
    return {n: np.asarray(group[n][()], dtype=np.float64) for n in names}


COLUMN_ORDER = ("wavelength", "species", "element", "label", "loggf", "elow_ev", "depth_ref", "depth_max",
                "blend_ratio", "blended", "delta_loggf")


def read_truth(path: str | os.PathLike) -> Truth:
    """Read a ``truth.h5`` written by ``gapviz mock``; GapvizError naming the file if it is not one."""
    path = Path(path)
    if not path.is_file():
        raise GapvizError(f"{path}: no such file (expected a gapviz mock truth.h5)")
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise GapvizError(f"{path}: not a readable HDF5 file: {exc}") from None
    with f:
        missing = [k for k in ("removed", "perturbed", "labels", "star_id") if k not in f]
        if missing:
            raise GapvizError(
                f"{path}: missing {missing}; a gapviz mock truth.h5 has /removed, /perturbed, /labels, /star_id"
            )
        star_id = np.array([v.decode() if isinstance(v, bytes) else str(v) for v in f["star_id"][()]])
        n = star_id.size
        return Truth(
            removed=_read_table(f["removed"]),
            perturbed=_read_table(f["perturbed"]),
            labels=_ordered_labels(f),
            star_id=star_id,
            snr=_optional(f, "snr", n),
            chi2nu_theory_true=_optional(f, "chi2nu_theory_true", n),
            attrs={k: (v.decode() if isinstance(v, bytes) else v) for k, v in f.attrs.items()},
        )
