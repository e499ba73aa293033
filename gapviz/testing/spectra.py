"""Tiny hand-made spectra files for tests: a labelled set on a made-up grid, raw HDF5 that bypasses the contract."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from gapviz.io.spectra import Spectra


def tiny_spectra(n_star: int = 5, n_pix: int = 40, seed: int = 0, with_err: bool = True) -> Spectra:
    """A small labelled set on a made-up 15200-15240 Å grid."""
    rng = np.random.default_rng(seed)
    wavelength = np.linspace(15200.0, 15240.0, n_pix)
    flux = 1.0 - 0.3 * rng.random((n_star, n_pix))
    return Spectra(
        wavelength=wavelength,
        flux=flux,
        flux_err=np.full((n_star, n_pix), 0.01) if with_err else None,
        labels={"teff": rng.uniform(4000, 6000, n_star), "logg": rng.uniform(1, 5, n_star),
                "fe_h": rng.uniform(-1, 0.3, n_star)},
        star_id=[f"star{i:03d}" for i in range(n_star)],
        domain="synthetic",
    )


def write_raw_h5(path: Path, datasets: dict, attrs: dict | None = None) -> Path:
    """Write datasets (name -> array) straight with h5py, bypassing the contract's validation."""
    with h5py.File(path, "w") as f:
        for name, value in datasets.items():
            f.create_dataset(name, data=value)
        for key, value in (attrs or {}).items():
            f.attrs[key] = value
    return path
