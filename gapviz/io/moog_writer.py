"""Line lists out for MOOG and Turbospectrum: the project's line table (``gapviz.io.linelist``) as a MOOG file.

MOOG's fixed 10-character columns, air wavelengths, species codes with a molecule's isotopes after the dot
(``607.01314`` = ¹³C¹⁴N); ``gapviz.io.linelist.read_linelist`` reads what ``write_moog`` writes back.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
import pandas as pd

from gapviz.errors import GapvizError
from gapviz.files import atomic_path
from gapviz.io.linelist import (
    ATOMIC_NUMBER,
    MOLECULE_D0_EV,
    SYMBOLS,
    looks_numeric_row,
    parse_species,
    vacuum_to_air,
)

MOOG_FIELD = 10  # MOOG's fixed columns: 10 characters each (Fortran 7e10.3)


def moog_species_code(species: str, isotopes: str = "") -> str:
    """MOOG species code of a species name (and, for a molecule, its isotopes); ValueError if it has none.

    ``"Fe I"`` -> "26.0"; ``"Si II"`` -> "14.1"; ``"CN"`` -> "607.0"; ``("CO", "13,16")`` -> "608.01316";
    ``"H2O"`` -> "10108.0". Molecules pack two-digit atomic numbers in increasing Z (the leading zero dropped);
    ``isotopes`` gives the mass numbers in that order (as ``moog_isotopes`` reads them). The inverse of
    ``decode_moog_species`` + ``moog_isotopes`` for conventional names (a name like "HO" comes back as "OH").
    """
    atoms, ion, is_molecule = parse_species(species)
    iso = "" if isotopes is None else str(isotopes).strip()
    if iso.lower() == "nan":
        iso = ""
    if not is_molecule:
        if iso:
            raise ValueError(f"{species}: isotopes {iso!r} given for an atom; MOOG codes (as gapviz reads them) "
                             "carry isotopes for molecules only")
        return f"{ATOMIC_NUMBER[atoms[0]]}.{ion}"
    zs = sorted(ATOMIC_NUMBER[a] for a in atoms)
    whole = str(int("".join(f"{z:02d}" for z in zs)))
    if not iso:
        return f"{whole}.0"
    try:
        masses = [int(float(m)) for m in iso.split(",")]
    except ValueError:
        raise ValueError(f"{species}: isotopes {iso!r} are not mass numbers joined by ','") from None
    if len(masses) != len(zs) or not all(1 <= m <= 99 for m in masses):
        raise ValueError(f"{species}: isotopes {iso!r} must be {len(zs)} mass numbers from 1 to 99, one per atom "
                         f"in increasing atomic number ({','.join(SYMBOLS[z] for z in zs)})")
    code = f"{whole}.0" + "".join(f"{m:02d}" for m in masses)
    if len(code) > MOOG_FIELD:
        raise ValueError(f"{species}: MOOG code {code} with isotopes {iso!r} is wider than MOOG's "
                         f"{MOOG_FIELD}-character species column")
    return code


def write_moog(df: pd.DataFrame, path: str | os.PathLike, overwrite: bool = True,
               title: str = "gapviz line list (MOOG format, air wavelengths in Angstrom)") -> Path:
    """Write ``df`` (the line-list table) as a MOOG line list, atomically; gzip if ``path`` ends .gz.

    First line ``title``; then one row per line, sorted by wavelength, in MOOG's fixed 10-character columns:
    air wavelength (``wavelength_air`` if the table has it, else ``vacuum_to_air(wavelength)``), species code
    (``moog_species_code``, with the ``isotopes`` column if present), elow (eV), log gf, damping (blank) and,
    for molecules, D0 in eV (``d0_ev`` where finite, else ``MOLECULE_D0_EV``; blank when neither knows it).
    Three decimals each, as linemake writes. ``read_linelist`` reads the file back to the same species,
    isotopes, log gf and elow (to 0.0005) and wavelength (to 1e-3 Å). GapvizError for missing columns,
    non-finite values or a species MOOG cannot code.
    """
    path = Path(path)
    missing = [c for c in ("species", "loggf", "elow_ev") if c not in df.columns]
    if "wavelength" not in df.columns and "wavelength_air" not in df.columns:
        missing.insert(0, "wavelength")
    if missing:
        raise GapvizError(f"line list to write to {path} lacks column(s) {missing}")
    if len(df) == 0:
        raise GapvizError(f"line list to write to {path} has no lines")
    if "wavelength_air" in df.columns:
        wl_air = df["wavelength_air"].to_numpy(dtype=float)
        if "wavelength" in df.columns:  # rows without an air wavelength (e.g. appended ones) take it from vacuum
            vac = df["wavelength"].to_numpy(dtype=float)
            wl_air = np.where(np.isfinite(wl_air), wl_air, vacuum_to_air(vac))
    else:
        wl_air = vacuum_to_air(df["wavelength"].to_numpy(dtype=float))
    species = df["species"].astype(str).str.strip().to_numpy()
    isotopes = (df["isotopes"].fillna("").astype(str).to_numpy() if "isotopes" in df.columns
                else np.full(len(df), "", dtype=object))
    loggf = pd.to_numeric(df["loggf"], errors="coerce").to_numpy(dtype=float)
    elow = pd.to_numeric(df["elow_ev"], errors="coerce").to_numpy(dtype=float)
    d0 = (pd.to_numeric(df["d0_ev"], errors="coerce").to_numpy(dtype=float) if "d0_ev" in df.columns
          else np.full(len(df), np.nan))
    for name, values in (("wavelength", wl_air), ("loggf", loggf), ("elow_ev", elow)):
        bad = np.flatnonzero(~np.isfinite(values) | ((values <= 0) if name == "wavelength" else False))
        if bad.size:
            raise GapvizError(f"line list to write to {path}: row {bad[0]} ({species[bad[0]]}) has {name} = "
                              f"{values[bad[0]]}; expected a finite number{' > 0' if name == 'wavelength' else ''}")
    codes: dict[tuple[str, str], tuple[str, bool]] = {}
    rows: list[tuple[float, str]] = []
    for i in range(len(df)):
        key = (species[i], isotopes[i])
        if key not in codes:
            try:
                code = moog_species_code(*key)
                is_molecule = parse_species(key[0])[2]
            except ValueError as exc:
                raise GapvizError(f"line list to write to {path}: row {i}: cannot write species {key[0]!r} "
                                  f"as a MOOG species code: {exc}") from None
            codes[key] = (code, is_molecule)
        code, is_molecule = codes[key]
        d0_i = d0[i] if np.isfinite(d0[i]) else MOLECULE_D0_EV.get(species[i], np.nan)
        d0_text = f"{d0_i:10.3f}" if is_molecule and np.isfinite(d0_i) else ""
        text = f"{wl_air[i]:10.3f}{code:>10s}{elow[i]:10.3f}{loggf[i]:10.3f}"
        if d0_text:
            text += " " * MOOG_FIELD + d0_text
        rows.append((wl_air[i], text))
    rows.sort(key=lambda r: r[0])  # stable: equal wavelengths keep the table's order
    title = " ".join(str(title).split()) or "gapviz line list"
    if looks_numeric_row(title):
        title = "gapviz: " + title  # MOOG skips line 1 whatever it holds; gapviz's reader would take it as a row
    text = title + "\n" + "".join(r[1] + "\n" for r in rows)
    with atomic_path(path, overwrite=overwrite) as tmp:
        data = text.encode("utf-8")
        tmp.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
    return path
