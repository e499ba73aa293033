"""One entry point for any spectra file: ``detect_kind`` tells what a file is, ``read_any`` reads it.

Kinds (``detect_kind``): "torch" (a .pt file gapviz writes: model.pt, checkpoint.pt, an emulator, theory.pt),
"spectra" (gapviz HDF5 contract), "cyclestarnet" (Cycle-StarNet HDF5), "netcdf"
(e.g. a gapviz store.nc), "hdf5" (any other HDF5, e.g. a mock's truth.h5), "apstar", "apvisit" (APOGEE FITS),
"linelist" (.moog/.csv, read by ``gapviz.io.linelist``), "candidates" (a candidates.csv), "score" (a score.json), "text" (columns wavelength, flux[, flux_err]).
"""

from __future__ import annotations

import os
from pathlib import Path

import h5py

from gapviz.errors import GapvizError
from gapviz.io import apogee, cyclestarnet
from gapviz.io.spectra import Spectra, _open_h5, read_spectra
from gapviz.io.text import read_text_spectrum

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
FITS_SIGNATURE = b"SIMPLE  ="
LINELIST_SUFFIXES = (".moog", ".moog.gz", ".csv", ".csv.gz")
SPECTRA_KEYS = ("wavelength", "flux", "flux_err")


def _head(path: Path, n: int = 16) -> bytes:
    with open(path, "rb") as fh:
        return fh.read(n)


def _csv_header(path: Path) -> list[str]:
    with open(path, "r", errors="replace") as fh:
        return [c.strip() for c in fh.readline().split(",")]


def detect_kind(path: str | os.PathLike) -> str:
    """The kind of file at ``path`` (see the module docstring); GapvizError if it is none of them."""
    path = Path(path)
    if not path.exists():
        raise GapvizError(f"{path}: no such file")
    if path.is_dir():
        raise GapvizError(f"{path}: is a directory, expected a spectra, line-list, store or truth file")
    name = path.name.lower()
    if name.endswith(".csv") and {"score", "significance"} <= set(_csv_header(path)):
        return "candidates"
    if name.endswith(".json"):
        return "score"
    if name.endswith(".pt"):
        return "torch"
    if name.endswith(LINELIST_SUFFIXES):
        return "linelist"
    head = _head(path)
    if head.startswith(HDF5_SIGNATURE) or h5py.is_hdf5(path):
        with _open_h5(path) as f:
            keys = set(f.keys())
            attrs = set(f.attrs.keys())
            if "_NCProperties" in attrs or "Conventions" in attrs or name.endswith(".nc"):
                return "netcdf"
            if keys & set(SPECTRA_KEYS):
                return "spectra"
            if cyclestarnet.is_cyclestarnet(f):
                return "cyclestarnet"
        return "hdf5"
    if name.endswith((".nc", ".h5", ".hdf5", ".he5")):
        raise GapvizError(f"{path}: not an HDF5 file (no HDF5 signature); expected a gapviz spectra/store HDF5 file")
    if head.startswith(FITS_SIGNATURE):
        kind = apogee.fits_kind(path)
        if kind is None:
            raise GapvizError(f"{path}: a FITS file, but neither an APOGEE apStar (log-linear HDU1) nor apVisit (wavelength HDU4)")
        return kind
    if b"\x00" in _head(path, 4096):
        raise GapvizError(
            f"{path}: unknown file kind; expected a gapviz/Cycle-StarNet HDF5, an APOGEE apStar/apVisit FITS, "
            "a text spectrum or a line list"
        )
    return "text"


def read_any(path: str | os.PathLike, **kw) -> Spectra:
    """Read spectra from any supported file; ``kw`` go to the reader (e.g. ``grid=``, ``wavelength=``)."""
    kind = detect_kind(path)
    if kind == "spectra":
        return read_spectra(path)
    if kind == "cyclestarnet":
        if kw.get("wavelength") is None:
            raise GapvizError(f"{path}: a Cycle-StarNet file stores no wavelength grid; pass wavelength= (array or .npy/.npz)")
        return cyclestarnet.read_cyclestarnet(path, **kw)
    if kind == "apstar":
        return apogee.read_apstar(path, **kw)
    if kind == "apvisit":
        return apogee.read_apvisit(path, **kw)
    if kind == "text":
        return read_text_spectrum(path, **kw)
    raise GapvizError(f"{path}: a {kind} file, not spectra; expected a gapviz/Cycle-StarNet HDF5, apStar/apVisit FITS or text spectrum")
