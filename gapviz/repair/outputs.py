"""The files ``gapviz repair`` writes: the repaired line list, its changes, and an overlay to re-apply them.

``explanations`` is ``gapviz.repair.explain.explain_candidates``'s table, one row per candidate: ``candidate``
(rank), ``wavelength``, ``choice`` ("added" | "recalibrated" | "none"), ``line_wavelength`` (vacuum Å),
``species``, ``elow_ev``, ``loggf``, ``loggf_err``, ``loggf_before``, ``line_index`` (row of the line list
for "recalibrated", -1 otherwise), ``label``, ``n_stars``, ``chi2_none|added|recalibrated``,
``bic_none|added|recalibrated``.

One change per line: when two candidates recalibrate the same line (or add the same line twice), the one
with the larger BIC gain (``bic_none - bic_<choice>``; ties: the better rank) is kept and the other is
named in the notes (``repaired_linelist(...).attrs["notes"]``, ``report.json``'s ``notes``).

``write_repair`` fills REPAIR_DIR with:

* ``linelist.csv``: the whole repaired list, gapviz CSV (``wavelength,species,loggf,elow_ev,medium``, vacuum
  Å, then ``isotopes``, ``change`` kept|recalibrated|added, ``loggf_before``, ``loggf_err``, ``candidate``,
  ``d0_ev``); ``gapviz.io.linelist.read_linelist`` reads it;
* ``linelist.moog``: the same list for MOOG (air Å; ``gapviz.io.linelist.write_moog``);
* ``changes.csv``: only the changes, with their evidence (``delta_chi2_<alt>`` = χ²(alt) − χ²(none), so
  negative is a better fit; the BICs);
* ``overlay.json``: the changes as corrections to the source line-list file, keyed to the SHA-256 of its
  bytes (``apply_overlay`` re-applies them to the same file elsewhere and refuses any other);
* ``line_offsets.csv``: every known line checked against the population (``gapviz.repair.recalibrate``): its
  fitted log gf change ``delta``, the trend of lines like it, the ``residual``, its σ and ``z``;
* ``report.json``: the caller's report plus counts and notes.

Nothing is half-written: the files are made in a staging folder beside REPAIR_DIR and moved in at the end.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gapviz.errors import GapvizError
from gapviz.instrument import RESOLUTION
from gapviz.io.linelist import (
    CSV_COLUMNS,
    MOLECULE_D0_EV,
    parse_species,
    read_linelist,
    vacuum_to_air,
    write_moog,
)
from gapviz.repair.explain import CHOICES

LINELIST_FILE = "linelist.csv"
MOOG_FILE = "linelist.moog"
CHANGES_FILE = "changes.csv"
OVERLAY_FILE = "overlay.json"
OFFSETS_FILE = "line_offsets.csv"
REPORT_FILE = "report.json"
#: write_repair's return keys -> file names (report.json is moved in last: its presence marks a finished dir).
REPAIR_FILES = {"linelist": LINELIST_FILE, "moog": MOOG_FILE, "changes": CHANGES_FILE, "overlay": OVERLAY_FILE,
                "offsets": OFFSETS_FILE, "report": REPORT_FILE}

CHANGE_COLUMNS = ["change", "loggf_before", "loggf_err", "candidate"]
EXPLANATION_COLUMNS = ["candidate", "wavelength", "choice", "line_wavelength", "species", "elow_ev", "loggf",
                       "loggf_err", "loggf_before", "line_index"]
CHANGES_COLUMNS = ["candidate", "choice", "wavelength", "species", "isotopes", "elow_ev", "loggf", "loggf_before",
                   "loggf_err", "label", "n_stars", "candidate_wavelength", "line_index", "delta_chi2_added",
                   "delta_chi2_recalibrated", "delta_chi2_damping", "bic_none", "bic_added", "bic_recalibrated",
                   "bic_damping", "bic_gain", "wing_amplitude", "wing_gamma"]
#: Two lines of the same species closer than this (Å, vacuum) are the same line.
SAME_LINE_TOL = 2e-3
#: Two *added* lines of the same species closer than this many resolution elements (λ/R) explain one feature
#: twice (two candidates on the same dip, each fitted alone): the one with the larger BIC gain is kept. The
#: explanations cannot tell lines closer than this apart (``explain.MAX_SHIFT_ELEMENTS``).
SAME_ADDED_ELEMENTS = 0.5
_ROUND = {"wavelength": 6, "loggf": 4, "elow_ev": 4, "loggf_before": 4, "loggf_err": 4, "d0_ev": 3,
          "candidate_wavelength": 6, "delta_chi2_added": 4, "delta_chi2_recalibrated": 4, "bic_none": 4,
          "bic_added": 4, "bic_recalibrated": 4, "bic_gain": 4, "delta_chi2_damping": 4, "bic_damping": 4,
          "wing_amplitude": 5, "wing_gamma": 4}


# --- small helpers ---------------------------------------------------------------------------------------

def sha256_file(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file's bytes (as stored: a .gz file is hashed compressed)."""
    path = Path(path)
    if not path.is_file():
        raise GapvizError(f"{path}: no such file; expected the line-list file to hash")
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _num(value: Any) -> float:
    """float(value), NaN for None/blank/unparseable."""
    try:
        out = float(value)
    except (TypeError, ValueError):
        return float("nan")
    return out


