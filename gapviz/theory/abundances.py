"""Per-element constants the line model needs: solar abundances, first ionisation energies, atomic masses.

Solar abundances A(X) = log10(N_X/N_H) + 12 are the photospheric values of Asplund, Grevesse, Sauval & Scott
(2009, ARA&A 47, 481), meteoritic where they give no photospheric value (Li, B, Cs, ...).
Ionisation energies (eV) and masses (u) are the standard NIST values (rounded).
"""

from __future__ import annotations

from gapviz.errors import GapvizError
from gapviz.io.linelist import ATOMIC_NUMBER

SOLAR_ABUNDANCE: dict[str, float] = {
    "H": 12.00, "He": 10.93, "Li": 1.05, "Be": 1.38, "B": 2.70, "C": 8.43, "N": 7.83, "O": 8.69, "F": 4.56,
    "Ne": 7.93, "Na": 6.24, "Mg": 7.60, "Al": 6.45, "Si": 7.51, "P": 5.41, "S": 7.12, "Cl": 5.50, "Ar": 6.40,
    "K": 5.03, "Ca": 6.34, "Sc": 3.15, "Ti": 4.95, "V": 3.93, "Cr": 5.64, "Mn": 5.43, "Fe": 7.50, "Co": 4.99,
    "Ni": 6.22, "Cu": 4.19, "Zn": 4.56, "Ga": 3.04, "Ge": 3.65, "As": 2.30, "Se": 3.34, "Rb": 2.52, "Sr": 2.87,
    "Y": 2.21, "Zr": 2.58, "Nb": 1.46, "Mo": 1.88, "Ru": 1.75, "Rh": 0.91, "Pd": 1.57, "Ag": 0.94, "Cd": 1.71,
    "In": 0.80, "Sn": 2.04, "Cs": 1.08, "Ba": 2.18, "La": 1.10, "Ce": 1.58, "Pr": 0.72, "Nd": 1.42, "Sm": 0.96,
    "Eu": 0.52, "Gd": 1.07, "Tb": 0.30, "Dy": 1.10, "Ho": 0.48, "Er": 0.92, "Tm": 0.10, "Yb": 0.84, "Lu": 0.10,
    "Hf": 0.85, "W": 0.85, "Os": 1.40, "Ir": 1.38, "Au": 0.92, "Tl": 0.90, "Pb": 1.75, "Th": 0.02, "U": -0.54,
}

IONISATION_EV: dict[str, float] = {
    "H": 13.598, "He": 24.587, "Li": 5.392, "Be": 9.323, "B": 8.298, "C": 11.260, "N": 14.534, "O": 13.618,
    "F": 17.423, "Ne": 21.565, "Na": 5.139, "Mg": 7.646, "Al": 5.986, "Si": 8.152, "P": 10.487, "S": 10.360,
    "Cl": 12.968, "Ar": 15.760, "K": 4.341, "Ca": 6.113, "Sc": 6.561, "Ti": 6.828, "V": 6.746, "Cr": 6.767,
    "Mn": 7.434, "Fe": 7.902, "Co": 7.881, "Ni": 7.640, "Cu": 7.726, "Zn": 9.394, "Ga": 5.999, "Ge": 7.900,
    "As": 9.789, "Se": 9.752, "Rb": 4.177, "Sr": 5.695, "Y": 6.217, "Zr": 6.634, "Nb": 6.759, "Mo": 7.092,
    "Ru": 7.361, "Rh": 7.459, "Pd": 8.337, "Ag": 7.576, "Cd": 8.994, "In": 5.786, "Sn": 7.344, "Cs": 3.894,
    "Ba": 5.212, "La": 5.577, "Ce": 5.539, "Pr": 5.473, "Nd": 5.525, "Sm": 5.644, "Eu": 5.670, "Gd": 6.150,
    "Tb": 5.864, "Dy": 5.939, "Ho": 6.022, "Er": 6.108, "Tm": 6.184, "Yb": 6.254, "Lu": 5.426, "Hf": 6.825,
    "W": 7.864, "Os": 8.438, "Ir": 8.967, "Au": 9.226, "Tl": 6.108, "Pb": 7.417, "Th": 6.307, "U": 6.194,
}

