"""Write a spectra-contract file row by row (``gapviz.io.spectra`` layout) without holding the set in memory.

``SpectraAppender`` creates the contract datasets (``/wavelength``, ``/flux``, ``/flux_err``, an empty
``/labels`` group, ``/star_id``, attribute ``domain``) resizable along the star axis and appends buffered rows
in chunks of ``chunk_rows`` stars. Extra per-star datasets (``columns``: HDF5 path -> "f8", "i1" or "str",
e.g. ``"snr"`` or ``"header_labels/teff"``) grow with the rows; ``object_attrs`` sets HDF5 attributes on
columns or groups (units, descriptions). Readers of the contract ignore the extras.

The appender writes to the path it is given; callers wanting an all-or-nothing file give it a temporary
path (``gapviz.files.atomic_path``) and rename it when done.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Self

import h5py
import numpy as np

from gapviz.errors import GapvizError
from gapviz.io.spectra import validate_wavelength

COLUMN_KINDS = ("f8", "i1", "str")


class SpectraAppender:
    """Append (flux, flux_err, star_id, extra columns) rows to a new spectra HDF5 file at ``path``.

    Use as a context manager (flushes and closes), or call ``close()``; ``n_star`` counts rows appended.
    """

    def __init__(self, path: str | os.PathLike, wavelength: np.ndarray, *, domain: str | None = "observed",
                 columns: dict[str, str] | None = None, attrs: dict | None = None,
                 object_attrs: dict[str, dict] | None = None, chunk_rows: int | None = None,
                 compress: bool = True):
        self.path = Path(path)
        self.wavelength = np.asarray(wavelength, dtype=np.float64)
        validate_wavelength(self.wavelength, str(path))
        self.columns = dict(columns or {})
        for name, kind in self.columns.items():
            if kind not in COLUMN_KINDS:
                raise GapvizError(f"column {name!r}: kind {kind!r}, expected one of {COLUMN_KINDS}")
        npix = self.wavelength.size
        self.chunk_rows = int(chunk_rows or max(1, 2**20 // (4 * npix)))  # ~1 MiB chunks, as write_spectra
        self.n_star = 0
        self._buffer: list[tuple[np.ndarray, np.ndarray, str, dict]] = []
        opts = {"compression": "gzip", "compression_opts": 4, "shuffle": True} if compress else {}
        self._f = h5py.File(self.path, "w")
        try:
            f = self._f
            f.create_dataset("wavelength", data=self.wavelength)
            shape, maxshape, chunks = (0, npix), (None, npix), (self.chunk_rows, npix)
            self._flux = f.create_dataset("flux", shape=shape, maxshape=maxshape, chunks=chunks, dtype="f4", **opts)
            self._err = f.create_dataset("flux_err", shape=shape, maxshape=maxshape, chunks=chunks, dtype="f4",
                                         **opts)
            f.create_group("labels", track_order=True)
            self._sid = f.create_dataset("star_id", shape=(0,), maxshape=(None,), chunks=(max(self.chunk_rows, 64),),
                                         dtype=h5py.string_dtype())
            self._cols = {}
            for name, kind in self.columns.items():
                dtype = h5py.string_dtype() if kind == "str" else kind
                parent = name.rsplit("/", 1)[0] if "/" in name else None
                if parent and parent not in f:
                    f.create_group(parent, track_order=True)
                self._cols[name] = f.create_dataset(name, shape=(0,), maxshape=(None,),
                                                    chunks=(max(self.chunk_rows, 64),), dtype=dtype)
            for name, values in (object_attrs or {}).items():  # a declared column or a group (made if new)
                if name not in f:
                    f.create_group(name, track_order=True)
                for key, value in values.items():
                    f[name].attrs[key] = value
            if domain is not None:
                f.attrs["domain"] = domain
            for key, value in (attrs or {}).items():
                f.attrs[key] = value
        except Exception:
            self._f.close()
            raise

    def append(self, flux: np.ndarray, flux_err: np.ndarray, star_id: str, values: dict | None = None) -> int:
        """Queue one star's row (flux, flux_err on ``wavelength``); returns its row index in the file."""
        flux = np.asarray(flux, dtype=np.float32).reshape(-1)
        flux_err = np.asarray(flux_err, dtype=np.float32).reshape(-1)
        if flux.shape != self.wavelength.shape or flux_err.shape != self.wavelength.shape:
            raise GapvizError(f"{self.path}: row of {flux.size}/{flux_err.size} pixels, the grid has "
                              f"{self.wavelength.size}")
        values = dict(values or {})
        unknown = set(values) - set(self.columns)
        if unknown:
            raise GapvizError(f"{self.path}: undeclared column(s) {sorted(unknown)}; declared {list(self.columns)}")
        self._buffer.append((flux, flux_err, str(star_id), values))
        row = self.n_star
        self.n_star += 1
        if len(self._buffer) >= self.chunk_rows:
            self.flush()
        return row

    def flush(self) -> None:
        """Write the queued rows to the file."""
        if not self._buffer:
            return
        n = len(self._buffer)
        start = self._flux.shape[0]
        stop = start + n
        self._flux.resize(stop, axis=0)
        self._flux[start:stop] = np.stack([b[0] for b in self._buffer])
        self._err.resize(stop, axis=0)
        self._err[start:stop] = np.stack([b[1] for b in self._buffer])
        self._sid.resize(stop, axis=0)
        self._sid[start:stop] = np.array([b[2] for b in self._buffer], dtype=object)
        for name, kind in self.columns.items():
            ds = self._cols[name]
            ds.resize(stop, axis=0)
            if kind == "str":
                ds[start:stop] = np.array([str(b[3].get(name, "")) for b in self._buffer], dtype=object)
            else:
                fill = np.nan if kind == "f8" else 0
                ds[start:stop] = np.array([b[3].get(name, fill) for b in self._buffer], dtype=kind)
        self._buffer.clear()

    def close(self) -> None:
        if self._f.id.valid:
            try:
                self.flush()
            finally:
                self._f.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type, *exc) -> None:
        if exc_type is None:
            self.close()
        elif self._f.id.valid:
            self._f.close()  # failing: do not write the rest; the caller discards the file