def _jsonable(obj: Any) -> Any:
    """A JSON-safe copy: numpy scalars to Python, NaN/inf to None, paths to str."""
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return [_jsonable(v) for v in obj.tolist()]
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, os.PathLike):
        return str(obj)
    if obj is None or isinstance(obj, str):
        return obj
    if obj is pd.NA or obj is pd.NaT:
        return None
    return str(obj)


def _gain(row: pd.Series | dict, choice: str) -> float:
    """BIC gain of ``choice`` over no change (larger is better; -inf when unknown)."""
    g = _num(row.get("bic_none")) - _num(row.get(f"bic_{choice}"))
    return g if math.isfinite(g) else -math.inf


def _locate(linelist: pd.DataFrame, line_index: int, wavelength: float, species: str, loggf_before: float,
            what: str) -> int:
    """Row (position) of the line a change refers to: ``line_index`` if that row is the line, else the one
    line of ``species`` within SAME_LINE_TOL of ``wavelength`` (with log gf ``loggf_before`` when several)."""
    n = len(linelist)
    wl = linelist["wavelength"].to_numpy(dtype=float)
    sp = linelist["species"].astype(str).to_numpy()
    gf = linelist["loggf"].to_numpy(dtype=float)

    def matches(i: int) -> bool:
        return sp[i] == species and (not math.isfinite(wavelength) or abs(wl[i] - wavelength) <= SAME_LINE_TOL)

    if 0 <= line_index < n and matches(line_index) and (
            not math.isfinite(loggf_before) or abs(gf[line_index] - loggf_before) < 5e-4):
        return line_index
    if not math.isfinite(wavelength):
        raise GapvizError(f"{what}: line_index {line_index} is not a {species} line of the line list "
                          f"({n} lines) and no line_wavelength is given to find it by")
    near = np.flatnonzero((sp == species) & (np.abs(wl - wavelength) <= SAME_LINE_TOL))
    if near.size > 1 and math.isfinite(loggf_before):
        near = near[np.abs(gf[near] - loggf_before) < 5e-4]
    if near.size == 1:
        return int(near[0])
    found = "no" if near.size == 0 else f"{near.size}"
    raise GapvizError(f"{what}: expected one {species} line at {wavelength:.4f} Å (vacuum) in the line list "
                      f"(line_index {line_index}), found {found}; was the explanation made with another list?")


# --- resolving explanations into changes ------------------------------------------------------------------

def _check_explanations(explanations: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in EXPLANATION_COLUMNS if c not in explanations.columns]
    if missing:
        raise GapvizError(f"candidate explanations lack column(s) {missing}; expected explain_candidates' table "
                          f"({', '.join(EXPLANATION_COLUMNS)}, ...)")
    expl = explanations.reset_index(drop=True)
    choice = expl["choice"].astype(str).str.strip().str.lower()
    bad = np.flatnonzero(~choice.isin(CHOICES).to_numpy())
    if bad.size:
        raise GapvizError(f"candidate {expl['candidate'].iloc[bad[0]]}: choice {expl['choice'].iloc[bad[0]]!r} "
                          f"unknown; expected one of {', '.join(CHOICES)}")
    expl = expl.assign(choice=choice)
    return expl


