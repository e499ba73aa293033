"""The spectra file contract: one HDF5 layout for synthetic and observed sets alike.

Layout (read and written with h5py)::

    /wavelength        (npix,)        float64  Å, vacuum, strictly increasing
    /flux              (nstar, npix)  float32  continuum-normalised flux
    /flux_err          (nstar, npix)  float32  1σ; optional; non-finite or <= 0 marks an unusable pixel
    /labels/<name>     (nstar,)       float    one dataset per label (teff, logg, fe_h, mg_fe, ...)
    /star_id           (nstar,)       string   optional
    attribute domain   "synthetic" | "observed"   optional

``read_spectra`` loads a whole file; ``SpectraFile`` streams rows from a file too big for memory.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

from gapviz.errors import GapvizError
from gapviz.files import atomic_path

DOMAINS = ("synthetic", "observed")


@dataclass
class Spectra:
    """A set of spectra on one vacuum wavelength grid.

    wavelength: (npix,) Å vacuum; flux, flux_err: (nstar, npix); labels: name -> (nstar,) array.
    """

    wavelength: np.ndarray
    flux: np.ndarray
    flux_err: np.ndarray | None = None
    labels: dict[str, np.ndarray] = field(default_factory=dict)
    star_id: np.ndarray | None = None
    domain: str | None = None
    source: str = "<memory>"  # file the spectra came from, for error messages

    def __post_init__(self) -> None:
        self.wavelength = np.asarray(self.wavelength, dtype=np.float64)
        self.flux = np.atleast_2d(np.asarray(self.flux, dtype=np.float32))
        if self.flux_err is not None:
            self.flux_err = np.atleast_2d(np.asarray(self.flux_err, dtype=np.float32))
        self.labels = {k: np.asarray(v, dtype=np.float64).reshape(-1) for k, v in self.labels.items()}
        if self.star_id is not None:
            self.star_id = np.asarray(self.star_id).astype(str)
        validate(self)

    @property
    def n_star(self) -> int:
        return self.flux.shape[0]

    @property
    def n_pix(self) -> int:
        return self.wavelength.shape[0]

    @property
    def label_names(self) -> list[str]:
        return list(self.labels)

    def label_array(self, names: list[str] | tuple[str, ...] | None = None) -> np.ndarray:
        """Labels as an (nstar, nlabel) float64 array, columns in ``names`` order (default: file order)."""
        names = list(self.labels) if names is None else list(names)
        missing = [n for n in names if n not in self.labels]
        if missing:
            raise GapvizError(f"{self.source}: missing label(s) {missing}; the set has {list(self.labels)}")
        if not names:
            return np.empty((self.n_star, 0))
        return np.stack([self.labels[n] for n in names], axis=1)

    def usable(self) -> np.ndarray:
        """(nstar, npix) bool: pixels with finite flux and, when errors exist, a finite positive error."""
        ok = np.isfinite(self.flux)
        if self.flux_err is not None:
            ok &= np.isfinite(self.flux_err) & (self.flux_err > 0)
        return ok

    def subset(self, index) -> "Spectra":
        """The stars selected by ``index`` (slice, integer array or boolean mask)."""
        idx = np.arange(self.n_star)[index]
        return Spectra(
            wavelength=self.wavelength,
            flux=self.flux[idx],
            flux_err=None if self.flux_err is None else self.flux_err[idx],
            labels={k: v[idx] for k, v in self.labels.items()},
            star_id=None if self.star_id is None else self.star_id[idx],
            domain=self.domain,
            source=self.source,
        )


def validate_wavelength(wavelength: np.ndarray, source: str = "<memory>") -> None:
    """Raise GapvizError unless ``wavelength`` is a finite, strictly increasing 1-D grid."""
    if wavelength.ndim != 1 or wavelength.size < 2:
        raise GapvizError(f"{source}: /wavelength must be 1-D with at least 2 pixels, got shape {wavelength.shape}")
    if not np.all(np.isfinite(wavelength)):
        raise GapvizError(f"{source}: /wavelength contains non-finite values")
    if not np.all(np.diff(wavelength) > 0):
        bad = int(np.argmax(~(np.diff(wavelength) > 0)))
        raise GapvizError(
            f"{source}: /wavelength must be strictly increasing (vacuum Å); it is not at pixel {bad} "
            f"({wavelength[bad]:.4f} -> {wavelength[bad + 1]:.4f})"
        )


def validate(s: Spectra) -> None:
    """Check shapes, grid and values of a Spectra; raise one clear GapvizError naming the source."""
    src = s.source
    validate_wavelength(s.wavelength, src)
    if s.flux.ndim != 2 or s.flux.shape[1] != s.n_pix:
        raise GapvizError(f"{src}: /flux must have shape (nstar, {s.n_pix}) to match /wavelength, got {s.flux.shape}")
    if s.flux_err is not None and s.flux_err.shape != s.flux.shape:
        raise GapvizError(f"{src}: /flux_err has shape {s.flux_err.shape}, expected {s.flux.shape} like /flux")
    for name, values in s.labels.items():
        if values.shape != (s.n_star,):
            raise GapvizError(f"{src}: /labels/{name} has shape {values.shape}, expected ({s.n_star},), one per star")
    if s.star_id is not None and s.star_id.shape != (s.n_star,):
        raise GapvizError(f"{src}: /star_id has shape {s.star_id.shape}, expected ({s.n_star},)")
    if s.domain is not None and s.domain not in DOMAINS:
        raise GapvizError(f"{src}: attribute domain={s.domain!r}, expected one of {DOMAINS}")
    if s.n_star:
        dead = ~s.usable().any(axis=1)
        if dead.any():
            rows = np.flatnonzero(dead)
            raise GapvizError(
                f"{src}: {dead.sum()} spectrum/spectra have no usable pixel (all NaN or no positive flux_err), "
                f"e.g. star index {rows[:5].tolist()}; remove them or fix their flux"
            )


def _open_h5(path: str | os.PathLike) -> h5py.File:
    path = Path(path)
    if not path.exists():
        raise GapvizError(f"{path}: no such file")
    if path.is_dir():
        raise GapvizError(f"{path}: is a directory, expected a gapviz spectra HDF5 file")
    try:
        return h5py.File(path, "r")
    except OSError as exc:
        raise GapvizError(f"{path}: not a readable HDF5 file ({_what_it_is(path) or f'truncated or another format? {exc}'})") from None


#: The command that turns survey and text spectra into a spectra-contract file.
INGEST_HINT = "convert it with 'gapviz ingest {path} --out observed.h5'"


def _what_it_is(path: Path) -> str:
    """For a file that is not HDF5: what it looks like and the command that converts it ("" if unknown)."""
    with open(path, "rb") as fh:
        head = fh.read(2048)
    if head.startswith(b"SIMPLE  ="):
        name = path.name.lower()
        kind = "an APOGEE apStar file" if name.startswith("apstar") else \
            "an APOGEE apVisit file" if name.startswith("apvisit") else "a FITS file"
        return f"{kind}; {INGEST_HINT.format(path=path)}"
    if head and b"\x00" not in head:
        return f"a text file (a text spectrum?); {INGEST_HINT.format(path=path)}"
    return ""


def _need(f: h5py.File, name: str, path) -> h5py.Dataset:
    if name not in f or not isinstance(f[name], h5py.Dataset):
        have = sorted(f.keys())
        raise GapvizError(f"{path}: missing dataset /{name} (a gapviz spectra file needs /wavelength and /flux; found {have})")
    return f[name]


def _read_labels(f: h5py.File, path, index=slice(None)) -> dict[str, np.ndarray]:
    labels: dict[str, np.ndarray] = {}
    if "labels" not in f:
        return labels
    group = f["labels"]
    if not isinstance(group, h5py.Group):
        raise GapvizError(f"{path}: /labels must be a group with one dataset per label")
    seen: dict[str, str] = {}
    for key in group:
        norm = key.strip().lower()
        if norm in seen:
            raise GapvizError(f"{path}: label named twice: /labels/{seen[norm]} and /labels/{key}")
        seen[norm] = key
        labels[norm] = np.asarray(group[key][index], dtype=np.float64)
    return labels


class SpectraFile:
    """Lazy access to a spectra file: metadata at once, rows on demand (for sets larger than memory).

    Use as a context manager, or call ``close()``.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._f = _open_h5(path)
        try:
            self.wavelength = np.asarray(_need(self._f, "wavelength", path)[()], dtype=np.float64)
            validate_wavelength(self.wavelength, str(path))
            self._flux = _need(self._f, "flux", path)
            if self._flux.ndim != 2 or self._flux.shape[1] != self.wavelength.size:
                raise GapvizError(
                    f"{path}: /flux must have shape (nstar, {self.wavelength.size}) to match /wavelength, got {self._flux.shape}"
                )
            self._err = self._f["flux_err"] if "flux_err" in self._f else None
            if self._err is not None and self._err.shape != self._flux.shape:
                raise GapvizError(f"{path}: /flux_err has shape {self._err.shape}, expected {self._flux.shape} like /flux")
            self.labels = _read_labels(self._f, path)
            self.domain = self._f.attrs.get("domain")
            if isinstance(self.domain, bytes):
                self.domain = self.domain.decode()
        except Exception:
            self._f.close()
            raise

    @property
    def n_star(self) -> int:
        return self._flux.shape[0]

    @property
    def has_flux_err(self) -> bool:
        return self._err is not None

    def read(self, index=slice(None)) -> Spectra:
        """Read the stars selected by ``index`` (a slice or an integer array, any order, repeats allowed)."""
        if not isinstance(index, slice):
            # h5py needs strictly increasing indices: read each row once, then reorder/repeat
            unique, inverse = np.unique(np.asarray(index), return_inverse=True)
            return self._read_rows(unique).subset(inverse)
        return self._read_rows(index)

    def _read_rows(self, index) -> Spectra:
        sid = None
        if "star_id" in self._f:
            sid = self._f["star_id"][index]
            sid = np.array([x.decode() if isinstance(x, bytes) else str(x) for x in np.atleast_1d(sid)])
        return Spectra(
            wavelength=self.wavelength,
            flux=self._flux[index],
            flux_err=None if self._err is None else self._err[index],
            labels={k: v[index] for k, v in self.labels.items()},
            star_id=sid,
            domain=self.domain,
            source=str(self.path),
        )

    def close(self) -> None:
        self._f.close()

    def __enter__(self) -> "SpectraFile":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def read_spectra(path: str | os.PathLike) -> Spectra:
    """Read a whole gapviz spectra HDF5 file; raise GapvizError naming the file on any contract violation."""
    with SpectraFile(path) as f:
        return f.read()


