"""Line lists: MOOG (linemake) and gapviz CSV in, one pandas table out.

Every reader returns a DataFrame with one row per line, sorted by vacuum wavelength::

    wavelength      float64  Å, vacuum
    wavelength_air  float64  Å, air
    species         str      "Fe I", "Si II", "CN", "CO", "OH", "FeH", "H2O", "C2", ...
    elements        str      constituent elements joined by "," ("Fe"; "C,N"; "H,O")
    ion             int      0 neutral, 1 singly ionised (0 for molecules)
    loggf           float64  log10(g f)
    elow_ev         float64  lower-level excitation potential, eV
    d0_ev           float64  dissociation energy of a molecule, eV (NaN for atoms)
    is_molecule     bool
    isotopes        str      mass numbers of a molecule's atoms in the order of its MOOG code ("13,16" for
                             13C16O, "12,14" for 12C14N); "" when the list does not say (atoms, H2O, FeH)

MOOG species codes: ``26.0`` Fe I, ``26.1`` Fe II; molecules pack two-digit atomic numbers before the dot
(``607.01314`` = C + N, isotopes after the dot; ``10108.0`` = H + H + O).
The CSV form is ``wavelength,species,loggf,elow_ev,medium`` (``medium`` "air" or "vacuum" per row; an
optional ``d0_ev`` column is honoured, otherwise molecules take D0 from ``MOLECULE_D0_EV``; an optional
``isotopes`` column as above). log gf is the line's own, isotopic fraction not folded in (as MOOG and
linemake keep it); synthesis codes that need it folded in do so themselves (``gapviz.theory.isotopes``).
Air <-> vacuum: the IAU standard (Morton 2000, from Ciddor 1996), as used by VALD and SDSS.
Out: ``write_linelist_csv`` here; MOOG files by ``gapviz.io.moog_writer.write_moog``.
"""

from __future__ import annotations

import gzip
import io
import os
import re
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from gapviz.errors import GapvizError
from gapviz.files import atomic_path

#: Chemical symbols by atomic number (index 0 unused).
SYMBOLS: tuple[str, ...] = tuple(
    """X H He Li Be B C N O F Ne Na Mg Al Si P S Cl Ar K Ca Sc Ti V Cr Mn Fe Co Ni Cu Zn Ga Ge As Se Br Kr
    Rb Sr Y Zr Nb Mo Tc Ru Rh Pd Ag Cd In Sn Sb Te I Xe Cs Ba La Ce Pr Nd Pm Sm Eu Gd Tb Dy Ho Er Tm Yb Lu
    Hf Ta W Re Os Ir Pt Au Hg Tl Pb Bi Po At Rn Fr Ra Ac Th Pa U""".split()
)
ATOMIC_NUMBER: dict[str, int] = {s: z for z, s in enumerate(SYMBOLS) if z}

#: Conventional names of molecules, keyed by the sorted atomic numbers of their atoms.
MOLECULE_NAMES: dict[tuple[int, ...], str] = {
    (1, 8): "OH", (1, 26): "FeH", (1, 6): "CH", (1, 7): "NH", (1, 9): "HF", (1, 17): "HCl", (1, 12): "MgH",
    (1, 14): "SiH", (6, 7): "CN", (6, 8): "CO", (6, 6): "C2", (1, 1, 8): "H2O", (8, 22): "TiO", (8, 14): "SiO",
    (1, 1): "H2", (7, 8): "NO", (8, 8): "O2", (8, 23): "VO", (8, 26): "FeO", (1, 20): "CaH", (6, 14): "SiC",
}

#: Dissociation energies (eV) used when a file does not give one (values of the linemake lists).
MOLECULE_D0_EV: dict[str, float] = {
    "CN": 7.724, "CO": 11.092, "OH": 4.411, "FeH": 1.56, "H2O": 5.168, "C2": 6.24, "CH": 3.468,
    "HF": 5.869, "HCl": 4.434, "NH": 3.47, "MgH": 1.34, "SiH": 3.06, "TiO": 6.87, "SiO": 8.26, "H2": 4.478,
}