def resolve_changes(linelist: pd.DataFrame, explanations: pd.DataFrame, resolution: float = RESOLUTION
                    ) -> tuple[list[dict], list[str], pd.DataFrame]:
    """(changes, notes, evidence): one change per line from the explanations.

    ``changes``: overlay operations in candidate order, ``{"op": "recalibrate", "candidate", "line_index",
    "wavelength", "species", "isotopes", "elow_ev", "loggf_before", "loggf", "loggf_err"}`` or ``{"op": "add",
    "candidate", "wavelength", "species", "isotopes", "elow_ev", "loggf", "loggf_err"}`` (``line_index``: row
    of ``linelist``; wavelengths vacuum Å). ``notes``: one sentence per candidate dropped as a duplicate.
    ``evidence``: the kept explanation rows as changes.csv holds them (CHANGES_COLUMNS).
    """
    expl = _check_explanations(explanations)
    lines = linelist.reset_index(drop=True)
    has_iso = "isotopes" in lines.columns
    picked: dict[tuple, tuple[float, int, dict, dict]] = {}  # line key -> (gain, rank, op, evidence)
    notes: list[str] = []
    for _, row in expl.iterrows():
        choice = row["choice"]
        if choice == "none":
            continue
        rank = int(_num(row["candidate"])) if math.isfinite(_num(row["candidate"])) else -1
        what = f"candidate {rank} ({choice})"
        species = str(row["species"]).strip()
        try:
            parse_species(species)
        except ValueError as exc:
            raise GapvizError(f"{what}: {exc}") from None
        loggf = _num(row["loggf"])
        if not math.isfinite(loggf):
            raise GapvizError(f"{what}: loggf = {row['loggf']!r}; expected a finite log gf")
        loggf_err = _num(row["loggf_err"])
        line_wl = _num(row["line_wavelength"])
        if choice in ("recalibrated", "damping"):
            idx_raw = _num(row["line_index"])
            idx = int(idx_raw) if math.isfinite(idx_raw) else -1
            pos = _locate(lines, idx, line_wl, species, _num(row["loggf_before"]), what)
            line = lines.iloc[pos]
            op = {"op": "recalibrate" if choice == "recalibrated" else "damping", "candidate": rank, "line_index": pos,
                  "wavelength": float(line["wavelength"]),
                  "species": species, "isotopes": str(line["isotopes"]) if has_iso else "",
                  "elow_ev": float(line["elow_ev"]), "loggf_before": float(line["loggf"]), "loggf": loggf,
                  "loggf_err": loggf_err}
            key: tuple = ("line", pos)
        else:
            elow = _num(row["elow_ev"])
            if not (math.isfinite(line_wl) and line_wl > 0 and math.isfinite(elow)):
                raise GapvizError(f"{what}: line_wavelength {row['line_wavelength']!r} and elow_ev "
                                  f"{row['elow_ev']!r} must be finite to add a line")
            op = {"op": "add", "candidate": rank, "wavelength": line_wl, "species": species, "isotopes": "",
                  "elow_ev": elow, "loggf": loggf, "loggf_err": loggf_err}
            key = ("add", species, round(line_wl / SAME_LINE_TOL))
            merge = SAME_ADDED_ELEMENTS * line_wl / resolution
            for other in picked:  # the same added line within the tolerance (not only the same rounding bin)
                if other[0] == "add" and other[1] == species and \
                        abs(picked[other][2]["wavelength"] - line_wl) <= merge:
                    key = other
                    break
        gain = _gain(row, choice)
        evidence = {
            "candidate": rank, "choice": choice, "wavelength": op["wavelength"], "species": species,
            "isotopes": op["isotopes"], "elow_ev": op["elow_ev"], "loggf": loggf,
            "loggf_before": op.get("loggf_before", float("nan")), "loggf_err": loggf_err,
            "label": row.get("label", ""), "n_stars": row.get("n_stars", np.nan),
            "candidate_wavelength": _num(row["wavelength"]), "line_index": op.get("line_index", -1),
            "delta_chi2_added": _num(row.get("chi2_added")) - _num(row.get("chi2_none")),
            "delta_chi2_recalibrated": _num(row.get("chi2_recalibrated")) - _num(row.get("chi2_none")),
            "delta_chi2_damping": _num(row.get("chi2_damping")) - _num(row.get("chi2_none")),
            "bic_none": _num(row.get("bic_none")), "bic_added": _num(row.get("bic_added")),
            "bic_recalibrated": _num(row.get("bic_recalibrated")), "bic_damping": _num(row.get("bic_damping")),
            "bic_gain": gain, "wing_amplitude": _num(row.get("wing_amplitude")),
            "wing_gamma": _num(row.get("wing_gamma")),
        }
        if key in picked:
            old_gain, old_rank, _, _ = picked[key]
            line_text = f"{species} {op['wavelength']:.3f} Å"
            if (gain, -rank) > (old_gain, -old_rank):
                notes.append(f"candidates {old_rank} and {rank} both {choice} the {line_text} line; kept candidate "
                             f"{rank} (BIC gain {gain:.1f} > {old_gain:.1f}), dropped {old_rank}")
                picked[key] = (gain, rank, op, evidence)
            else:
                notes.append(f"candidates {old_rank} and {rank} both {choice} the {line_text} line; kept candidate "
                             f"{old_rank} (BIC gain {old_gain:.1f} >= {gain:.1f}), dropped {rank}")
            continue
        picked[key] = (gain, rank, op, evidence)
    chosen = sorted(picked.values(), key=lambda t: t[1])
    changes = [t[2] for t in chosen]
    evidence = pd.DataFrame([t[3] for t in chosen], columns=CHANGES_COLUMNS)
    return changes, notes, evidence


