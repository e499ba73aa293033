"""Shared fixtures for the io tests: the shipped APOGEE samples and tiny hand-made files."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from gapviz.io.spectra import Spectra

APOGEE_DIR = Path(__file__).resolve().parents[2] / "data_samples" / "apogee"
APSTARS = sorted(APOGEE_DIR.glob("apStar-*.fits"))
APVISITS = sorted(APOGEE_DIR.glob("apVisit-*.fits"))
TEXT_SPECTRUM = APOGEE_DIR / "sp19410822.txt"


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


@pytest.fixture
def tiny() -> Spectra:
    return tiny_spectra()


@pytest.fixture
def make_spectra():
    """The ``tiny_spectra`` factory (test modules cannot import conftest: tests/ is not a package)."""
    return tiny_spectra


@pytest.fixture
def raw_h5():
    """The ``write_raw_h5`` helper."""
    return write_raw_h5


@pytest.fixture(scope="session")
def apogee_files() -> dict[str, list[Path] | Path]:
    """The shipped real APOGEE samples: {"apstar": [...], "apvisit": [...], "text": path}."""
    assert len(APSTARS) == 2 and len(APVISITS) == 2 and TEXT_SPECTRUM.is_file(), f"samples missing in {APOGEE_DIR}"
    return {"apstar": APSTARS, "apvisit": APVISITS, "text": TEXT_SPECTRUM}
