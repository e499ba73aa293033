"""Isotopic fractions, and log gf with a molecule's isotopic fraction folded in.

Line lists (MOOG, linemake) give each isotopologue's line its own log gf; MOOG multiplies in the isotope
ratios at run time. SME's chemistry has one CO, one CN, ...: an isotopologue's line is given to SME as a line
of that molecule with log gf + log10(Π fraction of each atom's isotope) (e.g. 13C16O at 12C/13C = 20:
+ log10(1/21) + log10(0.99757)).

Fractions are the solar-system (terrestrial) isotopic abundances (IUPAC 2013 representative values), except
12C/13C, which evolves in giants and is a setting (``c12_c13``; solar 89, first-dredge-up giants 15–30).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gapviz.errors import GapvizError
from gapviz.io.linelist import ATOMIC_NUMBER, parse_species

#: The solar 12C/13C number ratio (Asplund et al. 2009).
C12_C13_SOLAR = 89.0

#: Isotopic number fractions by element and mass number (C from ``c12_c13``, see ``isotope_fraction``).
FRACTIONS: dict[str, dict[int, float]] = {
    "H": {1: 0.999885, 2: 0.000115},
    "N": {14: 0.99636, 15: 0.00364},
    "O": {16: 0.99757, 17: 0.00038, 18: 0.00205},
    "F": {19: 1.0},
    "Si": {28: 0.92223, 29: 0.04685, 30: 0.03092},
    "S": {32: 0.9499, 33: 0.0075, 34: 0.0425, 36: 0.0001},
    "Cl": {35: 0.7576, 37: 0.2424},
    "Ti": {46: 0.0825, 47: 0.0744, 48: 0.7372, 49: 0.0541, 50: 0.0518},
    "Fe": {54: 0.05845, 56: 0.91754, 57: 0.02119, 58: 0.00282},
}


def isotope_fraction(element: str, mass: int, c12_c13: float = C12_C13_SOLAR) -> float:
    """Number fraction of isotope ``mass`` of ``element`` (12C/13C from ``c12_c13``); GapvizError if unknown."""
    if element == "C":
        if not c12_c13 > 0:
            raise GapvizError(f"12C/13C ratio must be > 0, got {c12_c13}")
        return {12: c12_c13 / (1.0 + c12_c13), 13: 1.0 / (1.0 + c12_c13)}.get(mass, 0.0) or _unknown(element, mass)
    table = FRACTIONS.get(element)
    if table is None or mass not in table:
        _unknown(element, mass)
    return table[mass]


def _unknown(element: str, mass: int) -> float:
    raise GapvizError(f"no isotopic fraction known for {mass}{element}; add it to gapviz.theory.isotopes.FRACTIONS")


def log_isotope_fraction(species: str, isotopes: str, c12_c13: float = C12_C13_SOLAR) -> float:
    """log10 of the fraction of ``species`` molecules that are the isotopologue ``isotopes`` ("13,16"; atoms
    in order of atomic number, as MOOG codes them); 0 for atoms and for "" (isotope not given)."""
    if not isotopes:
        return 0.0
    atoms, _, is_molecule = parse_species(species)
    masses = [int(m) for m in str(isotopes).split(",")]
    ordered = sorted(atoms, key=lambda a: ATOMIC_NUMBER[a])
    if not is_molecule or len(masses) != len(ordered):
        raise GapvizError(f"isotopes {isotopes!r} do not match the atoms of {species!r}")
    return float(sum(np.log10(isotope_fraction(a, m, c12_c13)) for a, m in zip(ordered, masses)))


def folded_loggf(lines: pd.DataFrame, c12_c13: float = C12_C13_SOLAR) -> np.ndarray:
    """(nline,) log gf + log10(isotopic fraction) of each line of a line-list table (see module docstring)."""
    loggf = lines["loggf"].to_numpy(np.float64).copy()
    if "isotopes" not in lines:
        return loggf
    iso = lines["isotopes"].fillna("").astype(str).to_numpy()
    species = lines["species"].astype(str).to_numpy()
    cache: dict[tuple[str, str], float] = {}
    for i in np.flatnonzero(iso != ""):
        key = (species[i], iso[i])
        if key not in cache:
            cache[key] = log_isotope_fraction(*key, c12_c13=c12_c13)
        loggf[i] += cache[key]
    return loggf
