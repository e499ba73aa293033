"""How many decimals each number the explorer writes or shows carries: the one rule for CSV exports and tables.

A number is written to the precision it is known to, not to float64's 17 digits: wavelengths to 0.001 Å,
depths, fluxes, residuals and corrections to 1e-4 (of the continuum), log gf and abundances to 0.001 dex,
teff to 1 K. Columns are matched by name, first match wins (``DECIMALS``); a float column no rule names keeps
``FALLBACK_SIGNIFICANT`` significant digits.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: (name pattern, decimals): a column whose name equals the pattern, or ends with "_" + it, or starts with it + "_"
DECIMALS: tuple[tuple[str, int], ...] = (
    ("wavelength", 3),  # Å: 0.001 Å, a 50th of an APOGEE pixel
    ("offset", 3),  # Å
    ("equivalent_width", 1),  # mÅ (before "width", which its name ends with)
    ("width", 3),  # FWHM, Å
    ("depth", 4),  # fraction of the continuum
    ("flux", 4),
    ("residual", 4),
    ("correction", 4),
    ("response", 4),
    ("loggf", 3),  # dex
    ("loggf_before", 3),
    ("loggf_err", 3),
    ("elow_ev", 3),  # eV
    ("teff", 0),  # K
    ("teff_err", 0),
    ("logg", 3),  # dex
    ("fe_h", 3),
    ("significance", 2),  # σ
    ("score", 3),
    ("chi2nu", 3),
    ("snr", 1),
    ("attribution_confidence", 3),
    ("attributed_chi", 3),
)
FALLBACK_SIGNIFICANT = 6


def decimals(column: str) -> int | None:
    """Decimals of ``column`` by ``DECIMALS`` (abundance labels ``<x>_fe`` and their errors: 3); None: no rule."""
    name = str(column).strip().lower()
    for pattern, n in DECIMALS:
        if name == pattern or name.endswith("_" + pattern) or name.startswith(pattern + "_"):
            return n
    if name.endswith("_fe") or name.endswith("_fe_err"):
        return 3
    return None


def _significant(values: np.ndarray, digits: int) -> np.ndarray:
    with np.errstate(all="ignore"):
        mag = np.floor(np.log10(np.abs(values)))
        scale = np.where(np.isfinite(mag), 10.0 ** (digits - 1 - mag), 1.0)
        return np.where(np.isfinite(values) & (values != 0), np.round(values * scale) / scale, values)


def rounded(table: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``table`` with every float column rounded by ``decimals`` (``FALLBACK_SIGNIFICANT`` digits where
    no rule names it); other columns as they are."""
    out = table.copy()
    for col in out.columns:
        if out[col].dtype.kind != "f":
            continue
        n = decimals(col)
        values = out[col].to_numpy(dtype=np.float64)
        if n == 0:  # whole numbers are written without ".0" (NaN stays empty)
            whole = np.where(np.isfinite(values), np.round(values), np.nan)
            out[col] = pd.array(whole, dtype="Float64").astype("Int64")
        else:
            out[col] = np.round(values, n) if n is not None else _significant(values, FALLBACK_SIGNIFICANT)
    return out


def number_format(column: str) -> str:
    """A Bokeh/numbro format for ``column`` in a table ("0.000" for 3 decimals; "0.[0000]" when no rule)."""
    n = decimals(column)
    if n is None:
        return "0.[0000]"
    return "0" if n == 0 else "0." + "0" * n
