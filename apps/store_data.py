"""Which store the explorer shows, and its in-memory part (loaded once per process).

The explorer reads only the store (docs/ARCHITECTURE.md §6). Where a store lives and what makes one are the
library's rules: ``gapviz.store.store_file`` (STORE_DIR means its ``store.nc``) and
``gapviz.store.open_store(..., require=STAR_VARIABLES)`` (a GapvizError naming the file otherwise).
``load_store`` keeps the small pieces in memory (per-star labels, the wavelength summaries, candidates, the
line list); the star × wavelength cubes stay on disk and are read a few rows at a time (``apps.rows``).
"""

from __future__ import annotations

import functools
import hashlib
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import panel as pn
import xarray as xr

from gapviz.errors import GapvizError
from gapviz.io.grids import segments
from gapviz.labels import LABELS
from gapviz.store import (
    STAR_VARIABLES,
    candidates_file,
    open_store,
    store_candidates,
    store_file,
)

#: Star × wavelength cubes the residual map can show.
MAP_CUBES = ("residual_theory", "residual_adapted", "correction")
#: Per-wavelength summaries kept in memory.
PROFILES = ("correction_mean", "correction_std", "residual_theory_mean", "residual_adapted_mean",
            "correction_systematic")
#: Labels whose binned mean correction the store may hold (``correction_by_<label>`` over ``<label>_bin``).
BINNED_LABELS = ("teff", "logg", "fe_h")
RESPONSES = ("response_adapted", "response_theory", "response_difference")


def repo_root() -> Path:
    """The repository holding ``apps/`` (and ``data_samples/``)."""
    return Path(__file__).resolve().parent.parent


def default_store_dir() -> Path:
    """The shipped sample store: ``data_samples/store``."""
    return repo_root() / "data_samples" / "store"


def server_args(argv: list[str] | None = None) -> tuple[Path, str | None]:
    """(STORE_DIR, REPAIR_DIR or None) chosen at server start:
    ``panel serve apps/explorer.py --args STORE_DIR [--repair REPAIR_DIR]``; no STORE_DIR: the sample."""
    argv = sys.argv if argv is None else argv
    args = [a for a in argv[1:] if a.strip()]
    repair = None
    if "--repair" in args:
        i = args.index("--repair")
        repair = args[i + 1] if i + 1 < len(args) else ""
        args = args[:i] + args[i + 2:]
    return (Path(args[0]).expanduser() if args else default_store_dir()), repair


def store_dir_from_argv(argv: list[str] | None = None) -> Path:
    """The store chosen at server start: ``panel serve apps/explorer.py --args STORE_DIR`` or the sample."""
    return server_args(argv)[0]


@dataclass
class StoreData:
    """The store's in-memory part. wavelength (npix,) Å vacuum; stars one row per star (index = position)."""

    path: Path
    ds: xr.Dataset
    wavelength: np.ndarray
    segments: list[slice]
    label_names: list[str]
    stars: pd.DataFrame
    candidates: pd.DataFrame
    lines: pd.DataFrame
    profiles: dict[str, np.ndarray] = field(default_factory=dict)  # name -> (npix,)
    by_label: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)  # label -> (bins, (nbin, npix))
    response: dict[str, np.ndarray] = field(default_factory=dict)  # name -> (nlabel, npix)
    response_labels: list[str] = field(default_factory=list)
    attrs: dict = field(default_factory=dict)
    chunk_stars: int = 1
    rows: xr.Dataset | None = None  # the same file without dask, for reading a few rows (apps.rows.read_rows)

    @property
    def n_star(self) -> int:
        return len(self.stars)

    @property
    def sort_keys(self) -> list[str]:
        """Per-star quantities the residual map's rows can be sorted by: the labels, χ²ν of the theory, S/N."""
        return self.label_names + [c for c in ("chi2nu_theory", "snr") if c in self.stars]

    def pixel(self, wavelength: float) -> int:
        """Index of the pixel nearest ``wavelength`` (Å)."""
        return int(np.argmin(np.abs(self.wavelength - wavelength)))

    @functools.cached_property
    def key(self) -> str:
        """A short fingerprint of the store's stars and candidates, for shared links ("g" + 8 hex digits).

        Links keep star positions and a candidate row, which mean other stars in another store (or a rerun
        of the same one): a link whose fingerprint differs keeps only its wavelength range and views.
        """
        h = hashlib.sha1(str(self.n_star).encode())
        h.update("\n".join(self.stars["star_id"].astype(str)).encode() if "star_id" in self.stars else b"")
        if "wavelength" in self.candidates:
            h.update(np.ascontiguousarray(self.candidates["wavelength"].to_numpy(np.float64)).tobytes())
        return "g" + h.hexdigest()[:8]  # a letter first: the URL parser would turn digits into a number