# --- applying changes ------------------------------------------------------------------------------------

def _apply_changes(linelist: pd.DataFrame, changes: list[dict], source: str) -> pd.DataFrame:
    """The whole list with ``changes`` (resolve_changes' operations) applied; see ``repaired_linelist``."""
    lines = linelist.reset_index(drop=True).copy()
    if "wavelength" not in lines.columns or "species" not in lines.columns:
        raise GapvizError(f"{source}: the line list lacks wavelength/species columns; expected read_linelist's table")
    n = len(lines)
    change = np.full(n, "kept", dtype=object)
    before = np.full(n, np.nan)
    err = np.full(n, np.nan)
    cand = pd.array([pd.NA] * n, dtype="Int64")
    loggf = lines["loggf"].to_numpy(dtype=float).copy()
    added: list[dict] = []
    for op in changes:
        kind = op.get("op")
        what = f"{source}: change for candidate {op.get('candidate')}"
        try:
            if kind == "recalibrate":
                pos = _locate(lines, int(op["line_index"]), _num(op["wavelength"]), str(op["species"]),
                              _num(op["loggf_before"]), what)
                if change[pos] != "kept":
                    raise GapvizError(f"{what}: line {pos} ({op['species']} {op['wavelength']:.3f} Å) is changed twice")
                change[pos] = "recalibrated"
                before[pos] = loggf[pos]
                loggf[pos] = _num(op["loggf"])
                err[pos] = _num(op.get("loggf_err"))
                cand[pos] = int(op["candidate"])
            elif kind == "damping":
                pos = _locate(lines, int(op["line_index"]), _num(op["wavelength"]), str(op["species"]),
                              _num(op["loggf_before"]), what)
                if change[pos] != "kept":
                    raise GapvizError(f"{what}: line {pos} ({op['species']} {op['wavelength']:.3f} Å) is changed twice")
                change[pos] = "damping"
                cand[pos] = int(op["candidate"])
            elif kind == "add":
                added.append(op)
            else:
                raise GapvizError(f"{what}: op {kind!r} unknown; expected 'recalibrate', 'damping' or 'add'")
        except (KeyError, TypeError, ValueError) as exc:
            raise GapvizError(f"{what}: malformed change {op!r} ({exc})") from None
    has_iso = "isotopes" in lines.columns
    out = pd.DataFrame({"wavelength": lines["wavelength"].to_numpy(dtype=float),
                        "species": lines["species"].astype(str).to_numpy(),
                        "loggf": loggf, "elow_ev": lines["elow_ev"].to_numpy(dtype=float), "medium": "vacuum"})
    if has_iso:
        out["isotopes"] = lines["isotopes"].fillna("").astype(str).to_numpy()
    out["change"] = change
    out["loggf_before"] = before
    out["loggf_err"] = err
    out["candidate"] = cand
    rest = [c for c in lines.columns if c not in out.columns]
    for c in rest:
        out[c] = lines[c].to_numpy()
    if added:
        rows = []
        for op in added:
            species = str(op["species"])
            atoms, ion, is_molecule = parse_species(species)
            wl = _num(op["wavelength"])
            row = {"wavelength": wl, "species": species, "loggf": _num(op["loggf"]), "elow_ev": _num(op["elow_ev"]),
                   "medium": "vacuum", "change": "added", "loggf_before": np.nan,
                   "loggf_err": _num(op.get("loggf_err")), "candidate": int(op["candidate"])}
            if has_iso:
                row["isotopes"] = str(op.get("isotopes") or "")
            derived = {"wavelength_air": float(vacuum_to_air(wl)), "elements": ",".join(dict.fromkeys(atoms)),
                       "ion": ion, "is_molecule": is_molecule,
                       "d0_ev": MOLECULE_D0_EV.get(species, np.nan) if is_molecule else np.nan}
            for c in rest:
                row[c] = derived.get(c, np.nan)
            rows.append(row)
        new = pd.DataFrame(rows, columns=out.columns)
        new = new.astype({c: out[c].dtype for c in out.columns if c in ("candidate", "ion", "is_molecule")})
        out = pd.concat([out, new], ignore_index=True)
    out["candidate"] = out["candidate"].astype("Int64")
    return out.sort_values("wavelength", kind="stable").reset_index(drop=True)


