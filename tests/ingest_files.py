"""The shipped real APOGEE files, and broken ones to put among them, for the ingest tests."""

from __future__ import annotations

from pathlib import Path

APOGEE_DIR = Path(__file__).resolve().parents[1] / "data_samples" / "apogee"
GOOD = [*sorted(APOGEE_DIR.glob("apStar-*.fits")), *sorted(APOGEE_DIR.glob("apVisit-*.fits")),
        APOGEE_DIR / "sp19410822.txt"]


def broken_files(directory: Path, truncated_name: str = "truncated.fits", junk_name: str = "junk.dat",
                 keep_bytes: int = 50_000) -> tuple[Path, Path]:
    """(a FITS file cut after ``keep_bytes``, a binary file of no known kind), written in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    truncated = directory / truncated_name
    truncated.write_bytes(GOOD[1].read_bytes()[:keep_bytes])
    junk = directory / junk_name
    junk.write_bytes(bytes(range(256)) * 8)
    return truncated, junk