def _values(ds: xr.Dataset, name: str) -> np.ndarray:
    return np.asarray(ds[name].values)


def _floats(ds: xr.Dataset, names) -> dict[str, np.ndarray]:
    """{name: float64 values} of those ``names`` the store holds."""
    return {n: _values(ds, n).astype(np.float64) for n in names if n in ds.variables}


def _label_names(ds: xr.Dataset) -> list[str]:
    names = [str(n) for n in _values(ds, "label")] if "label" in ds.variables else list(LABELS)
    return [n for n in names if n in ds.variables and ds[n].dims == ("star",)]


def _candidates(ds: xr.Dataset, path: Path) -> pd.DataFrame:
    """The candidate table in rank order (``candidates.csv`` beside the store when the store holds none)."""
    table = store_candidates(ds)
    if table.empty and candidates_file(path).exists():
        table = pd.read_csv(candidates_file(path))
    if not table.empty and "wavelength" not in table:
        raise GapvizError(f"{path}: candidate table has no 'candidate_wavelength' (docs/ARCHITECTURE.md §6)")
    for col in ("nearest_species", "attributed_label", "attributed_species", "identification"):
        if col in table:
            table[col] = table[col].astype(str)
    return table.reset_index(drop=True)


def _chunk_stars(ds: xr.Dataset) -> int:
    """Stars per storage chunk of the cubes (reading one row decompresses its whole chunk)."""
    enc = ds["flux_obs"].encoding.get("chunksizes") or (None,)
    if enc[0]:
        return int(enc[0])
    return int(ds["flux_obs"].chunks[0][0]) if ds["flux_obs"].chunks else 1


def build_store_data(path: str | Path) -> StoreData:
    """Read the small parts of the store at ``path`` (STORE_DIR or store.nc) into memory."""
    f = store_file(path)
    ds = open_store(f, require=STAR_VARIABLES)
    wl = _values(ds, "wavelength").astype(np.float64)
    labels = _label_names(ds)
    cols = {"star_id": _values(ds, "star_id").astype(str)}
    for name in [*labels, *(f"{n}_err" for n in labels), "snr", "chi2nu_theory", "chi2nu_adapted"]:
        if name in ds.variables and ds[name].dims == ("star",):
            cols[name] = _values(ds, name).astype(np.float64)
    lines = pd.DataFrame({k: _values(ds, f"line_{k}") for k in ("wavelength", "species", "loggf", "elow_ev")
                          if f"line_{k}" in ds.variables})
    if "species" in lines:
        lines["species"] = lines["species"].astype(str)
    by_label = {name: (_values(ds, f"{name}_bin").astype(np.float64),
                       _values(ds, f"correction_by_{name}").astype(np.float64))
                for name in BINNED_LABELS if f"correction_by_{name}" in ds.variables and f"{name}_bin" in ds.variables}
    return StoreData(path=f, ds=ds, wavelength=wl, segments=segments(wl), label_names=labels,
                     stars=pd.DataFrame(cols), candidates=_candidates(ds, f), lines=lines,
                     profiles=_floats(ds, PROFILES), by_label=by_label, response=_floats(ds, RESPONSES),
                     response_labels=[str(n) for n in _values(ds, "label")] if "label" in ds.variables else [],
                     attrs=dict(ds.attrs), chunk_stars=_chunk_stars(ds), rows=xr.open_dataset(f, engine="h5netcdf"))


@pn.cache(max_items=4)
def load_store(path: str) -> StoreData:
    """``build_store_data`` cached once per process for all sessions (keyed by the resolved path)."""
    return build_store_data(Path(path))