_ROMAN = ("I", "II", "III", "IV")
COLUMNS = ["wavelength", "wavelength_air", "species", "elements", "ion", "loggf", "elow_ev", "d0_ev", "is_molecule",
           "isotopes"]
CSV_COLUMNS = ["wavelength", "species", "loggf", "elow_ev", "medium"]
MEDIA = ("air", "vacuum")


# --- air <-> vacuum -------------------------------------------------------------------------------------

def air_to_vacuum(wavelength_air):
    """Vacuum wavelength (Å) of air wavelength(s) in Å (IAU standard, Morton 2000; valid > 2000 Å)."""
    wl = np.asarray(wavelength_air, dtype=np.float64)
    s2 = (1e4 / wl) ** 2
    n = 1.0 + 8.336624212083e-5 + 2.408926869968e-2 / (130.1065924522 - s2) + 1.599740894897e-4 / (38.92568793293 - s2)
    return wl * n


def vacuum_to_air(wavelength):
    """Air wavelength (Å) of vacuum wavelength(s) in Å (IAU standard, Morton 2000; valid > 2000 Å)."""
    wl = np.asarray(wavelength, dtype=np.float64)
    s2 = (1e4 / wl) ** 2
    n = 1.0 + 8.34254e-5 + 2.406147e-2 / (130.0 - s2) + 1.5998e-4 / (38.9 - s2)
    return wl / n


# --- species ---------------------------------------------------------------------------------------------

def molecule_name(atomic_numbers: Iterable[int]) -> str:
    """Conventional name ("CN", "H2O", "FeH") of a molecule made of these atoms."""
    key = tuple(sorted(atomic_numbers))
    if key in MOLECULE_NAMES:
        return MOLECULE_NAMES[key]
    counts: dict[str, int] = {}
    for z in key:
        counts[SYMBOLS[z]] = counts.get(SYMBOLS[z], 0) + 1
    return "".join(s + (str(c) if c > 1 else "") for s, c in counts.items())


def parse_species(species: str) -> tuple[tuple[str, ...], int, bool]:
    """("Fe I" | "Si II" | "CN" | "H2O") -> (atoms with repeats, ion, is_molecule); ValueError if not a species.

    ``parse_species("H2O") == (("H", "H", "O"), 0, True)``; ``parse_species("Fe II") == (("Fe",), 1, False)``.
    """
    text = species.strip()
    parts = text.split()
    if len(parts) == 2 and parts[0] in ATOMIC_NUMBER and parts[1] in _ROMAN:
        return (parts[0],), _ROMAN.index(parts[1]), False
    if len(parts) == 1 and re.fullmatch(r"(?:[A-Z][a-z]?\d*)+", text):
        atoms: list[str] = []
        for sym, count in re.findall(r"([A-Z][a-z]?)(\d*)", text):
            if sym not in ATOMIC_NUMBER:
                raise ValueError(f"unknown element {sym!r} in {species!r}")
            atoms += [sym] * (int(count) if count else 1)
        if len(atoms) >= 2:
            return tuple(atoms), 0, True
    raise ValueError(f"not a species name like 'Fe I', 'Si II', 'CN' or 'H2O': {species!r}")


def species_elements(species: str) -> str:
    """Constituent elements of ``species``, unique, in the order of its name, joined by ","."""
    atoms, _, _ = parse_species(species)
    return ",".join(dict.fromkeys(atoms))


def species_fields(species: str) -> dict:
    """The contract columns a line takes from its species alone: ``elements`` (as ``species_elements``), ``ion``,
    ``is_molecule`` and ``d0_ev`` (a molecule's default dissociation energy, ``MOLECULE_D0_EV``; NaN for an atom)."""
    atoms, ion, molecule = parse_species(species)
    return {"elements": ",".join(dict.fromkeys(atoms)), "ion": ion, "is_molecule": molecule,
            "d0_ev": MOLECULE_D0_EV.get(species, np.nan) if molecule else np.nan}


