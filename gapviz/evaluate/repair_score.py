"""Score a repair (``gapviz repair``'s ``changes.csv`` and ``report.json``) against a mock's truth.

Definitions (issue 11's targets; also printed by ``format_repair_scores``):

* **added lines** (rows with ``choice == "added"``): an added line is *real* when a removed line of the
  truth (``/removed``, any depth) lies within one resolution element (|Δλ| ≤ λ/R) of it; ``added_real`` =
  real / added. A removed line deeper than 2 % (``depth_ref``, as the finder's score) is *recovered* when an
  added line lies within λ/R of it; ``added_recall`` = recovered / those lines. For each real added line
  its nearest removed line is its match: ``species_accuracy`` = matches whose species is right (over real
  added lines; ``species_accuracy_deepest``: with the deepest removed line within λ/R as the match instead,
  what a feature there is mostly made of); ``species_balanced`` = the mean over true species of that accuracy; ``species_chance`` =
  naming the commonest true species for every one (the level to beat); ``loggf_error_median`` = median
  |log gf − true log gf| over real added lines with the right species whose match is deeper than 5 %; and
  ``loggf_pull_std`` = the robust σ of (log gf − true) / loggf_err over the same lines (1 when the quoted
  errors are honest); ``strength_error_median`` = the same median for the line's strength at the mock's
  reference giant, log gf − θ χ_low with θ = 5040/4700 (log gf trades against χ_low, which an added line
  from the finder's attribution has on a coarse grid).
* **recalibrated lines** (``choice == "recalibrated"``): the truth's ``/perturbed`` lines carry a log gf
  off by ``delta_loggf`` in the theory's list, so the right change is −delta_loggf. A recalibration is
  *of a perturbed line* when it changes a line of ``/perturbed`` (same species within 0.01 Å);
  ``recal_precision`` = those / recalibrations; ``recal_error_median`` = median |Δlog gf − (−delta)| over
  them for lines deeper than 5 % (the line's own depth at the reference star is not in the truth, so all
  matched lines count and the count is given); ``unperturbed_unchanged`` = 1 − (recalibrations of
  unperturbed lines) / (unperturbed theory lines) (the issue's literal figure, over the whole list) and
  ``unperturbed_unchanged_near`` = the same over the unperturbed lines within one resolution element of a
  candidate (the lines a change was possible for: a stricter figure). With ``line_offsets.csv`` (every known
  line the repair checked): over the perturbed lines it checked that are deeper than 5 %,
  ``perturbed_error_median`` = median |change made (0 if none) − (−delta)| and ``perturbed_measured_error``
  = median |measured residual − (−delta)| (what the line pass saw, significant or not: its floor).
* **damping**: changes with ``choice == "damping"`` on a line with a finite ``gamvw_true`` count as right.
* **labels** (when ``report.json`` holds a refit with star ids): per label, the median of refitted − true
  label with the plain theory (``before``) and with the repaired theory (``after``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd

from gapviz.errors import GapvizError
from gapviz.evaluate.score import MIN_DEPTH, _fmt, _num
from gapviz.mock.truth import read_truth
from gapviz.stats import robust_sigma

#: Removed lines deeper than this (depth at the reference star) count for the log gf figures.
LOGGF_MIN_DEPTH = 0.05
#: The issue's label targets after the loop: |median fitted − true| ≤ this; any other label (an [X/Fe]):
#: LABEL_TARGET_ABUNDANCE.
LABEL_TARGET = {"teff": 50.0, "logg": 0.1}
LABEL_TARGET_ABUNDANCE = 0.05


def label_target(name: str) -> float:
    """The target |bias| of label ``name`` (``LABEL_TARGET``, else ``LABEL_TARGET_ABUNDANCE``)."""
    return LABEL_TARGET.get(name, LABEL_TARGET_ABUNDANCE)
#: θ = 5040 / teff of the mock's reference giant (teff 4700 K).
THETA_REF = 5040.0 / 4700.0
#: A recalibration changes a perturbed line when one of the same species lies this close (Å).
SAME_LINE = 0.01


def _nearest(w: float, table: pd.DataFrame, resolution: float) -> int:
    """Row of ``table`` nearest ``w`` within λ/R, or −1."""
    if table.empty:
        return -1
    d = np.abs(table["wavelength"].to_numpy(float) - w)
    j = int(np.argmin(d))
    return j if d[j] <= w / resolution else -1


def _deepest(w: float, removed: pd.DataFrame, resolution: float) -> int:
    """Row of the deepest removed line (``depth_ref``) within λ/R of ``w``, or −1: the line a feature there is
    mostly made of."""
    if removed.empty:
        return -1
    near = np.flatnonzero(np.abs(removed["wavelength"].to_numpy(float) - w) <= w / resolution)
    if not near.size:
        return -1
    return int(near[np.argmax(removed["depth_ref"].to_numpy(float)[near])])


def score_added(changes: pd.DataFrame, removed: pd.DataFrame, resolution: float) -> dict:
    added = changes[changes["choice"].astype(str) == "added"]
    aw = added["wavelength"].to_numpy(float)
    rw = removed["wavelength"].to_numpy(float)
    depth = removed["depth_ref"].to_numpy(float)
    match = np.array([_nearest(w, removed, resolution) for w in aw], dtype=int)
    deepest = np.array([_deepest(w, removed, resolution) for w in aw], dtype=int)
    real = match >= 0
    target = depth > MIN_DEPTH
    recovered = np.array([np.any(np.abs(aw - w) <= w / resolution) for w in rw[target]], dtype=bool)
    true_species = removed["species"].astype(str).to_numpy()[match[real]]
    got_species = added["species"].astype(str).to_numpy()[real]
    right = true_species == got_species
    right_deepest = removed["species"].astype(str).to_numpy()[deepest[real]] == got_species
    per_species = {s: float(np.mean(right[true_species == s])) for s in np.unique(true_species)}
    commonest = max((np.mean(true_species == s) for s in per_species), default=np.nan)
    deep = depth[match[real]] > LOGGF_MIN_DEPTH
    sel = right & deep
    dlog = added["loggf"].to_numpy(float)[real][sel] - removed["loggf"].to_numpy(float)[match[real]][sel]
    err = added["loggf_err"].to_numpy(float)[real][sel] if "loggf_err" in added else np.full(dlog.size, np.nan)
    pull = dlog / err
    pull = pull[np.isfinite(pull)]
    chi = added["elow_ev"].to_numpy(float)[real][sel] - removed["elow_ev"].to_numpy(float)[match[real]][sel] \
        if "elow_ev" in added and "elow_ev" in removed else np.full(dlog.size, np.nan)
    dstrength = dlog - THETA_REF * chi
    return {"n_added": int(aw.size), "n_added_real": int(real.sum()),
            "added_real": _num(real.mean()) if aw.size else None,
            "n_removed_deeper_2pc": int(target.sum()), "n_recovered": int(recovered.sum()),
            "added_recall": _num(recovered.mean()) if recovered.size else None,
            "species_accuracy": _num(right.mean()) if right.size else None,
            "species_accuracy_deepest": _num(right_deepest.mean()) if right_deepest.size else None,
            "species_balanced": _num(np.mean(list(per_species.values()))) if per_species else None,
            "species_chance": _num(commonest) if per_species else None,
            "species_balanced_chance": _num(1.0 / len(per_species)) if per_species else None,
            "n_loggf_lines": int(dlog.size),
            "loggf_error_median": _num(np.median(np.abs(dlog))) if dlog.size else None,
            "loggf_bias_median": _num(np.median(dlog)) if dlog.size else None,
            "loggf_pull_std": _num(robust_sigma(pull)) if pull.size > 2 else None,
            "strength_error_median": _num(np.nanmedian(np.abs(dstrength))) if dstrength.size else None}


def _is_perturbed(w: float, species: str, perturbed: pd.DataFrame) -> int:
    if perturbed.empty:
        return -1
    d = np.abs(perturbed["wavelength"].to_numpy(float) - w)
    ok = (d <= SAME_LINE) & (perturbed["species"].astype(str).to_numpy() == species)
    return int(np.flatnonzero(ok)[np.argmin(d[ok])]) if ok.any() else -1


def score_recalibrated(changes: pd.DataFrame, perturbed: pd.DataFrame, linelist: pd.DataFrame | None,
                       candidate_wavelengths: np.ndarray, resolution: float) -> dict:
    recal = changes[changes["choice"].astype(str) == "recalibrated"]
    if "delta_loggf" in perturbed:
        perturbed = perturbed[perturbed["delta_loggf"].to_numpy(float) != 0]
    hit = np.array([_is_perturbed(w, s, perturbed) for w, s in
                    zip(recal["wavelength"].to_numpy(float), recal["species"].astype(str))], dtype=int)
    ok = hit >= 0
    got = (recal["loggf"].to_numpy(float) - recal["loggf_before"].to_numpy(float))[ok]
    want = -perturbed["delta_loggf"].to_numpy(float)[hit[ok]] if ok.any() else np.zeros(0)
    out = {"n_recalibrated": int(len(recal)), "n_recal_of_perturbed": int(ok.sum()),
           "n_perturbed": int(len(perturbed)),
           "recal_precision": _num(ok.mean()) if len(recal) else None,
           "recal_error_median": _num(np.median(np.abs(got - want))) if got.size else None,
           "perturbed_recovered": _num(np.unique(hit[ok]).size / len(perturbed)) if len(perturbed) else None}
    if linelist is not None and len(linelist):
        lw = linelist["wavelength"].to_numpy(float)
        ls = linelist["species"].astype(str).to_numpy()
        unpert = np.array([_is_perturbed(w, s, perturbed) < 0 for w, s in zip(lw, ls)], dtype=bool)
        near = np.zeros(lw.size, dtype=bool)
        for w in np.asarray(candidate_wavelengths, float):
            near |= np.abs(lw - w) <= w / resolution
        wrong = int((~ok).sum())
        out["unperturbed_unchanged"] = _num(1.0 - wrong / max(int(unpert.sum()), 1))
        out["n_unperturbed_near"] = int((unpert & near).sum())
        out["unperturbed_unchanged_near"] = _num(1.0 - wrong / max(int((unpert & near).sum()), 1))
    return out


def score_perturbed_lines(offsets: pd.DataFrame, changes: pd.DataFrame, perturbed: pd.DataFrame) -> dict:
    """The perturbed lines the line pass checked (deeper than 5 %): the change made and the residual measured."""
    if offsets.empty or perturbed.empty or "residual" not in offsets:
        return {}
    perturbed = perturbed[perturbed["delta_loggf"].to_numpy(float) != 0] if "delta_loggf" in perturbed else perturbed
    recal = changes[changes["choice"].astype(str) == "recalibrated"]
    made, measured = [], []
    for _, line in offsets[offsets["depth"].to_numpy(float) > LOGGF_MIN_DEPTH].iterrows():
        j = _is_perturbed(float(line["wavelength"]), str(line["species"]), perturbed)
        if j < 0:
            continue
        want = -float(perturbed["delta_loggf"].iloc[j])
        hit = recal[(np.abs(recal["wavelength"].to_numpy(float) - float(line["wavelength"])) <= SAME_LINE)
                    & (recal["species"].astype(str) == str(line["species"]))]
        change = float((hit["loggf"] - hit["loggf_before"]).iloc[0]) if len(hit) else 0.0
        made.append(abs(change - want))
        measured.append(abs(float(line["residual"]) - want))
    if not made:
        return {}
    return {"n_perturbed_checked": len(made), "perturbed_error_median": _num(np.median(made)),
            "perturbed_measured_error": _num(np.nanmedian(measured)),
            "perturbed_delta_median": _num(np.median(np.abs(perturbed["delta_loggf"].to_numpy(float))))}


def score_damping(changes: pd.DataFrame, perturbed: pd.DataFrame) -> dict:
    damp = changes[changes["choice"].astype(str) == "damping"]
    if "gamvw_true" not in perturbed:
        return {"n_damping": int(len(damp)), "n_damped_true": 0}
    truly = perturbed[np.isfinite(perturbed["gamvw_true"].to_numpy(float))]
    hit = np.array([_is_perturbed(w, s, truly) for w, s in
                    zip(damp["wavelength"].to_numpy(float), damp["species"].astype(str))], dtype=int)
    return {"n_damping": int(len(damp)), "n_damped_true": int(len(truly)),
            "n_damping_right": int((hit >= 0).sum()),
            "damped_recovered": _num(np.unique(hit[hit >= 0]).size / len(truly)) if len(truly) else None}


def score_labels(report: dict, truth) -> dict:
    """Median refitted − true label, plain and repaired theory (report["labels"] with star_id)."""
    block = report.get("labels") or {}
    if "star_id" not in block:
        return {}
    index = {str(s): i for i, s in enumerate(np.asarray(truth.star_id).astype(str))}
    rows = np.array([index.get(str(s), -1) for s in block["star_id"]])
    if np.any(rows < 0):
        raise GapvizError("report.json: its refitted stars are not in this truth.h5 (star_id); expected the "
                          "truth of the observed set the store was made from")
    out = {}
    for which in ("before", "after"):
        values = np.asarray(block[which], dtype=float)
        for k, name in enumerate(block["names"]):
            if name in truth.labels:
                d = values[:, k] - np.asarray(truth.labels[name], float)[rows]
                out.setdefault(name, {})[which] = _num(np.nanmedian(d))
    return out


def score_repair(repair_dir: str | os.PathLike, truth_path: str | os.PathLike, *,
                 linelist: pd.DataFrame | None = None, candidate_wavelengths: np.ndarray | None = None,
                 resolution: float | None = None) -> dict:
    """All the figures above for ``repair_dir`` (changes.csv, report.json) against ``truth_path``."""
    from gapviz.repair.outputs import CHANGES_FILE, OFFSETS_FILE, REPORT_FILE

    repair_dir = Path(repair_dir)
    if not (repair_dir / CHANGES_FILE).is_file():
        raise GapvizError(f"{repair_dir}: no {CHANGES_FILE}; expected a folder written by 'gapviz repair'")
    changes = pd.read_csv(repair_dir / CHANGES_FILE)
    offsets = pd.read_csv(repair_dir / OFFSETS_FILE) if (repair_dir / OFFSETS_FILE).is_file() else pd.DataFrame()
    report = json.loads((repair_dir / REPORT_FILE).read_text()) if (repair_dir / REPORT_FILE).is_file() else {}
    truth = read_truth(truth_path)
    if resolution is None:
        resolution = float(report.get("resolution", truth.attrs.get("resolution", 22500.0)))
    if candidate_wavelengths is None:
        candidate_wavelengths = changes.get("candidate_wavelength", changes["wavelength"]).to_numpy(float)
    out = {"repair": str(repair_dir), "truth": str(truth_path), "resolution": resolution,
           "added": score_added(changes, truth.removed, resolution),
           "recalibrated": score_recalibrated(changes, truth.perturbed, linelist, candidate_wavelengths,
                                              resolution),
           "damping": score_damping(changes, truth.perturbed),
           "perturbed_lines": score_perturbed_lines(offsets, changes, truth.perturbed),
           "labels": score_labels(report, truth)}
    verification = report.get("verification", {})
    if "gap_closed" in verification:
        out["gap_closed"] = _num(verification["gap_closed"])
        out["verify_method"] = verification.get("method")
    return out


def format_repair_scores(scores: dict) -> str:
    a, r, d = scores["added"], scores["recalibrated"], scores["damping"]
    p = scores.get("perturbed_lines") or {}
    lines = ["The repair against the mock's truth (gapviz.evaluate.repair_score):",
             f"  added lines: {a['n_added']}, real {_fmt(a['added_real'])}; recall of removed lines deeper than "
             f"2 %: {_fmt(a['added_recall'])} ({a['n_recovered']}/{a['n_removed_deeper_2pc']})",
             f"  species right: {_fmt(a['species_accuracy'])} (commonest-species guess {_fmt(a['species_chance'])}; "
             f"against the deepest removed line within λ/R {_fmt(a['species_accuracy_deepest'])});"
             f" balanced {_fmt(a['species_balanced'])} (chance {_fmt(a['species_balanced_chance'])})",
             f"  log gf of added lines deeper than 5 %: median |error| {_fmt(a['loggf_error_median'])} dex, "
             f"bias {_fmt(a['loggf_bias_median'])} ({a['n_loggf_lines']} lines); pull σ {_fmt(a['loggf_pull_std'])}; "
             f"strength (log gf − θχ) {_fmt(a.get('strength_error_median'))} dex",
             f"  recalibrated: {r['n_recalibrated']}, of perturbed lines {r['n_recal_of_perturbed']} "
             f"(of {r['n_perturbed']}); median |Δlog gf error| {_fmt(r['recal_error_median'])} dex",
             f"  unperturbed lines left unchanged: {_fmt(r.get('unperturbed_unchanged'))} of the list, "
             f"{_fmt(r.get('unperturbed_unchanged_near'))} of the {r.get('n_unperturbed_near', '-')} near a "
             "candidate",
             *([f"  perturbed lines deeper than 5 % checked: {p['n_perturbed_checked']}; median |error| of the change "
                f"made {_fmt(p['perturbed_error_median'])} dex, of the residual measured "
                f"{_fmt(p['perturbed_measured_error'])} dex (|Δ log gf| given: median "
                f"{_fmt(p['perturbed_delta_median'])})"] if p else []),
             f"  damping changes: {d['n_damping']} ({d.get('n_damping_right', 0)} right; {d['n_damped_true']} "
             "damping errors in the truth)"]
    if "gap_closed" in scores:
        lines.append(f"  share of the χ² gap closed ({scores.get('verify_method')}): {_fmt(scores['gap_closed'])}")
    if scores["labels"]:
        lines.append("  label bias (median refitted − true): plain theory → repaired theory")
        for name, v in scores["labels"].items():
            lines.append(f"    {name:8s} {_fmt(v.get('before')):>10s} → {_fmt(v.get('after')):>10s}")
    return "\n".join(lines)


def score_store_repair(store_dir: str | os.PathLike, repair_dir: str | os.PathLike, truth_path: str | os.PathLike,
                       write: bool = True) -> dict:
    """``score_repair`` with the store's theory list and candidates; writes REPAIR_DIR/score.json."""
    from gapviz.files import atomic_write_text
    from gapviz.io.linelist import read_linelist
    from gapviz.store import open_store, store_candidates

    report_path = Path(repair_dir) / "report.json"
    report = json.loads(report_path.read_text()) if report_path.is_file() else {}
    with open_store(store_dir) as ds:
        candidates = store_candidates(ds)
        lines_path = report.get("linelist") or ds.attrs.get("linelist_path", "")
    linelist = read_linelist(lines_path) if lines_path and Path(lines_path).is_file() else None
    out = score_repair(repair_dir, truth_path, linelist=linelist,
                       candidate_wavelengths=candidates["wavelength"].to_numpy(float) if len(candidates) else None)
    if write:
        atomic_write_text(Path(repair_dir) / "score.json", json.dumps(out, indent=2) + "\n")
    return out
