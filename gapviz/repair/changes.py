"""Explanations become changes to a line list: one change per line, resolved and applied.

``explanations`` is ``gapviz.repair.explain``'s table, one row per candidate (and per known line the line pass
found wrong, candidate 0): ``candidate`` (rank), ``wavelength``, ``choice`` ("added" | "recalibrated" |
"damping" | "none"), ``line_wavelength`` (vacuum Å), ``line_listed`` (an added reference-list line's listed
position, its identity; NaN otherwise), ``species``, ``elow_ev``, ``loggf``, ``loggf_err``,
``loggf_before``, ``line_index`` (row of the line list for "recalibrated" and "damping", -1 otherwise),
``label``, ``n_stars``, ``chi2_<alternative>``, ``bic_<alternative>``, ``wing_amplitude``, ``wing_gamma``.

One change per line: when two candidates recalibrate the same line (or add the same line twice: the same
reference-list line, wherever each fit shifted it, or lines within ``SAME_ADDED_ELEMENTS`` resolution elements), the one with the larger BIC gain
(``bic_none - bic_<choice>``; ties: the better rank) is kept and the other is named in the notes
(``repaired_linelist(...).attrs["notes"]``, ``report.json``'s ``notes``). A damping change marks the line
(``change = damping``) and keeps its log gf (``gapviz.repair.damping``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from gapviz.errors import GapvizError
from gapviz.instrument import RESOLUTION
from gapviz.io.linelist import parse_species, species_fields, vacuum_to_air
from gapviz.repair.explain import CHOICES

EXPLANATION_COLUMNS = ["candidate", "wavelength", "choice", "line_wavelength", "species", "elow_ev", "loggf",
                       "loggf_err", "loggf_before", "line_index"]
CHANGES_COLUMNS = ["candidate", "choice", "wavelength", "line_listed", "species", "isotopes", "elow_ev", "loggf",
                   "loggf_before", "loggf_err", "label", "n_stars", "candidate_wavelength", "line_index",
                   "delta_chi2_added", "delta_chi2_recalibrated", "delta_chi2_damping", "bic_none", "bic_added",
                   "bic_recalibrated", "bic_damping", "bic_gain", "wing_amplitude", "wing_gamma"]
#: Two lines of the same species closer than this (Å, vacuum) are the same line.
SAME_LINE_TOL = 2e-3
#: Two *added* lines (of any species) closer than this many resolution elements (λ/R) explain one feature
#: twice (two candidates on the same dip, each fitted alone, make it twice as deep; whatever their species):
#: the one with the larger BIC gain is kept. 0.15 (≈ 0.1 Å in the H band): at 0.3 two distinct CO lines of the
#: LineModel mock merged.
SAME_ADDED_ELEMENTS = 0.15

def _num(value: Any) -> float:
    """float(value), NaN for None/blank/unparseable."""
    try:
        out = float(value)
    except (TypeError, ValueError):
        return float("nan")
    return out


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
            iso = row.get("isotopes", "")  # the isotopologue whose τ the fit used (its fraction is folded in)
            op = {"op": "add", "candidate": rank, "wavelength": line_wl, "species": species,
                  "isotopes": iso.strip() if isinstance(iso, str) else "", "elow_ev": elow, "loggf": loggf,
                  "loggf_err": loggf_err}
            # a reference-list line is the line at its listed position, wherever each candidate's fit shifted it
            listed = _num(row.get("line_listed"))
            at = listed if math.isfinite(listed) else line_wl
            key = ("add", species, round(at / SAME_LINE_TOL))
            merge = SAME_ADDED_ELEMENTS * line_wl / resolution
            for other in picked:  # one dip explained twice: added lines (of any species, each fitted alone on
                # the same dip) within the tolerance, not only the same rounding bin; the larger BIC gain stays.
                # A blend's lines (one candidate) were fitted together: they stay apart.
                if other == key or (other[0] == "add" and abs(picked[other][2]["wavelength"] - line_wl) <= merge
                                    and picked[other][1] != rank):
                    key = other
                    break
        gain = _gain(row, choice)
        evidence = {
            "candidate": rank, "choice": choice, "wavelength": op["wavelength"],
            "line_listed": _num(row.get("line_listed")) if choice == "added" else float("nan"), "species": species,
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
            old_gain, old_rank, old_op, _ = picked[key]
            what = f"both {choice} the {species} {op['wavelength']:.3f} Å line"
            if old_op["species"] != species:
                what = (f"added lines on one dip ({old_op['species']} {old_op['wavelength']:.3f} Å, "
                        f"{species} {op['wavelength']:.3f} Å)")
            if (gain, -rank) > (old_gain, -old_rank):
                notes.append(f"candidates {old_rank} and {rank} {what}; kept candidate "
                             f"{rank} (BIC gain {gain:.1f} > {old_gain:.1f}), dropped {old_rank}")
                picked[key] = (gain, rank, op, evidence)
            else:
                notes.append(f"candidates {old_rank} and {rank} {what}; kept candidate "
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
            if kind in ("recalibrate", "damping"):
                pos = _locate(lines, int(op["line_index"]), _num(op["wavelength"]), str(op["species"]),
                              _num(op["loggf_before"]), what)
                if change[pos] != "kept":
                    raise GapvizError(f"{what}: line {pos} ({op['species']} {op['wavelength']:.3f} Å) is changed twice")
                cand[pos] = int(op["candidate"])
                change[pos] = "recalibrated" if kind == "recalibrate" else "damping"
                if kind == "recalibrate":
                    before[pos] = loggf[pos]
                    loggf[pos] = _num(op["loggf"])
                    err[pos] = _num(op.get("loggf_err"))
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
            wl = _num(op["wavelength"])
            row = {"wavelength": wl, "species": species, "loggf": _num(op["loggf"]), "elow_ev": _num(op["elow_ev"]),
                   "medium": "vacuum", "change": "added", "loggf_before": np.nan,
                   "loggf_err": _num(op.get("loggf_err")), "candidate": int(op["candidate"])}
            if has_iso:
                row["isotopes"] = str(op.get("isotopes") or "")
            derived = {"wavelength_air": float(vacuum_to_air(wl))} | species_fields(species)
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
