"""The stars a synthesis makes: label rows from a file, or a TOML grid, box or population spec.

TOML forms (one table per file)::

    [grid]                    # every combination of the nodes, as a real synthetic grid
    teff = {start = 4000, stop = 5000, step = 250}
    logg = [1.5, 2.5]
    fe_h = [0.0]

    [box]                     # Latin-hypercube sampling of a box (one stratum per star per label)
    n = 500
    seed = 0
    teff = [3800, 5200]
    logg = [1.0, 3.5]
    fe_h = [-1.0, 0.3]
    mg_fe = [-0.2, 0.4]

    [population]              # the mock's realistic survey population (gapviz.mock.population)
    n = 500
    seed = 0
    labels = ["teff", "logg", "fe_h", "c_fe", "n_fe", "o_fe"]
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import numpy as np

from gapviz.errors import GapvizError
from gapviz.files import read_toml
from gapviz.io.label_table import check_labels, read_label_rows
from gapviz.labels import DEFAULT_LABELS

FORMS = ("grid", "box", "population")


def read_stars(path: str | os.PathLike) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """(labels {name: (nstar,)}, star_id (nstar,)) from a CSV/HDF5 file of rows or a TOML spec."""
    path = Path(path)
    if path.suffix.lower() == ".toml":
        labels = labels_from_spec(read_toml(path, "labels file"), str(path))
        star_id = None
    else:
        labels, star_id = read_label_rows(path)
    n = next(iter(labels.values())).size
    if star_id is None:
        star_id = np.array([f"synth-{i:06d}" for i in range(n)])
    return labels, star_id


def labels_from_spec(spec: dict, source: str = "<spec>") -> dict[str, np.ndarray]:
    """Labels from a parsed TOML spec (see the module docstring)."""
    forms = [k for k in FORMS if k in spec]
    if len(forms) != 1:
        raise GapvizError(f"{source}: give exactly one of [grid], [box] or [population] (found {sorted(spec)})")
    form, table = forms[0], dict(spec[forms[0]])
    if form == "grid":
        labels = _grid(table, source)
    elif form == "box":
        labels = _box(table, source)
    else:
        labels = _population(table, source)
    check_labels(labels, source)
    return labels


def _nodes(value, name: str, source: str) -> np.ndarray:
    if isinstance(value, dict):
        try:
            start, stop, step = (float(value[k]) for k in ("start", "stop", "step"))
        except (KeyError, TypeError, ValueError):
            raise GapvizError(f"{source}: [grid] {name} needs numbers start, stop, step") from None
        if not step > 0 or stop < start:
            raise GapvizError(f"{source}: [grid] {name}: need step > 0 and stop >= start")
        return np.arange(start, stop + step / 2, step)
    if isinstance(value, (int, float)):
        return np.array([float(value)])
    try:
        return np.asarray(value, dtype=np.float64).ravel()
    except (TypeError, ValueError):
        raise GapvizError(f"{source}: [grid] {name} must be a number, a list or {{start, stop, step}}") from None


def _grid(table: dict, source: str) -> dict[str, np.ndarray]:
    names = list(table)
    axes = [_nodes(table[n], n, source) for n in names]
    rows = np.array(list(itertools.product(*axes)), dtype=np.float64).reshape(-1, len(names))
    return {n: rows[:, j] for j, n in enumerate(names)}


def _count_and_seed(table: dict, form: str, source: str) -> tuple[int, int]:
    try:
        n, seed = int(table.pop("n")), int(table.pop("seed", 0))
    except (KeyError, TypeError, ValueError):
        raise GapvizError(f"{source}: [{form}] needs n (number of stars) and optionally seed") from None
    if n < 1:
        raise GapvizError(f"{source}: [{form}] n must be >= 1, got {n}")
    return n, seed


def _box(table: dict, source: str) -> dict[str, np.ndarray]:
    n, seed = _count_and_seed(table, "box", source)
    rng = np.random.default_rng(seed)
    labels = {}
    for name, edges in table.items():
        try:
            lo, hi = (float(x) for x in edges)
        except (TypeError, ValueError):
            raise GapvizError(f"{source}: [box] {name} must be [lo, hi]") from None
        if hi < lo:
            raise GapvizError(f"{source}: [box] {name}: hi < lo")
        labels[name] = lo + (rng.permutation(n) + rng.random(n)) / n * (hi - lo)
    return labels


def _population(table: dict, source: str) -> dict[str, np.ndarray]:
    from gapviz.mock.population import observed_population

    n, seed = _count_and_seed(table, "population", source)
    names = tuple(table.pop("labels", DEFAULT_LABELS))
    if table:
        raise GapvizError(f"{source}: [population] takes n, seed and labels; unknown {sorted(table)}")
    values = observed_population(n, names, np.random.default_rng(seed))
    return {name: values[:, j] for j, name in enumerate(names)}