ATOMIC_MASS: dict[str, float] = {
    "H": 1.008, "He": 4.003, "Li": 6.94, "Be": 9.012, "B": 10.81, "C": 12.011, "N": 14.007, "O": 15.999,
    "F": 18.998, "Ne": 20.180, "Na": 22.990, "Mg": 24.305, "Al": 26.982, "Si": 28.085, "P": 30.974, "S": 32.06,
    "Cl": 35.45, "Ar": 39.95, "K": 39.098, "Ca": 40.078, "Sc": 44.956, "Ti": 47.867, "V": 50.942, "Cr": 51.996,
    "Mn": 54.938, "Fe": 55.845, "Co": 58.933, "Ni": 58.693, "Cu": 63.546, "Zn": 65.38, "Ga": 69.723,
    "Ge": 72.63, "As": 74.922, "Se": 78.971, "Rb": 85.468, "Sr": 87.62, "Y": 88.906, "Zr": 91.224,
    "Nb": 92.906, "Mo": 95.95, "Ru": 101.07, "Rh": 102.91, "Pd": 106.42, "Ag": 107.87, "Cd": 112.41,
    "In": 114.82, "Sn": 118.71, "Cs": 132.91, "Ba": 137.33, "La": 138.91, "Ce": 140.12, "Nd": 144.24,
    "Eu": 151.96, "Au": 196.97, "Pb": 207.2, "Th": 232.04, "U": 238.03,
}


def element_constants(element: str, source: str = "line list") -> tuple[float, float, float]:
    """(solar A(X), first ionisation energy eV, mass u) of ``element``; GapvizError if it has no entry."""
    if element not in SOLAR_ABUNDANCE or element not in IONISATION_EV:
        raise GapvizError(
            f"{source}: element {element!r} has no solar abundance / ionisation energy in gapviz.theory.abundances; "
            "remove its lines or add it to the tables"
        )
    mass = ATOMIC_MASS.get(element, 2.4 * ATOMIC_NUMBER.get(element, 40))
    return SOLAR_ABUNDANCE[element], IONISATION_EV[element], mass

#: Partition functions (U_I, U_II) near 5000 K (Gray, "The Observation and Analysis of Stellar Photospheres",
#: appendix D, rounded); elements not listed take (1, 1). Held fixed: the model ignores their T-dependence.
PARTITION_5000K: dict[str, tuple[float, float]] = {
    "H": (2.0, 1.0), "Li": (2.0, 1.0), "B": (6.0, 1.0), "C": (9.3, 5.9), "N": (4.0, 8.9), "O": (8.7, 4.0),
    "F": (5.6, 8.6), "Na": (2.0, 1.0), "Mg": (1.0, 2.0), "Al": (5.8, 1.0), "Si": (9.3, 5.6), "P": (4.3, 8.4),
    "S": (8.1, 4.1), "Cl": (5.3, 8.4), "K": (2.1, 1.0), "Ca": (1.1, 2.0), "Sc": (9.5, 18.0), "Ti": (25.0, 50.0),
    "V": (30.0, 35.0), "Cr": (9.5, 7.0), "Mn": (6.0, 7.2), "Fe": (25.0, 42.0), "Co": (28.0, 24.0),
    "Ni": (28.0, 10.0), "Cu": (2.0, 1.0), "Zn": (1.0, 2.0), "Ge": (5.0, 2.5), "Rb": (2.0, 1.0), "Sr": (1.0, 2.0),
    "Y": (8.0, 12.0), "Cs": (2.0, 1.0), "Ba": (2.8, 4.0), "Au": (2.0, 1.0),
}


def partition_functions(element: str) -> tuple[float, float]:
    """(U_I, U_II) of ``element`` near 5000 K; (1, 1) where the table has no entry."""
    return PARTITION_5000K.get(element, (1.0, 1.0))
