"""A person's review of a repair: accept, reject or edit each change, kept in one file beside the store.

``STORE_DIR/review.csv`` holds one row per decided change, keyed by the change's identity as ``gapviz repair``
wrote it (``wavelength`` vacuum Å of the line, ``species``, ``candidate`` rank, 0 for a known line checked
without a candidate):

    wavelength,species,candidate,choice,decision,loggf,elow_ev,edit_wavelength,edit_species,source_sha256,time

``decision`` is ``accept`` (as proposed), ``reject`` (the original line and log gf back; an added line dropped)
or ``edit`` (the change with the edited ``loggf`` / ``elow_ev``, and for an added line ``edit_wavelength`` /
``edit_species``); ``source_sha256`` is the SHA-256 of the line list the repair was made from (its
``overlay.json``), so that a review is applied only to a repair of that list; ``time`` is UTC ISO 8601.

``record_decision`` adds or replaces one row under an exclusive lock (``fcntl.flock`` on ``review.csv.lock``):
read, merge, write a temporary file, ``os.replace``. Two sessions deciding at once both keep their rows.
``reviewed_linelist`` applies the decisions to the repaired list (REPAIR_DIR/linelist.csv, which carries
``change``, ``loggf_before`` and ``candidate``); ``write_reviewed`` writes a reviewed REPAIR_DIR.
"""

from __future__ import annotations

import fcntl
import json
import math
import os
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from gapviz.errors import GapvizError
from gapviz.files import atomic_path, staged_folder
from gapviz.io.linelist import (
    parse_species,
    read_linelist,
    write_linelist_csv,
)
from gapviz.io.moog_writer import write_moog
from gapviz.store.paths import existing_store_file

REVIEW_FILE = "review.csv"
DECISIONS = ("accept", "reject", "edit")
COLUMNS = ["wavelength", "species", "candidate", "choice", "decision", "loggf", "elow_ev", "edit_wavelength",
           "edit_species", "source_sha256", "time"]
#: Allowed ranges of edited values.
LOGGF_RANGE = (-10.0, 3.0)
ELOW_RANGE_EV = (0.0, 15.0)
#: Two wavelengths closer than this (Å) name the same line (files round to 1e-6 Å).
SAME_LINE_TOL = 1e-3
#: Changes whose line may be edited beyond its log gf and E_low.
MOVABLE = ("added",)


@dataclass(frozen=True)
class Decision:
    """One decision on one change (see the module docstring); NaN / "" where a value is not edited."""

    wavelength: float
    species: str
    candidate: int
    decision: str
    choice: str = ""
    loggf: float = math.nan
    elow_ev: float = math.nan
    edit_wavelength: float = math.nan
    edit_species: str = ""


def check_decision(d: Decision, *, species: set[str] | None = None,
                   wavelength_range: tuple[float, float] | None = None) -> None:
    """GapvizError with one clear sentence unless ``d`` is a valid decision (species in ``species`` when given,
    the edited wavelength inside ``wavelength_range`` Å when given)."""
    if d.decision not in DECISIONS:
        raise GapvizError(f"decision {d.decision!r} unknown; expected one of {', '.join(DECISIONS)}")
    if not (isinstance(d.wavelength, (int, float)) and math.isfinite(d.wavelength) and d.wavelength > 0):
        raise GapvizError(f"wavelength {d.wavelength!r}: expected the change's wavelength in Å")
    if d.decision != "edit":
        return
    lo, hi = LOGGF_RANGE
    if not (math.isfinite(d.loggf) and lo <= d.loggf <= hi):
        raise GapvizError(f"log gf {d.loggf}: expected a number within [{lo:g}, {hi:g}]")
    lo, hi = ELOW_RANGE_EV
    if not (math.isfinite(d.elow_ev) and lo <= d.elow_ev <= hi):
        raise GapvizError(f"E_low {d.elow_ev} eV: expected a number within [{lo:g}, {hi:g}] eV")
    moved = d.edit_species not in ("", d.species) or (math.isfinite(d.edit_wavelength)
                                                       and abs(d.edit_wavelength - d.wavelength) > SAME_LINE_TOL)
    if moved and d.choice and d.choice not in MOVABLE:
        raise GapvizError(f"a {d.choice} known line keeps its wavelength and species; reject it instead "
                          "(or edit its log gf and E_low)")
    if d.edit_species:
        try:
            parse_species(d.edit_species)
        except ValueError:
            raise GapvizError(f"species {d.edit_species!r} is not a species (e.g. 'Fe I', 'CO')") from None
        if species is not None and d.edit_species not in species:
            raise GapvizError(f"species {d.edit_species!r} is not one of the store's line list "
                              f"({', '.join(sorted(species))})")
    if math.isfinite(d.edit_wavelength) and wavelength_range is not None:
        lo, hi = wavelength_range
        if not lo <= d.edit_wavelength <= hi:
            raise GapvizError(f"wavelength {d.edit_wavelength:.3f} Å lies outside the store's range "
                              f"{lo:.3f}–{hi:.3f} Å")


