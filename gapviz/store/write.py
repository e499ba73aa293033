"""Streaming store writer: create ``store.nc`` with its full dims, then write star chunks as regions.

Memory stays bounded by one chunk: cubes are written with h5netcdf region writes, aggregates are sums
(``gapviz.store.aggregate``). The file is built under a temporary name beside the target and renamed
only when complete (``gapviz.files.atomic_path``). The finder's dimensions (``candidate``, ``line``) are
unlimited, so ``update_store`` can rewrite them on a copy of an existing store, renamed over it when done.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import h5netcdf
import h5py
import numpy as np
import pandas as pd

from gapviz.errors import GapvizError
from gapviz.files import atomic_path
from gapviz.io.grids import chip_of
from gapviz.store import schema as S
from gapviz.store.paths import check_target, store_file  # noqa: F401  (re-exported)


@dataclass
class StoreLayout:
    """The fixed shape of a store. wavelength (npix,) vacuum Å; bin_centres: label -> (nbin,) centres."""

    wavelength: np.ndarray
    n_star: int
    label_names: list[str] = field(default_factory=list)
    bin_centres: dict[str, np.ndarray] = field(default_factory=dict)
    chunk_stars: int = 256
    cubes: tuple[str, ...] = tuple(S.CUBES)


def _spec(name: str, layout: StoreLayout) -> S.VarSpec:
    for table in (S.CUBES, S.STAR_VARS, S.WAVELENGTH_VARS, S.LABEL_VARS, S.CANDIDATE_VARS, S.LINE_VARS):
        if name in table:
            return table[name]
    for lab in layout.label_names:
        if name == lab:
            return S.label_spec(lab)
        if name == f"{lab}_err":
            return S.label_spec(lab, err=True)
    for lab in layout.bin_centres:
        for spec in S.bin_specs(lab):
            if spec.name == name:
                return spec
    raise KeyError(f"no store schema entry for variable {name!r}")


class StoreWriter:
    """Writes one store through an open h5netcdf file; use ``create_store``."""

    def __init__(self, f: h5netcdf.File, layout: StoreLayout, new: bool = True):
        self.f, self.layout = f, layout
        self._star_coords = ""
        if new:
            self._define()

    def _define(self) -> None:
        """Dimensions, coordinates and the (empty) star variables of a new store."""
        f, layout = self.f, self.layout
        nstar, npix = layout.n_star, layout.wavelength.size
        f.dimensions = {"star": nstar, "wavelength": npix, "label": len(layout.label_names)}
        for lab, centres in layout.bin_centres.items():
            f.dimensions[f"{lab}_bin"] = len(centres)
        for dim in S.FINDER_DIMS:
            f.dimensions[dim] = None  # unlimited: the finder sets their length
        for name in [*S.CANDIDATE_VARS, *S.LINE_VARS]:  # empty until 'gapviz find' writes them
            self._create(name)
        star_coords = ["star_id", "snr"] + [n for lab in layout.label_names for n in (lab, f"{lab}_err")]
        self._star_coords = " ".join(star_coords)
        self.write("wavelength", layout.wavelength)
        self.write("chip", chip_of(layout.wavelength).astype(np.int8))
        if layout.label_names:
            self.write("label", np.array(layout.label_names, dtype=object))
            self.write("label_units", np.array([S.label_info(n).units for n in layout.label_names], dtype=object))
        for lab, centres in layout.bin_centres.items():
            self.write(f"{lab}_bin", np.asarray(centres, dtype=np.float64))
        chunk = (max(1, min(layout.chunk_stars, nstar)), npix)
        for name in layout.cubes:
            self._create(name, chunks=chunk if nstar else None)
        for name in (star_coords + ["chi2nu_theory", "chi2nu_adapted", "domain_flag"]) if layout.cubes else []:
            self._create(name)

    def _create(self, name: str, chunks=None):
        spec = _spec(name, self.layout)
        if name in self.f.variables:
            return self.f.variables[name]
        if any(d in S.FINDER_DIMS for d in spec.dims):
            chunks = (1024,)  # an unlimited dimension needs a chunked dataset
        if spec.dtype == "str":
            var = self.f.create_variable(name, spec.dims, dtype=h5py.string_dtype())
        else:
            dtype = np.dtype(spec.dtype)
            fill = S.INT16_FILL if spec.packing else (np.array(np.nan, dtype) if dtype.kind == "f" else None)
            if spec.dims == (name,):
                fill = None  # CF: coordinate variables carry no _FillValue
            kw = {}
            if len(spec.dims) == 2 and all(self.f.dimensions[d].size for d in spec.dims):
                kw = dict(compression="gzip", compression_opts=6, shuffle=True)
            var = self.f.create_variable(name, spec.dims, dtype=dtype, fillvalue=fill, chunks=chunks, **kw)
        var.attrs["units"] = spec.units
        var.attrs["long_name"] = spec.long_name
        if spec.packing:
            var.attrs["scale_factor"] = np.float32(spec.packing.scale_factor)
            var.attrs["add_offset"] = np.float32(spec.packing.add_offset)
        if name == "pixel_mask":
            var.attrs["flag_values"] = np.array([0, 1], dtype=np.int8)
            var.attrs["flag_meanings"] = "unusable usable"
        if name == "domain_flag":
            var.attrs["flag_masks"] = np.array(list(S.DOMAIN_FLAGS.values()), dtype=np.int8)
            var.attrs["flag_meanings"] = " ".join(S.DOMAIN_FLAGS)
        coords = []
        if "star" in spec.dims and name not in self._star_coords.split():
            coords.append(self._star_coords)
        if "wavelength" in spec.dims and name not in ("wavelength", "chip"):
            coords.append("chip")
        if coords:
            var.attrs["coordinates"] = " ".join(coords)
        return var

    def encode(self, name: str, values) -> np.ndarray:
        """``values`` (unpacked floats, strings, ints) as variable ``name`` stores them (packed int16, ...)."""
        return encode(_spec(name, self.layout), values)

    def write(self, name: str, values, region: tuple = ()) -> None:
        """Write ``values`` (unpacked floats, strings, ints) into variable ``name`` (created if needed)."""
        var = self._create(name)
        values = self.encode(name, values)
        if values.size == 0:
            return
        var[region or ...] = values

    def write_encoded(self, name: str, values: np.ndarray, region: tuple = ()) -> None:
        """Write values already encoded as the variable stores them (``encode``) into ``name``."""
        var = self._create(name)
        if np.size(values):
            var[region or ...] = values

    def copy_cube_rows(self, name: str, start: int, source: h5py.Dataset) -> bool:
        """Copy an encoded cube ``source`` (a chunk file's dataset made with ``cube_storage``) into rows
        ``start:start + len(source)`` of cube ``name``. When the storage agrees (chunks, filters, dtype, and
        ``start`` on a chunk boundary) the compressed chunks are copied as they are, without recompressing;
        otherwise the values are copied. True if the chunks were copied as they are."""
        var = self._create(name)
        dest = getattr(var, "_h5ds", None)
        n = source.shape[0]
        same = (dest is not None and source.chunks is not None and source.chunks == dest.chunks
                and source.dtype == dest.dtype and source.shape[1:] == dest.shape[1:]
                and source.compression == dest.compression and source.compression_opts == dest.compression_opts
                and source.shuffle == dest.shuffle and start % source.chunks[0] == 0 and start + n <= dest.shape[0])
        if same:
            try:
                for r in range(0, n, source.chunks[0]):
                    mask, data = source.id.read_direct_chunk((r,) + (0,) * (source.ndim - 1))
                    dest.id.write_direct_chunk((start + r,) + (0,) * (source.ndim - 1), data, mask)
                return True
            except (OSError, ValueError, RuntimeError):
                pass  # fall back to copying the values
        if n:
            var[start:start + n] = source[...]
        return False

    def write_stars(self, start: int, arrays: Mapping[str, np.ndarray]) -> None:
        """Write one star chunk: each array (n, npix) or (n,), rows ``start:start+n`` of the star dim."""
        for name, values in arrays.items():
            n = np.shape(values)[0]
            self.write(name, values, region=(slice(start, start + n),))

    def write_many(self, values: Mapping[str, np.ndarray]) -> None:
        """Write whole variables whose names are in the schema (others are ignored)."""
        for name, v in values.items():
            try:
                _spec(name, self.layout)
            except KeyError:
                continue
            self.write(name, v)

    def write_table(self, table: pd.DataFrame, dim: str, prefix: str, columns: list[str]) -> None:
        """Write DataFrame columns as variables ``<prefix><column>`` on the unlimited dimension ``dim``
        (its length becomes ``len(table)``; missing columns are written as "" or NaN)."""
        for col in columns:
            self._create(prefix + col)
        if not self.f.dimensions[dim].isunlimited():
            raise GapvizError(f"{self.f.filename}: the '{dim}' dimension has a fixed length (a store written by an "
                              "older gapviz); write the store again with 'gapviz apply'")
        self.f.resize_dimension(dim, len(table))
        for col in columns:
            name = prefix + col
            is_str = _spec(name, self.layout).dtype == "str"
            values = (table[col].to_numpy() if col in table
                      else np.full(len(table), "" if is_str else np.nan, dtype=object if is_str else np.float64))
            if is_str:
                values = values.astype(object)
            self.write(name, values)

    def set_attrs(self, attrs: Mapping[str, object]) -> None:
        for k, v in attrs.items():
            self.f.attrs[k] = v if not isinstance(v, (bool, np.bool_)) else int(v)


def variable_spec(name: str, layout: StoreLayout) -> S.VarSpec:
    """The schema entry of store variable ``name`` (labels and bins of ``layout`` included); KeyError if none."""
    return _spec(name, layout)


def encode(spec: S.VarSpec, values) -> np.ndarray:
    """``values`` as the variable of ``spec`` stores them: CF-packed int16, strings ("" for missing), dtype."""
    values = np.asarray(values)
    if spec.packing:
        return S.pack(values, spec.packing)
    if spec.dtype == "str":
        return np.array(["" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v)
                         for v in values.reshape(-1)], dtype=object).reshape(values.shape)
    return values.astype(spec.dtype)


def cube_storage(name: str, layout: StoreLayout) -> dict:
    """h5py ``create_dataset`` keywords (dtype, chunks, fill value, filters) that store cube ``name`` of a
    store of ``layout`` as ``create_store`` does: a chunk file made with them can be copied into the store
    chunk by chunk without recompressing (``StoreWriter.copy_cube_rows``)."""
    spec = _spec(name, layout)
    dtype = np.dtype(spec.dtype)
    fill = S.INT16_FILL if spec.packing else (np.array(np.nan, dtype) if dtype.kind == "f" else None)
    npix = layout.wavelength.size
    out = {"dtype": dtype, "fillvalue": fill, "chunks": (max(1, min(layout.chunk_stars, layout.n_star)), npix)}
    if layout.n_star and npix:
        out |= {"compression": "gzip", "compression_opts": 6, "shuffle": True}
    return out


@contextlib.contextmanager
def create_store(path: str | os.PathLike, layout: StoreLayout, overwrite: bool = False) -> Iterator[StoreWriter]:
    """Create ``path`` (a .nc file) atomically and yield its writer; nothing is left behind on error."""
    with atomic_path(path, overwrite=overwrite) as tmp:
        with h5netcdf.File(tmp, "w") as f:
            f.attrs["Conventions"] = S.CONVENTIONS
            yield StoreWriter(f, layout)


def existing_layout(f: h5netcdf.File) -> StoreLayout:
    """The layout of an open store file (what the schema lookups need; nothing is created)."""
    labels = [str(v) for v in f.variables["label"][:]] if "label" in f.variables else []
    bins = {n.removesuffix("_bin"): np.asarray(f.variables[n][:]) for n in f.dimensions if n.endswith("_bin")}
    return StoreLayout(np.asarray(f.variables["wavelength"][:]), f.dimensions["star"].size, labels, bins,
                       cubes=())


@contextlib.contextmanager
def update_store(path: str | os.PathLike) -> Iterator[StoreWriter]:
    """Yield a writer on a copy of the existing store ``path``; the copy replaces it only if the block succeeds
    (an interrupted update leaves the store as it was)."""
    path = Path(path)
    with atomic_path(path, overwrite=True) as tmp:
        shutil.copyfile(path, tmp)
        with h5netcdf.File(tmp, "a") as f:
            yield StoreWriter(f, existing_layout(f), new=False)


CANDIDATE_COLUMNS = [n.removeprefix("candidate_") for n in S.CANDIDATE_VARS]
LINE_COLUMNS = ["wavelength", "species", "loggf", "elow_ev"]
