"""Shared fixtures for the io tests: the shipped APOGEE samples and tiny hand-made files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gapviz.io.spectra import Spectra
from gapviz.testing.spectra import tiny_spectra, write_raw_h5

APOGEE_DIR = Path(__file__).resolve().parents[2] / "data_samples" / "apogee"
APSTARS = sorted(APOGEE_DIR.glob("apStar-*.fits"))
APVISITS = sorted(APOGEE_DIR.glob("apVisit-*.fits"))
TEXT_SPECTRUM = APOGEE_DIR / "sp19410822.txt"


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


@pytest.fixture
def cyclestarnet_file(tmp_path):
    """``cyclestarnet_file(n_label=3, suffix=" train")``: a 4-star, 30-pixel Cycle-StarNet HDF5 file (with a
    2-star "spectra val" split) in tmp_path; returns (path, flux, labels)."""

    def make(n_label: int = 3, suffix: str = " train"):
        rng = np.random.default_rng(2)
        flux = rng.uniform(0.5, 1.0, (4, 30))
        labels = rng.uniform(0, 1, (4, n_label))
        path = write_raw_h5(tmp_path / "csn.h5", {f"spectra{suffix}": flux, f"spectra_err{suffix}": 0.01 + 0 * flux,
                                                  f"labels{suffix}": labels, "spectra val": flux[:2]})
        return path, flux, labels

    return make
