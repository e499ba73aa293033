"""Shared fixtures for the io tests: the shipped APOGEE samples and tiny hand-made files."""

from __future__ import annotations

from pathlib import Path

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
