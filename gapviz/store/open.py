"""Open a store lazily (dask-backed), check it holds what a reader needs, and read its candidate table."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import xarray as xr

from gapviz.errors import GapvizError
from gapviz.store.paths import existing_store_file

#: The star × wavelength variables without which a store has no per-star spectra to show or search.
STAR_VARIABLES = ("wavelength", "star_id", "flux_obs", "flux_err", "flux_theory", "flux_adapted",
                  "residual_theory", "residual_adapted", "correction")


def open_store(path: str | os.PathLike, require: tuple[str, ...] = ()) -> xr.Dataset:
    """Open ``STORE_DIR`` (or its ``store.nc``) as a lazy xarray Dataset chunked as on disk (along star).

    ``require``: variables the caller needs (e.g. ``STAR_VARIABLES``); GapvizError naming the missing ones.
    """
    f = existing_store_file(path)
    try:
        ds = xr.open_dataset(f, engine="h5netcdf", chunks={})
    except Exception as exc:  # noqa: BLE001 - any reader failure means "not a store"
        raise GapvizError(f"{f}: not a readable netCDF4 store: {exc}") from None
    if "wavelength" not in ds.dims:
        ds.close()
        raise GapvizError(f"{f}: not a gapviz store (no 'wavelength' dimension)")
    missing = [v for v in require if v not in ds.variables]
    if missing:
        ds.close()
        if ds.attrs.get("method") == "baseline":
            raise GapvizError(f"{f}: a baseline store (method='baseline') holds no per-star spectra; this needs a "
                              "store written by 'gapviz apply' from a trained run")
        raise GapvizError(f"{f}: not a complete gapviz store: variable(s) {missing} missing (expected the "
                          "variables of docs/ARCHITECTURE.md §6, written by 'gapviz apply')")
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
