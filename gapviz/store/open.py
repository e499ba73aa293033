"""Open a store lazily (dask-backed) and read its candidate table."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import xarray as xr

from gapviz.errors import GapvizError
from gapviz.store.write import store_file


def open_store(path: str | os.PathLike) -> xr.Dataset:
    """Open ``STORE_DIR`` (or its ``store.nc``) as a lazy xarray Dataset chunked as on disk (along star)."""
    f = store_file(path)
    if not f.exists():
        raise GapvizError(f"{f}: no store here (expected STORE_DIR/store.nc written by 'gapviz analyze')")
    try:
        ds = xr.open_dataset(f, engine="h5netcdf", chunks={})
    except (OSError, ValueError) as exc:
        raise GapvizError(f"{f}: not a readable netCDF4 store: {exc}") from None
    if "wavelength" not in ds.dims:
        raise GapvizError(f"{f}: not a gapviz store (no 'wavelength' dimension)")
    return ds


def store_candidates(ds: xr.Dataset) -> pd.DataFrame:
    """The candidate table: one row per candidate, columns without the ``candidate_`` prefix."""
    cols = {
        name.removeprefix("candidate_"): np.asarray(ds[name].values)
        for name in ds.data_vars
        if name.startswith("candidate_") and ds[name].dims == ("candidate",)
    }
    table = pd.DataFrame(cols)
    if "in_linelist" in table:
        table["in_linelist"] = table["in_linelist"].astype(bool)
    return table