def empty_review() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object if c in ("species", "choice", "decision", "edit_species",
                                                             "source_sha256", "time") else float) for c in COLUMNS})


def read_review(path: str | os.PathLike) -> pd.DataFrame:
    """The decisions in ``path`` (an empty table when the file does not exist); GapvizError if unreadable."""
    path = Path(path)
    if not path.exists():
        return empty_review()
    try:
        table = pd.read_csv(path, dtype={"species": str, "edit_species": str, "choice": str, "decision": str,
                                         "source_sha256": str, "time": str}, keep_default_na=False,
                            na_values={c: [""] for c in ("wavelength", "loggf", "elow_ev", "edit_wavelength",
                                                         "candidate")})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as exc:
        raise GapvizError(f"{path}: not a readable review CSV ({exc}); expected the columns "
                          f"{','.join(COLUMNS)}") from None
    missing = [c for c in ("wavelength", "species", "candidate", "decision") if c not in table]
    if missing:
        raise GapvizError(f"{path}: lacks column(s) {missing}; expected a review file ({','.join(COLUMNS)})")
    for c in COLUMNS:
        if c not in table:
            table[c] = "" if c in ("choice", "edit_species", "source_sha256", "time") else np.nan
    bad = ~table["decision"].isin(DECISIONS)
    if bad.any():
        raise GapvizError(f"{path}: row {int(np.flatnonzero(bad)[0]) + 2}: decision "
                          f"{table['decision'][bad].iloc[0]!r}; expected one of {', '.join(DECISIONS)}")
    table["candidate"] = pd.to_numeric(table["candidate"], errors="coerce").fillna(0).astype(int)
    return table[COLUMNS].reset_index(drop=True)


def _same(table: pd.DataFrame, wavelength: float, species: str, candidate: int) -> np.ndarray:
    """(len(table),) bool: rows naming the change (wavelength within SAME_LINE_TOL, species, candidate)."""
    return ((np.abs(table["wavelength"].to_numpy(float) - wavelength) <= SAME_LINE_TOL)
            & (table["species"].astype(str).to_numpy() == species)
            & (table["candidate"].to_numpy(int) == int(candidate)))