def repaired_linelist(linelist: pd.DataFrame, explanations: pd.DataFrame, resolution: float = RESOLUTION
                      ) -> pd.DataFrame:
    """The whole line list with the explained changes made, sorted by vacuum wavelength.

    Columns: ``wavelength,species,loggf,elow_ev,medium`` (+ ``isotopes`` when the list has it), then ``change``
    ("kept" | "recalibrated" | "added"), ``loggf_before`` (recalibrated rows), ``loggf_err``, ``candidate``
    (rank, <NA> for kept lines), then the list's other columns (``wavelength_air``, ``d0_ev``, ...; derived for
    added lines). Recalibrated lines change log gf in place; added lines are inserted at their wavelength.
    ``.attrs["notes"]``: the duplicates dropped (see the module docstring).
    """
    changes, notes, _ = resolve_changes(linelist, explanations, resolution)
    out = _apply_changes(linelist, changes, "repair")
    out.attrs["notes"] = notes
    return out


# --- files -----------------------------------------------------------------------------------------------

def _rounded(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    for c, nd in _ROUND.items():
        if c in out.columns:
            out[c] = pd.to_numeric(out[c], errors="coerce").round(nd)
    return out


def _linelist_csv_frame(repaired: pd.DataFrame) -> pd.DataFrame:
    cols = list(CSV_COLUMNS) + (["isotopes"] if "isotopes" in repaired.columns else []) + CHANGE_COLUMNS
    cols += [c for c in ("d0_ev",) if c in repaired.columns]
    return _rounded(repaired[cols])


def overlay_dict(source_path: str | os.PathLike, changes: list[dict], notes: list[str] | None = None) -> dict:
    """overlay.json's content: the changes keyed to the SHA-256 of the source line-list file."""
    source_path = Path(source_path)
    return _jsonable({"source_sha256": sha256_file(source_path), "source_name": source_path.name,
                      "wavelength_medium": "vacuum", "changes": changes, "notes": list(notes or [])})


def _check_out_dir(out_dir: Path, overwrite: bool) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise GapvizError(f"{out_dir}: exists and is not a directory; expected REPAIR_DIR, a folder to write "
                          f"{', '.join(REPAIR_FILES.values())} into")
    if out_dir.is_dir() and not overwrite:
        held = sorted(p.name for p in out_dir.iterdir())
        if held:
            shown = ", ".join(held[:5]) + (f", ... ({len(held)} in all)" if len(held) > 5 else "")
            raise GapvizError(f"{out_dir}: REPAIR_DIR already holds files ({shown}); refusing to overwrite it "
                              "(pass --overwrite to replace the repair files, or choose another REPAIR_DIR)")


def write_repair(out_dir: str | os.PathLike, linelist: pd.DataFrame, explanations: pd.DataFrame, *,
                 source_path: str | os.PathLike, report: dict, overwrite: bool = False,
                 line_offsets: pd.DataFrame | None = None, resolution: float = RESOLUTION) -> dict[str, Path]:
    """Write REPAIR_DIR (see the module docstring); return ``{"linelist", "moog", "changes", "overlay",
    "offsets", "report"}`` -> paths. ``line_offsets``: ``gapviz.repair.recalibrate``'s table of every known line
    checked (written as line_offsets.csv; empty when not given).

    ``linelist`` is ``read_linelist(source_path)`` (the overlay is keyed to that file's bytes). An existing
    non-empty ``out_dir`` is refused unless ``overwrite`` (then only the five files are replaced; other files
    stay). All files are made in a staging folder first: an error leaves ``out_dir`` as it was.
    """
    out_dir = Path(out_dir)
    _check_out_dir(out_dir, overwrite)
    source_path = Path(source_path)
    if not source_path.is_file():
        raise GapvizError(f"{source_path}: no such file; expected the source line list the repair was made from")
    changes, notes, evidence = resolve_changes(linelist, explanations, resolution)
    repaired = _apply_changes(linelist, changes, "repair")
    repaired.attrs["notes"] = notes
    overlay = overlay_dict(source_path, changes, notes)
    counts = {
        "candidates": len(explanations),
        "recalibrated": int((repaired["change"] == "recalibrated").sum()),
        "added": int((repaired["change"] == "added").sum()),
        "none": int((explanations["choice"].astype(str).str.strip().str.lower() == "none").sum())
        if "choice" in explanations.columns else 0,
        "dropped_duplicates": len(notes),
        "lines_before": len(linelist),
        "lines_after": len(repaired),
    }
    full_report = dict(report)
    full_report.update({"counts": counts, "notes": notes, "source_path": str(source_path),
                        "source_sha256": overlay["source_sha256"], "files": dict(REPAIR_FILES)})

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".tmp", dir=out_dir.parent))
    try:
        _linelist_csv_frame(repaired).to_csv(staging / LINELIST_FILE, index=False)
        write_moog(repaired, staging / MOOG_FILE,
                   title=f"gapviz repair of {source_path.name}: {counts['recalibrated']} recalibrated, "
                         f"{counts['added']} added (air wavelengths)")
        _rounded(evidence).to_csv(staging / CHANGES_FILE, index=False)
        (staging / OVERLAY_FILE).write_text(json.dumps(overlay, indent=2, allow_nan=False) + "\n")
        offsets = line_offsets if line_offsets is not None else pd.DataFrame(columns=["line_index", "wavelength"])
        offsets.round(5).to_csv(staging / OFFSETS_FILE, index=False)
        (staging / REPORT_FILE).write_text(json.dumps(_jsonable(full_report), indent=2, allow_nan=False) + "\n")
        umask = os.umask(0)
        os.umask(umask)
        if not out_dir.exists():
            os.chmod(staging, 0o777 & ~umask)  # mkdtemp makes 0700
            try:
                os.rename(staging, out_dir)
            except OSError:  # appeared meanwhile: fall through to moving the files in
                pass
        if staging.exists():
            _check_out_dir(out_dir, overwrite)
            for name in REPAIR_FILES.values():  # report.json last
                os.replace(staging / name, out_dir / name)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return {key: out_dir / name for key, name in REPAIR_FILES.items()}


