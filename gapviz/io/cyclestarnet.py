"""Cycle-StarNet-style HDF5 spectra (O'Briain et al. 2021) into ``Spectra``.

Those files hold flat datasets, optionally one set per split, e.g. ``"spectra train"``, ``"spectra_err train"``,
``"labels train"`` (split suffix after a space or an underscore), or plain ``spectra`` / ``spectra_err`` /
``labels``: flux (nstar, npix), 1σ errors like flux, labels (nstar, nlabel) with unnamed columns. The wavelength
grid is not stored in them, so it is passed separately.
"""

from __future__ import annotations

import os
from pathlib import Path

import h5py
import numpy as np

from gapviz.errors import GapvizError
from gapviz.io.spectra import Spectra, _open_h5
from gapviz.labels import DEFAULT_LABELS

FLUX_KEYS = ("spectra", "spectrum")
ERR_KEYS = ("spectra_err", "spectrum_err", "error_spectra", "spectra_error")
LABEL_KEYS = ("labels",)


def _find(f: h5py.File, bases: tuple[str, ...], split: str) -> str | None:
    """The dataset name for one of ``bases`` in ``split`` (``"base split"``, ``"base_split"``, or plain)."""
    for base in bases:
        for name in (f"{base} {split}", f"{base}_{split}", base):
            if name in f and isinstance(f[name], h5py.Dataset):
                return name
    return None


def is_cyclestarnet(f: h5py.File) -> bool:
    """True if an open HDF5 file has a Cycle-StarNet flux dataset (and no gapviz ``/flux``)."""
    if "flux" in f:
        return False
    return any(k.split(" ")[0] in FLUX_KEYS or k.split("_")[0] in FLUX_KEYS for k in f.keys())


def splits(f: h5py.File) -> list[str]:
    """The split names found in an open Cycle-StarNet file (``""`` for un-suffixed datasets)."""
    out = []
    for key in f.keys():
        for base in FLUX_KEYS:
            if key == base:
                out.append("")
            elif key.startswith(base + " ") or (key.startswith(base + "_") and not key.startswith(base + "_err")):
                out.append(key[len(base) + 1:])
    return sorted(set(out))


def load_wavelength(wavelength, what: str = "wavelength") -> np.ndarray:
    """A wavelength grid (vacuum Å) from an array, a ``.npy`` file or a ``.npz`` file (key ``wavelength``)."""
    if isinstance(wavelength, (str, os.PathLike)):
        path = Path(wavelength)
        if not path.is_file():
            raise GapvizError(f"{path}: no such file (expected the {what} grid as .npy or .npz)")
        try:
            data = np.load(path)
        except Exception as exc:
            raise GapvizError(f"{path}: not a readable .npy/.npz file: {exc}") from None
        if isinstance(data, np.lib.npyio.NpzFile):
            keys = list(data.keys())
            key = "wavelength" if "wavelength" in keys else (keys[0] if len(keys) == 1 else None)
            if key is None:
                raise GapvizError(f"{path}: has arrays {keys}; expected one named 'wavelength'")
            return np.asarray(data[key], dtype=np.float64)
        return np.asarray(data, dtype=np.float64)
    return np.asarray(wavelength, dtype=np.float64)


def read_cyclestarnet(path: str | os.PathLike, wavelength, split: str = "train",
                      label_names: list[str] | tuple[str, ...] | None = None,
                      domain: str | None = None) -> Spectra:
    """Read one split of a Cycle-StarNet HDF5 file.

    wavelength: (npix,) vacuum Å array or a .npy/.npz path. label_names: one name per label column; by default
    the first columns of ``gapviz.labels.DEFAULT_LABELS`` (error if the file has more columns than that).
    domain: "synthetic" | "observed" | None (the files do not say).
    """
    wl = load_wavelength(wavelength)
    with _open_h5(path) as f:
        flux_key = _find(f, FLUX_KEYS, split)
        if flux_key is None:
            raise GapvizError(
                f"{path}: no Cycle-StarNet flux dataset for split {split!r} (looked for 'spectra {split}', "
                f"'spectra_{split}', 'spectra'); found {sorted(f.keys())}"
            )
        flux = np.asarray(f[flux_key][()], dtype=np.float32)
        err_key = _find(f, ERR_KEYS, split)
        flux_err = None if err_key is None else np.asarray(f[err_key][()], dtype=np.float32)
        lab_key = _find(f, LABEL_KEYS, split)
        labels_arr = None if lab_key is None else np.asarray(f[lab_key][()], dtype=np.float64)
    if flux.ndim != 2 or flux.shape[1] != wl.size:
        raise GapvizError(f"{path}: /{flux_key} has shape {flux.shape}, expected (nstar, {wl.size}) to match the wavelength grid")
    if flux_err is not None and flux_err.shape != flux.shape:
        raise GapvizError(f"{path}: /{err_key} has shape {flux_err.shape}, expected {flux.shape} like /{flux_key}")
    labels: dict[str, np.ndarray] = {}
    if labels_arr is not None:
        labels_arr = labels_arr.reshape(labels_arr.shape[0], -1)
        ncol = labels_arr.shape[1]
        if labels_arr.shape[0] != flux.shape[0]:
            raise GapvizError(f"{path}: /{lab_key} has {labels_arr.shape[0]} rows, expected {flux.shape[0]} (one per spectrum)")
        if label_names is None:
            if ncol > len(DEFAULT_LABELS):
                raise GapvizError(
                    f"{path}: /{lab_key} has {ncol} label columns, more than the {len(DEFAULT_LABELS)} default "
                    "names; pass label_names"
                )
            names = list(DEFAULT_LABELS[:ncol])
        else:
            names = [str(n).strip().lower() for n in label_names]
            if len(names) != ncol:
                raise GapvizError(f"{path}: /{lab_key} has {ncol} label columns but {len(names)} label_names were given: {names}")
            if len(set(names)) != len(names):
                raise GapvizError(f"{path}: label_names name a label twice: {names}")
        labels = {n: labels_arr[:, i] for i, n in enumerate(names)}
    return Spectra(wavelength=wl, flux=flux, flux_err=flux_err, labels=labels, domain=domain, source=str(path))
