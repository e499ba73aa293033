"""The files ``gapviz repair`` writes: the repaired line list, its changes, and an overlay to re-apply them.

The explanations and how they become changes: ``gapviz.repair.changes`` (``resolve_changes``,
``repaired_linelist``, re-exported here).

``write_repair`` fills REPAIR_DIR with:

* ``linelist.csv``: the whole repaired list, gapviz CSV (``wavelength,species,loggf,elow_ev,medium``, vacuum
  Å, then ``isotopes``, ``change`` kept|recalibrated|added|damping, ``loggf_before``, ``loggf_err``, ``candidate``,
  ``d0_ev``); ``gapviz.io.linelist.read_linelist`` reads it;
* ``linelist.moog``: the same list for MOOG (air Å; ``gapviz.io.moog_writer.write_moog``);
* ``changes.csv``: only the changes, with their evidence (``gapviz.repair.changes.CHANGES_COLUMNS``:
  ``wavelength`` is where the line is written (an added line's fitted,
  possibly shifted, position), ``line_listed`` an added reference-list line's listed wavelength in the reference
  list, NaN otherwise; ``delta_chi2_<alt>`` = χ²(alt) − χ²(none), so negative is a better fit; the BICs);
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
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gapviz.errors import GapvizError
from gapviz.files import staged_folder
from gapviz.instrument import RESOLUTION
from gapviz.io.linelist import CSV_COLUMNS, read_linelist
from gapviz.io.moog_writer import write_moog
from gapviz.repair.changes import _apply_changes, repaired_linelist, resolve_changes

__all__ = ["apply_overlay", "read_overlay", "repaired_linelist", "resolve_changes", "sha256_file", "write_repair"]

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
_ROUND = {"wavelength": 6, "line_listed": 6, "loggf": 4, "elow_ev": 4, "loggf_before": 4, "loggf_err": 4, "d0_ev": 3,
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

    # report.json last (REPAIR_FILES' order)
    with staged_folder(out_dir, list(REPAIR_FILES.values()), lambda d: _check_out_dir(d, overwrite)) as staging:
        _linelist_csv_frame(repaired).to_csv(staging / LINELIST_FILE, index=False)
        write_moog(repaired, staging / MOOG_FILE,
                   title=f"gapviz repair of {source_path.name}: {counts['recalibrated']} recalibrated, "
                         f"{counts['added']} added (air wavelengths)")
        _rounded(evidence).to_csv(staging / CHANGES_FILE, index=False)
        (staging / OVERLAY_FILE).write_text(json.dumps(overlay, indent=2, allow_nan=False) + "\n")
        offsets = line_offsets if line_offsets is not None else pd.DataFrame(columns=["line_index", "wavelength"])
        offsets.round(5).to_csv(staging / OFFSETS_FILE, index=False)
        (staging / REPORT_FILE).write_text(json.dumps(_jsonable(full_report), indent=2, allow_nan=False) + "\n")
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