def record_decision(path: str | os.PathLike, d: Decision, source_sha256: str = "") -> pd.DataFrame:
    """Add (or replace) ``d`` in the review file ``path`` under an exclusive lock; the merged table.

    Lock, read, merge, atomic replace: a concurrent writer's rows are never lost."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.parent / f"{path.name}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            table = read_review(path)
            row = asdict(d) | {"source_sha256": source_sha256,
                               "time": datetime.now(UTC).isoformat(timespec="seconds")}
            table = table[~_same(table, d.wavelength, d.species, d.candidate)]
            table = pd.concat([table, pd.DataFrame([row], columns=COLUMNS)], ignore_index=True)
            table = table.sort_values(["wavelength", "candidate"], kind="stable").reset_index(drop=True)
            with atomic_path(path) as tmp:
                table.to_csv(tmp, index=False, float_format="%.6f")
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return table


def decision_for(review: pd.DataFrame, wavelength: float, species: str, candidate: int) -> dict | None:
    """The review row of one change as a dict, or None when it is undecided."""
    hit = np.flatnonzero(_same(review, wavelength, species, candidate)) if len(review) else []
    return review.iloc[int(hit[-1])].to_dict() if len(hit) else None


# --- applying a review to a repaired list ----------------------------------------------------------------

def read_repaired(repair_dir: str | os.PathLike) -> tuple[pd.DataFrame, str]:
    """(REPAIR_DIR/linelist.csv as written, with ``change``/``loggf_before``/``candidate``; the source list's
    SHA-256 from overlay.json, "" when there is none)."""
    repair_dir = Path(repair_dir)
    path = repair_dir / "linelist.csv"
    if not path.is_file():
        raise GapvizError(f"{path}: missing; expected a repair folder written by 'gapviz repair --out'")
    table = pd.read_csv(path, keep_default_na=False, na_values={"loggf_before": [""], "loggf_err": [""],
                                                                "candidate": [""], "d0_ev": [""]})
    need = ("wavelength", "species", "loggf", "elow_ev", "change", "loggf_before", "candidate")
    missing = [c for c in need if c not in table]
    if missing:
        raise GapvizError(f"{path}: lacks column(s) {missing}; expected the repaired list of 'gapviz repair'")
    sha = ""
    overlay = repair_dir / "overlay.json"
    if overlay.is_file():
        try:
            sha = str(json.loads(overlay.read_text()).get("source_sha256", ""))
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise GapvizError(f"{overlay}: not JSON; expected the overlay.json of 'gapviz repair'") from None
    return table, sha


def reviewed_linelist(repaired: pd.DataFrame, review: pd.DataFrame, source_sha256: str = "",
                      what: str = "review") -> pd.DataFrame:
    """The repaired list (``read_repaired``) with the decisions applied, and a ``review`` column (accepted,
    rejected, edited, undecided; "" for kept lines; ``.attrs["counts"]`` counts them). Rejected: an added line is
    dropped, a recalibrated line gets its ``loggf_before`` back, a damping change is undone; edited: the edited
    values. GapvizError when a decision names no change of this repair or comes from a repair of another list."""
    out = repaired.copy().reset_index(drop=True)
    change = out["change"].astype(str).to_numpy()
    changed = np.flatnonzero(change != "kept")
    out["review"] = np.where(change != "kept", "undecided", "")
    cand = pd.to_numeric(out["candidate"], errors="coerce").fillna(0).astype(int).to_numpy()
    if len(review):
        other = sorted({s for s in review["source_sha256"].astype(str) if s and s != "nan"} - {source_sha256})
        if source_sha256 and other:
            raise GapvizError(f"{what}: made for a repair of another line list (SHA-256 {other[0][:12]}…, this "
                              f"repair's {source_sha256[:12]}…); was it made for another store or repair?")
    drop, used = [], np.zeros(len(review), dtype=bool)
    for i in changed:
        hit = np.flatnonzero(_same(review, float(out.at[i, "wavelength"]), str(out.at[i, "species"]), cand[i])) \
            if len(review) else []
        if not len(hit):
            continue
        used[hit] = True
        r = review.iloc[int(hit[-1])]
        if r["decision"] == "accept":
            out.at[i, "review"] = "accepted"
        elif r["decision"] == "reject":
            out.at[i, "review"] = "rejected"
            if change[i] == "added":
                drop.append(i)
            elif change[i] == "recalibrated":
                out.at[i, "loggf"] = out.at[i, "loggf_before"]
        else:
            out.at[i, "review"] = "edited"
            out.at[i, "loggf"], out.at[i, "elow_ev"] = float(r["loggf"]), float(r["elow_ev"])
            if change[i] == "added":
                if math.isfinite(float(r["edit_wavelength"])):
                    out.at[i, "wavelength"] = float(r["edit_wavelength"])
                edited = str(r["edit_species"]).strip()
                if edited not in ("", "nan") and edited != out.at[i, "species"]:
                    out.at[i, "species"] = edited
                    if "isotopes" in out.columns:  # the fitted isotopologue was the old species'
                        out.at[i, "isotopes"] = ""
    if len(review) and not used.all():
        r = review[~used].iloc[0]
        raise GapvizError(f"{what}: {int((~used).sum())} decision(s) name changes this repair does not make "
                          f"(e.g. {r['species']} {float(r['wavelength']):.4f} Å, candidate {int(r['candidate'])}); "
                          "was it made for another store or repair?")
    counts = out["review"].value_counts()
    out = out.drop(index=drop)
    out.loc[out["review"] == "rejected", "change"] = "kept"
    out = out.sort_values("wavelength", kind="stable").reset_index(drop=True)
    out.attrs["counts"] = {k: int(counts.get(k, 0)) for k in ("accepted", "rejected", "edited", "undecided")}
    return out


def write_reviewed(out_dir: str | os.PathLike, reviewed: pd.DataFrame, report: dict,
                   overwrite: bool = False) -> dict[str, Path]:
    """Write the reviewed list to OUT_DIR: ``linelist.csv`` (with ``change`` and ``review``), ``linelist.moog``
    (air Å), ``linelist_plain.csv`` (gapviz CSV, the contract columns only) and ``report.json``; staged beside
    OUT_DIR and moved in at the end. An existing non-empty OUT_DIR is refused unless ``overwrite``."""
    out_dir = Path(out_dir)
    _check_out_dir(out_dir, overwrite)
    names = {"linelist": "linelist.csv", "plain": "linelist_plain.csv", "moog": "linelist.moog",
             "report": "report.json"}  # report.json last
    with staged_folder(out_dir, list(names.values()), lambda d: _check_out_dir(d, overwrite)) as staging:
        reviewed.to_csv(staging / names["linelist"], index=False)
        write_linelist_csv(reviewed, staging / names["plain"])
        write_moog(read_linelist(staging / names["linelist"]), staging / names["moog"],
                   title=f"gapviz reviewed repair: {report.get('counts', {})} (air wavelengths)")
        (staging / names["report"]).write_text(json.dumps(report, indent=2) + "\n")
    return {k: out_dir / v for k, v in names.items()}


def _check_out_dir(out_dir: Path, overwrite: bool) -> None:
    """Refuse an existing OUT_DIR that is a file or holds files, unless ``overwrite``."""
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())) and not overwrite:
        raise GapvizError(f"{out_dir}: already exists; refusing to overwrite it (pass --overwrite to replace it)")


def review_counts(reviewed: pd.DataFrame) -> dict[str, int]:
    """{accepted, rejected, edited, undecided: number of changes} of a ``reviewed_linelist`` (rejected added
    lines included, though the list no longer holds them)."""
    return dict(reviewed.attrs["counts"])


def apply_review(store_dir: str | os.PathLike, review_path: str | os.PathLike, out_dir: str | os.PathLike,
                 repair_dir: str | os.PathLike | None = None, overwrite: bool = False) -> dict:
    """``gapviz repair STORE_DIR --review REVIEW_CSV --out OUT_DIR [--from REPAIR_DIR]``: the repair (REPAIR_DIR,
    default STORE_DIR/repair) with the review's decisions applied, written to OUT_DIR; returns the report."""
    store_dir = existing_store_file(store_dir).parent
    repair_dir = Path(repair_dir) if repair_dir else store_dir / "repair"
    if not (repair_dir / "linelist.csv").is_file():
        raise GapvizError(f"{repair_dir}: no repair there (linelist.csv); pass --from REPAIR_DIR, the folder "
                          "'gapviz repair STORE_DIR --out REPAIR_DIR' wrote")
    review_path = Path(review_path)
    if not review_path.is_file():
        raise GapvizError(f"{review_path}: no such review file; the workbench writes STORE_DIR/{REVIEW_FILE}")
    out_dir = Path(out_dir)
    _check_out_dir(out_dir, overwrite)
    repaired, sha = read_repaired(repair_dir)
    reviewed = reviewed_linelist(repaired, read_review(review_path), sha, what=str(review_path))
    report = {"store": str(store_dir), "repair": str(repair_dir), "review": str(review_path),
              "source_sha256": sha, "counts": review_counts(reviewed),
              "lines": len(reviewed), "time": datetime.now(UTC).isoformat(timespec="seconds")}
    report["files"] = {k: str(v) for k, v in write_reviewed(out_dir, reviewed, report, overwrite).items()}
    return report
