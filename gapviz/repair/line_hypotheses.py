"""Which lines could explain a candidate: hypothetical added lines (the attributed species at the candidate, and
reference-list lines the theory's list lacks nearby) and the theory's own lines near it (``gapviz.repair.explain``
chooses among them)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from gapviz.errors import GapvizError
from gapviz.instrument import resolution_element
from gapviz.io.linelist import species_fields
from gapviz.theory.isotopes import log_isotope_fraction

#: Lines within this many resolution elements of a candidate are tried.
MATCH_ELEMENTS = 1.0
#: Two lines of the same species this close (Å) are the same line.
SAME_LINE_TOLERANCE = 0.01


def _abundance(species: str, isotopes: str) -> float:
    """log10 of the isotopologue's share of ``species`` (−inf where gapviz knows no fraction for it)."""
    try:
        return log_isotope_fraction(species, isotopes)
    except GapvizError:
        return -math.inf


def species_row(species: str, tables: Sequence[pd.DataFrame | None]) -> dict:
    """A contract row for ``species`` in the first table that has it: of its most abundant isotopologue there
    (a line nobody listed, strong enough to be found, is the main isotopologue's: an H-band list holds more
    ¹²C¹⁸O lines than ¹²C¹⁶O ones, and a guessed CO line had been written as ¹²C¹⁸O with its log gf 2.7 dex
    high to make up for that isotopologue's share); ties to the isotopologue with more lines."""
    for table in tables:
        if table is None or "species" not in table:
            continue
        rows = table[table["species"].astype(str) == species]
        if len(rows):
            if "isotopes" in rows:
                iso = rows["isotopes"].fillna("").astype(str)
                counts = iso.value_counts()
                main = max(counts.index, key=lambda k: (_abundance(species, k), counts[k]))
                rows = rows[iso == main]
            return rows.iloc[0].to_dict()
    return {"species": species, "isotopes": ""} | species_fields(species)


def elow_spread(species: str, tables: Sequence[pd.DataFrame | None]) -> float:
    """The standard deviation (eV) of the lower-level energies of ``species``' lines in ``tables``: how well an
    attributed line's χ, a guess from the finder, is known (0 when the lists hold fewer than two)."""
    chi = [t.loc[t["species"].astype(str) == species, "elow_ev"].to_numpy(float) for t in tables
           if t is not None and "species" in t and "elow_ev" in t]
    chi = np.concatenate(chi) if chi else np.zeros(0)
    chi = chi[np.isfinite(chi)]
    return float(np.std(chi)) if chi.size > 1 else 0.0


def _not_in(lines: pd.DataFrame, linelist: pd.DataFrame) -> np.ndarray:
    """(len(lines),) bool: no line of ``linelist`` of the same species within SAME_LINE_TOLERANCE Å."""
    wl = linelist["wavelength"].to_numpy(float)
    sp = linelist["species"].astype(str).to_numpy()
    out = np.ones(len(lines), dtype=bool)
    for i, (w, s) in enumerate(zip(lines["wavelength"].to_numpy(float), lines["species"].astype(str))):
        lo, hi = np.searchsorted(wl, [w - SAME_LINE_TOLERANCE, w + SAME_LINE_TOLERANCE])
        out[i] = not np.any(sp[lo:hi] == s)
    return out


def added_hypotheses(candidates: pd.DataFrame, linelist: pd.DataFrame, reference: pd.DataFrame | None,
                     resolution: float) -> pd.DataFrame:
    """Hypothetical lines per candidate (column ``cand``): the attributed species at the candidate (with
    ``elow_spread``, how uncertain its guessed χ is) and reference lines (their χ given)."""
    rows = []
    for i, c in candidates.iterrows():
        species = str(c.get("attributed_species", "") or "")
        chi = float(c.get("attributed_chi", np.nan))
        if species and species.lower() != "none" and np.isfinite(chi):
            rows.append(species_row(species, (reference, linelist)) | {
                "wavelength": float(c["wavelength"]), "elow_ev": chi, "loggf": 0.0, "cand": i,
                "source": "attributed", "elow_spread": elow_spread(species, (reference, linelist))})
        if reference is None or not len(reference):
            continue
        fwhm = MATCH_ELEMENTS * resolution_element(float(c["wavelength"]), resolution)
        near = reference[(reference["wavelength"] - c["wavelength"]).abs() <= fwhm]
        near = near[_not_in(near, linelist)]
        for _, line in near.iterrows():
            rows.append(line.to_dict() | {"cand": i, "source": "reference"})
    return pd.DataFrame(rows)


def known_lines(candidates: pd.DataFrame, linelist: pd.DataFrame, resolution: float,
                elements: float = MATCH_ELEMENTS) -> pd.DataFrame:
    """Theory lines within ``elements`` resolution elements of each candidate (column ``cand``; ``line_index`` =
    row of the list)."""
    table = linelist.reset_index(drop=True).assign(line_index=np.arange(len(linelist)))
    parts = []
    for i, c in candidates.iterrows():
        fwhm = elements * resolution_element(float(c["wavelength"]), resolution)
        near = table[(table["wavelength"] - c["wavelength"]).abs() <= fwhm]
        parts.append(near.assign(cand=i))
    return pd.concat(parts, ignore_index=True) if parts else table.iloc[:0].assign(cand=0)