def decode_moog_species(code: str) -> tuple[str, int, bool]:
    """MOOG species code -> (species name, ion, is_molecule); ValueError if it cannot be decoded.

    ``"26.0"`` -> ("Fe I", 0, False); ``"26.1"`` -> ("Fe II", 1, False); ``"607.01314"`` -> ("CN", 0, True).
    """
    whole, _, frac = code.strip().partition(".")
    if not whole.isdigit():
        raise ValueError(f"species code {code!r} is not a number")
    value = int(whole)
    if value < 100:
        if not 1 <= value < len(SYMBOLS):
            raise ValueError(f"species code {code!r}: no element with atomic number {value}")
        ion = int(frac[0]) if frac else 0
        if ion >= len(_ROMAN):
            raise ValueError(f"species code {code!r}: ionisation stage {ion} not supported")
        return f"{SYMBOLS[value]} {_ROMAN[ion]}", ion, False
    digits = whole if len(whole) % 2 == 0 else "0" + whole
    zs = [int(digits[i:i + 2]) for i in range(0, len(digits), 2)]
    if any(not 1 <= z < len(SYMBOLS) for z in zs):
        raise ValueError(f"species code {code!r}: cannot split into two-digit atomic numbers")
    return molecule_name(zs), 0, True


def moog_isotopes(code: str) -> str:
    """Mass numbers of a MOOG molecular code's atoms, in code order, joined by ","; "" when absent.

    ``"608.01316"`` -> "13,16" (13C16O); ``"607.01214"`` -> "12,14"; ``"117.00135"`` -> "1,35"; ``"26.0"`` -> "".
    MOOG's fraction is a 0, then two digits per atom (masses < 100); anything else gives "".
    """
    whole, _, frac = code.strip().partition(".")
    if not whole.isdigit() or int(whole) < 100:
        return ""
    natoms = (len(whole) + 1) // 2
    frac = frac.rstrip()
    if len(frac) != 1 + 2 * natoms or not frac.isdigit() or int(frac) == 0:
        return ""
    masses = [int(frac[i:i + 2]) for i in range(1, len(frac), 2)]
    return ",".join(str(m) for m in masses) if all(masses) else ""


def _finish(rows: dict[str, list], source: str) -> pd.DataFrame:
    """Build the contract table from parsed columns (species, loggf, elow_ev, d0_ev, wavelength both media)."""
    df = pd.DataFrame(rows)
    if df.empty:
        raise GapvizError(f"{source}: no lines found; expected a MOOG line list or a gapviz line-list CSV")
    fields = pd.DataFrame([species_fields(s) for s in df["species"]], index=df.index)
    df["elements"] = fields["elements"]
    df["ion"] = fields["ion"].to_numpy(dtype=int)
    df["is_molecule"] = fields["is_molecule"].to_numpy(dtype=bool)
    df["d0_ev"] = np.where(df["is_molecule"], df["d0_ev"].fillna(fields["d0_ev"].astype(float)), np.nan)
    if "isotopes" not in df:
        df["isotopes"] = ""
    df["isotopes"] = df["isotopes"].fillna("").astype(str)
    df = df[COLUMNS].sort_values("wavelength", kind="stable").reset_index(drop=True)
    return df


# --- readers ---------------------------------------------------------------------------------------------

def _read_text(path: Path) -> str:
    if not path.exists():
        raise GapvizError(f"{path}: no such file")
    if path.is_dir():
        raise GapvizError(f"{path}: is a directory, expected a line list (MOOG or CSV)")
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
        return raw.decode("utf-8", errors="replace")
    except (OSError, EOFError) as exc:
        raise GapvizError(f"{path}: cannot read line list: {exc}") from None


def _float(text: str) -> float:
    text = text.strip()
    return float(text) if text else float("nan")


def _parse_moog_line(line: str) -> tuple[float, str, float, float, float]:
    """(wavelength_air, species code, elow, loggf, d0) from one MOOG line: fixed 10-column fields, else free format."""
    fixed = [line[i:i + 10] for i in range(0, 70, 10)]
    try:
        wl, ep, gf = float(fixed[0]), float(fixed[2]), float(fixed[3])
        code = fixed[1].strip()
        float(code)
        d0 = _float(fixed[5]) if len(line) > 50 else float("nan")
        return wl, code, ep, gf, d0
    except ValueError:
        pass
    tok = line.split()
    wl, code, ep, gf = float(tok[0]), tok[1], float(tok[2]), float(tok[3])
    float(code)
    d0 = float("nan")
    if len(tok) >= 6:
        try:
            d0 = float(tok[5])
        except ValueError:
            pass
    return wl, code, ep, gf, d0