def write_spectra(spectra: Spectra, path: str | os.PathLike, overwrite: bool = True, compress: bool = True) -> Path:
    """Write ``spectra`` to ``path`` in the contract layout, atomically (temporary file, then rename)."""
    validate(spectra)
    path = Path(path)
    opts = dict(compression="gzip", compression_opts=4, shuffle=True) if compress else {}
    chunk_rows = max(1, min(spectra.n_star, max(1, 2**20 // (4 * spectra.n_pix))))
    with atomic_path(path, overwrite=overwrite) as tmp:
        with h5py.File(tmp, "w") as f:
            f.create_dataset("wavelength", data=spectra.wavelength.astype(np.float64))
            chunks = (chunk_rows, spectra.n_pix) if spectra.n_star else None
            f.create_dataset("flux", data=spectra.flux.astype(np.float32), chunks=chunks, **(opts if chunks else {}))
            if spectra.flux_err is not None:
                f.create_dataset("flux_err", data=spectra.flux_err.astype(np.float32), chunks=chunks, **(opts if chunks else {}))
            group = f.create_group("labels", track_order=True)  # keep the label order on reading
            for name, values in spectra.labels.items():
                group.create_dataset(name, data=np.asarray(values, dtype=np.float64))
            if spectra.star_id is not None:
                f.create_dataset("star_id", data=np.asarray(spectra.star_id, dtype=object), dtype=h5py.string_dtype())
            if spectra.domain is not None:
                f.attrs["domain"] = spectra.domain
    return path


def check_same_grid(a: np.ndarray, b: np.ndarray, what_a: str, what_b: str, rtol: float = 1e-7) -> None:
    """Raise GapvizError unless two wavelength grids are the same (to ``rtol``)."""
    if a.shape != b.shape or not np.allclose(a, b, rtol=rtol, atol=0):
        raise GapvizError(
            f"wavelength grids differ: {what_a} has {a.size} pixels {a[0]:.3f}-{a[-1]:.3f} Å, "
            f"{what_b} has {b.size} pixels {b[0]:.3f}-{b[-1]:.3f} Å; resample the spectra onto one grid first "
            "('gapviz ingest FILES --grid aspcap --out O.h5' puts APOGEE and text spectra on the ASPCAP grid)"
        )