def read_overlay(overlay_path: str | os.PathLike) -> dict:
    """overlay.json's content, checked; GapvizError when it is not an overlay."""
    overlay_path = Path(overlay_path)
    if not overlay_path.is_file():
        raise GapvizError(f"{overlay_path}: no such file; expected an overlay.json written by 'gapviz repair'")
    try:
        overlay = json.loads(overlay_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise GapvizError(f"{overlay_path}: not JSON ({exc}); expected an overlay.json written by 'gapviz repair'") \
            from None
    if not isinstance(overlay, dict) or not isinstance(overlay.get("source_sha256"), str) \
            or not isinstance(overlay.get("changes"), list):
        raise GapvizError(f"{overlay_path}: not a line-list overlay; expected an object with source_sha256, "
                          "source_name and changes (written by 'gapviz repair')")
    return overlay


def apply_overlay(linelist_path: str | os.PathLike, overlay_path: str | os.PathLike) -> pd.DataFrame:
    """Re-apply overlay.json to the line-list file it was made from (checked by SHA-256 of the file's bytes).

    Returns what ``repaired_linelist`` returned for that list (``.attrs["notes"]``: the overlay's notes).
    GapvizError, naming both hashes, for any other file.
    """
    linelist_path = Path(linelist_path)
    overlay = read_overlay(overlay_path)
    actual = sha256_file(linelist_path)
    if actual != overlay["source_sha256"]:
        raise GapvizError(
            f"{linelist_path}: SHA-256 {actual} is not the overlay's source {overlay['source_sha256']} "
            f"({overlay.get('source_name', '?')}, per {overlay_path}); an overlay applies only to the exact "
            "line-list file it was made from"
        )
    changes = [{k: (float("nan") if v is None and k in ("loggf_err", "loggf_before", "elow_ev") else v)
                for k, v in op.items()} for op in overlay["changes"]]
    out = _apply_changes(read_linelist(linelist_path), changes, str(overlay_path))
    out.attrs["notes"] = list(overlay.get("notes") or [])
    return out