def looks_numeric_row(line: str) -> bool:
    tok = line.split()
    try:
        float(tok[0]), float(tok[1])
        return len(tok) >= 4
    except (ValueError, IndexError):
        return False


def read_moog(path: str | os.PathLike) -> pd.DataFrame:
    """Read a MOOG/linemake line list (air Å; plain or .gz) into the contract table (see module docstring).

    A first line that is not a line row is taken as MOOG's title line; ``#`` lines and blank lines are skipped.
    """
    path = Path(path)
    return _parse_moog(_read_text(path), str(path))


def _parse_moog(text: str, source: str) -> pd.DataFrame:
    rows: dict[str, list] = {k: [] for k in ("wavelength_air", "species", "elow_ev", "loggf", "d0_ev", "isotopes")}
    first = True
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if first and not looks_numeric_row(line):
            first = False
            continue  # MOOG's title line
        first = False
        try:
            wl, code, ep, gf, d0 = _parse_moog_line(line)
            species, _, _ = decode_moog_species(code)
        except (ValueError, IndexError) as exc:
            raise GapvizError(
                f"{source}: line {number} is not a MOOG line-list row "
                f"(expected wavelength_air species_code elow_ev loggf [damping] [D0]): {line.strip()!r} ({exc})"
            ) from None
        if not (np.isfinite(wl) and wl > 0):
            raise GapvizError(f"{source}: line {number}: wavelength must be a positive number of Å, got {wl}")
        rows["wavelength_air"].append(wl)
        rows["species"].append(species)
        rows["elow_ev"].append(ep)
        rows["loggf"].append(gf)
        rows["d0_ev"].append(d0)
        rows["isotopes"].append(moog_isotopes(code))
    rows["wavelength"] = list(air_to_vacuum(np.asarray(rows["wavelength_air"], dtype=np.float64)))
    return _finish(rows, source)


def read_linelist_csv(path: str | os.PathLike) -> pd.DataFrame:
    """Read a gapviz line-list CSV (``wavelength,species,loggf,elow_ev,medium``; plain or .gz)."""
    path = Path(path)
    return _parse_csv(_read_text(path), str(path))


