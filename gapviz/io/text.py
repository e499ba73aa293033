"""Plain-text spectra: whitespace columns ``wavelength flux [flux_err]`` (vacuum Å), one pixel a line.

Lines before the first numeric line whose first field is not a number (a star name, column titles) are
headers; ``#`` starts a comment anywhere. A flux of exactly 0 means "no data" (as in APOGEE exports): such a
pixel gets an infinite error, or, when the file has no error column (``flux_err`` is then None), a NaN flux,
so that ``Spectra.usable()`` is False there either way.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from gapviz.errors import GapvizError
from gapviz.io.spectra import Spectra


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def read_text_spectrum(path: str | os.PathLike, domain: str | None = "observed") -> Spectra:
    """One spectrum from a 2- or 3-column text file; star_id from the first header word, else the file stem."""
    path = Path(path)
    if not path.is_file():
        raise GapvizError(f"{path}: no such file")
    try:
        lines = path.read_text(errors="strict").splitlines()
    except UnicodeDecodeError:
        raise GapvizError(f"{path}: not a text file (expected columns wavelength, flux[, flux_err])") from None
    header: list[str] = []
    rows: list[list[float]] = []
    for number, raw in enumerate(lines, start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        fields = line.split()
        if not _is_number(fields[0]):
            if rows:
                raise GapvizError(f"{path}: line {number} is not numeric ({raw.strip()[:40]!r}) after the data began")
            header.append(line)
            continue
        if len(fields) not in (2, 3) or not all(_is_number(x) for x in fields):
            raise GapvizError(
                f"{path}: line {number} has {len(fields)} field(s) {raw.strip()[:40]!r}; "
                "expected 2 or 3 numbers (wavelength Å vacuum, flux[, flux_err])"
            )
        if rows and len(fields) != len(rows[0]):
            raise GapvizError(f"{path}: line {number} has {len(fields)} columns, earlier lines have {len(rows[0])}")
        rows.append([float(x) for x in fields])
    if len(rows) < 2:
        raise GapvizError(f"{path}: found {len(rows)} numeric line(s); expected a spectrum (wavelength, flux[, flux_err])")
    data = np.asarray(rows)
    wavelength, flux = data[:, 0], data[:, 1]
    nodata = flux == 0
    if data.shape[1] == 3:
        flux_err = np.where(nodata, np.inf, data[:, 2])
    else:
        flux_err = None
        flux = np.where(nodata, np.nan, flux)
    star_id = header[0].split()[0] if header else path.stem
    return Spectra(
        wavelength=wavelength,
        flux=flux[None, :],
        flux_err=None if flux_err is None else flux_err[None, :],
        star_id=[star_id],
        domain=domain,
        source=str(path),
    )