def _parse_csv(text: str, source: str) -> pd.DataFrame:
    try:
        raw = pd.read_csv(io.StringIO(text), comment="#", skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise GapvizError(f"{source}: not a readable line-list CSV: {exc}") from None
    raw.columns = [str(c).strip().lower() for c in raw.columns]
    missing = [c for c in CSV_COLUMNS if c not in raw.columns]
    if missing:
        raise GapvizError(f"{source}: line-list CSV lacks column(s) {missing}; expected {','.join(CSV_COLUMNS)}")
    for name in ("wavelength", "loggf", "elow_ev"):
        values = pd.to_numeric(raw[name], errors="coerce")
        bad = np.flatnonzero(~np.isfinite(values.to_numpy(dtype=float)))
        if bad.size:
            raise GapvizError(
                f"{source}: line {bad[0] + 2}: column {name} = {raw[name].iloc[bad[0]]!r} is not a finite number"
            )
        raw[name] = values.astype(float)
    medium = raw["medium"].astype(str).str.strip().str.lower()
    bad = np.flatnonzero(~medium.isin(MEDIA).to_numpy())
    if bad.size:
        raise GapvizError(
            f"{source}: line {bad[0] + 2}: medium {raw['medium'].iloc[bad[0]]!r} unknown; expected 'air' or 'vacuum'"
        )
    species = raw["species"].astype(str).str.strip()
    for i, name in enumerate(species):
        try:
            parse_species(name)
        except ValueError as exc:
            raise GapvizError(f"{source}: line {i + 2}: {exc}") from None
    is_air = (medium == "air").to_numpy()
    wl = raw["wavelength"].to_numpy(dtype=float)
    d0 = pd.to_numeric(raw["d0_ev"], errors="coerce").to_numpy(float) if "d0_ev" in raw else np.full(len(raw), np.nan)
    rows = {
        "wavelength": np.where(is_air, air_to_vacuum(wl), wl),
        "wavelength_air": np.where(is_air, wl, vacuum_to_air(wl)),
        "species": species.to_numpy(),
        "loggf": raw["loggf"].to_numpy(float),
        "elow_ev": raw["elow_ev"].to_numpy(float),
        "d0_ev": d0,
    }
    if "isotopes" in raw:
        rows["isotopes"] = raw["isotopes"].fillna("").astype(str).str.strip().str.replace(r"\.0$", "", regex=True)
    return _finish(rows, source)


def read_linelist(path: str | os.PathLike) -> pd.DataFrame:
    """Read a line list, MOOG or gapviz CSV, decided by content (plain or gzip); see the module docstring."""
    path = Path(path)
    text = _read_text(path)
    head = [line for line in text.splitlines()[:50] if line.strip() and not line.lstrip().startswith("#")]
    if not head:
        raise GapvizError(f"{path}: empty file; expected a MOOG line list or a gapviz line-list CSV")
    first = head[0].lower()
    if "," in first and "wavelength" in first and "species" in first:
        return _parse_csv(text, str(path))
    if any(looks_numeric_row(line) for line in head[:2]):
        return _parse_moog(text, str(path))
    raise GapvizError(
        f"{path}: neither a MOOG line list (rows: wavelength_air species_code elow_ev loggf) nor a gapviz "
        f"line-list CSV (header {','.join(CSV_COLUMNS)}); first line: {head[0][:80]!r}"
    )


def read_linelists(paths: Iterable[str | os.PathLike]) -> pd.DataFrame:
    """Read several line lists (any mix of MOOG and CSV) into one table sorted by vacuum wavelength."""
    tables = [read_linelist(p) for p in paths]
    if not tables:
        raise GapvizError("no line-list files given; expected at least one MOOG or CSV line list")
    df = pd.concat(tables, ignore_index=True)
    return df.sort_values("wavelength", kind="stable").reset_index(drop=True)


def lines_in_range(df: pd.DataFrame, wmin: float, wmax: float) -> pd.DataFrame:
    """The lines with vacuum wavelength in [wmin, wmax] Å (index reset)."""
    keep = (df["wavelength"] >= wmin) & (df["wavelength"] <= wmax)
    return df.loc[keep].reset_index(drop=True)


def linemake_paths() -> list[Path]:
    """The seven linemake H-band lists shipped in ``data_samples/linelists/`` (MOOG, gzip), sorted by name."""
    folder = Path(__file__).resolve().parents[2] / "data_samples" / "linelists"
    paths = sorted(folder.glob("linemake_*_hband.moog*"))
    if not paths:
        raise GapvizError(f"{folder}: no linemake_*_hband.moog(.gz) line lists; expected the repository's data_samples")
    return paths


def write_linelist_csv(df: pd.DataFrame, path: str | os.PathLike, overwrite: bool = True) -> Path:
    """Write ``df`` as a gapviz line-list CSV (vacuum Å, ``medium=vacuum``), atomically; gzip if ``path`` ends .gz."""
    missing = [c for c in ("wavelength", "species", "loggf", "elow_ev") if c not in df.columns]
    if missing:
        raise GapvizError(f"line list to write to {path} lacks column(s) {missing}")
    out = pd.DataFrame(
        {
            "wavelength": df["wavelength"].to_numpy(float),
            "species": df["species"].astype(str).to_numpy(),
            "loggf": df["loggf"].to_numpy(float),
            "elow_ev": df["elow_ev"].to_numpy(float),
            "medium": "vacuum",
        }
    )
    if "isotopes" in df.columns and (df["isotopes"].astype(str) != "").any():
        out["isotopes"] = df["isotopes"].astype(str).to_numpy()
    path = Path(path)
    with atomic_path(path, overwrite=overwrite) as tmp:
        out.to_csv(tmp, index=False, float_format="%.4f", compression="gzip" if path.suffix == ".gz" else None)
    return path
