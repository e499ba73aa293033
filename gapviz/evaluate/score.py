"""Score a candidate table against a mock experiment's truth (``truth.h5``, docs/ARCHITECTURE.md §4).

Definitions (also printed with the scores):
* targets: ``/removed`` lines with ``depth_ref`` > ``min_depth`` (2 %). "Deeper than 2 %" is the central
  depth the line alone makes at the mock's reference giant (teff 4700 K, logg 2.5, solar abundances; the
  ``truth.h5`` attrs name it), not at the deepest star (``depth_max``, typically 2-4x larger for molecules);
* a target is *found* when a candidate flagged absent (``in_linelist`` False, absorption) lies within one
  resolution element (|Δλ| <= λ/R); a target with ``blended`` True is found by any *absorption* candidate
  there (its kept blend partner makes "in the line list" a fair answer; an emission feature, a theory line
  too strong, never finds a missing absorption line);
* recall = found / targets; ``recall_any_kind``: the same with the issue's literal rule, where a blended
  target is found by a candidate of either kind there (an emission feature too: something is wrong there);
  precision = absent-flagged absorption candidates within one resolution element
  of any removed line (of any depth) / absent-flagged absorption candidates; F1 their harmonic mean;
* attribution accuracy: over found targets whose truth ``label`` is not "", the fraction whose nearest
  matching candidate's ``attributed_label`` equals it; ``attribution_commonest_label``: the accuracy of
  naming the commonest true label for every one of them (the chance level to beat: in an H-band mock most
  missing lines are CO); ``attribution_balanced``: the mean over true labels of each label's accuracy
  (1 / number of labels for that naive rule);
* identification (with a reference list): over found targets, the fraction whose nearest matching
  candidate's ``identification`` names the right species (``identification_species_accuracy``) and the
  line itself, within 0.02 Å (``identification_line_accuracy``; on a gapviz mock the removed lines are
  exactly the reference lines the theory lacks, which ``gapviz.discover.crossmatch.identify`` prefers, so
  this one flatters);
* n_candidates_in_linelist: absorption candidates flagged as strength problems of known lines;
* precision_all_absorption: the same as precision over every absorption candidate, flagged or not
  (a check on false alarms; in dense molecular bands chance coincidences inflate it);
* label scatter: per label, bias (median) and scatter (standard deviation, and 1.4826 MAD) of
  inferred − true over the stars, matched by star_id.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gapviz.discover.rank import absent_absorption
from gapviz.errors import GapvizError
from gapviz.stats import robust_sigma

MIN_DEPTH = 0.02
DEPTH_BINS = (0.02, 0.05, 0.1, 0.2, 1.0)


def score_candidates(
    cands: pd.DataFrame,
    removed: pd.DataFrame,
    resolution: float,
    min_depth: float = MIN_DEPTH,
    depth_bins: tuple[float, ...] = DEPTH_BINS,
) -> dict:
    """Precision, recall, F1, recall by depth bin and attribution accuracy (see module doc)."""
    cw = cands["wavelength"].to_numpy(float) if len(cands) else np.zeros(0)
    absent = absent_absorption(cands)
    rw = removed["wavelength"].to_numpy(float)
    depth = removed["depth_ref"].to_numpy(float)
    blended = removed["blended"].to_numpy().astype(bool) if "blended" in removed else np.zeros(rw.size, bool)
    labels = removed["label"].astype(str).to_numpy() if "label" in removed else np.full(rw.size, "")
    target = depth > min_depth
    absorption = cands["depth"].to_numpy(float) > 0 if len(cands) else np.zeros(0, bool)
    found = np.zeros(rw.size, bool)
    found_any = np.array([blended[i] and np.any(np.abs(cw - rw[i]) <= rw[i] / resolution) for i in range(rw.size)],
                         dtype=bool)
    attributed_ok, attributed_n = 0, 0
    ident_species, ident_line = 0, 0
    idents = cands["identification"].astype(str).to_numpy() if "identification" in cands else None
    by_label: dict[str, list[int]] = {}
    for i in np.flatnonzero(target):
        fwhm = rw[i] / resolution
        near = np.abs(cw - rw[i]) <= fwhm
        ok = near & (absent | (blended[i] & absorption))
        if not ok.any():
            continue
        found[i] = True
        j = np.flatnonzero(ok)[np.argmin(np.abs(cw[ok] - rw[i]))]
        if idents is not None and idents[j].strip() and "species" in removed:
            name, _, where = idents[j].strip().rpartition(" ")
            right = name == str(removed["species"].iloc[i])
            try:
                at = float(where)
            except ValueError:
                at = np.nan
            ident_species += right
            ident_line += bool(right and abs(at - rw[i]) <= 0.02)
        if labels[i] not in ("", "none") and "attributed_label" in cands:
            hit = int(str(cands["attributed_label"].iloc[j]) == labels[i])
            attributed_n += 1
            attributed_ok += hit
            by_label.setdefault(labels[i], [0, 0])
            by_label[labels[i]][0] += 1
            by_label[labels[i]][1] += hit
    n_absent = int(absent.sum())
    true_pos = int(sum(np.any(np.abs(rw - w) <= w / resolution) for w in cw[absent]))
    near_any = int(sum(np.any(np.abs(rw - w) <= w / resolution) for w in cw[absorption]))
    n_target = int(target.sum())
    recall = found[target].mean() if n_target else float("nan")
    precision = true_pos / n_absent if n_absent else float("nan")
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    by_depth = []
    for lo, hi in zip(depth_bins[:-1], depth_bins[1:]):
        sel = target & (depth > lo) & (depth <= hi)
        by_depth.append({"depth_lo": lo, "depth_hi": hi, "n_lines": int(sel.sum()),
                         "recall": float(found[sel].mean()) if sel.any() else None})
    return {
        "n_candidates": int(len(cands)), "n_candidates_absent": n_absent,
        "n_candidates_in_linelist": int((absorption & ~absent).sum()), "n_true_positive": true_pos,
        "n_target_lines": n_target, "n_found": int(found[target].sum()),
        "precision": _num(precision), "recall": _num(recall), "f1": _num(f1), "recall_by_depth": by_depth,
        "recall_any_kind": _num((found | found_any)[target].mean()) if n_target else None,
        "attribution_accuracy": _num(attributed_ok / attributed_n) if attributed_n else None,
        "n_attribution_targets": attributed_n,
        "attribution_commonest_label": (_num(max(v[0] for v in by_label.values()) / attributed_n)
                                        if attributed_n else None),
        "attribution_balanced": (_num(np.mean([v[1] / v[0] for v in by_label.values()])) if by_label else None),
        "attribution_by_label": {k: {"n": v[0], "correct": v[1]} for k, v in sorted(by_label.items())},
        "identification_species_accuracy": (_num(ident_species / found[target].sum())
                                            if idents is not None and found[target].any() else None),
        "identification_line_accuracy": (_num(ident_line / found[target].sum())
                                         if idents is not None and found[target].any() else None),
        "precision_all_absorption": _num(near_any / absorption.sum()) if absorption.sum() else None,
    }


def label_scatter(inferred: dict[str, np.ndarray], star_id: np.ndarray,
                  true: dict[str, np.ndarray], true_star_id: np.ndarray, source: str) -> dict:
    """Per label: bias, std and robust scatter of inferred − true, stars matched by star_id."""
    star_id, true_star_id = np.asarray(star_id).astype(str), np.asarray(true_star_id).astype(str)
    if star_id.size != true_star_id.size:
        raise GapvizError(
            f"{source}: /star_id has {true_star_id.size} stars but the store has {star_id.size}; "
            f"expected the truth.h5 of the observed set the store was made from"
        )
    index = {s: i for i, s in enumerate(true_star_id)}
    rows = np.array([index.get(s, -1) for s in star_id])
    if np.any(rows < 0):
        missing = star_id[rows < 0][:3].tolist()
        raise GapvizError(
            f"{source}: /star_id lacks the store's stars (e.g. {missing}); expected the same observed set"
        )
    out = {}
    for name, values in inferred.items():
        if name not in true:
            continue
        d = np.asarray(values, float) - np.asarray(true[name], float)[rows]
        d = d[np.isfinite(d)]
        if d.size == 0:
            continue
        out[name] = {"bias": _num(np.median(d)), "std": _num(np.std(d)),
                     "mad_std": _num(robust_sigma(d))}
    return out


def _num(x) -> float | None:
    x = float(x)
    return None if not np.isfinite(x) else round(x, 6)


def format_scores(scores: dict) -> str:
    """A short side-by-side text table of the methods in ``scores['methods']``."""
    methods = scores["methods"]
    names = list(methods)
    keys = ["n_candidates", "n_candidates_absent", "n_candidates_in_linelist", "n_target_lines", "n_found",
            "precision", "recall", "recall_any_kind", "f1",
            "precision_all_absorption", "attribution_accuracy", "attribution_commonest_label", "attribution_balanced",
            "identification_species_accuracy", "identification_line_accuracy"]
    lines = ["The finder against the mock's truth (precision: of absorption features flagged absent from the line "
             "list; recall: of removed lines deeper than 2 %):",
             f"{'':32s}" + "".join(f"{n:>14s}" for n in names)]
    for k in keys:
        lines.append(f"{k:32s}" + "".join(f"{_fmt(methods[n].get(k)):>14s}" for n in names))
    for b, row in enumerate(methods[names[0]]["recall_by_depth"]):
        label = f"recall depth {row['depth_lo']:.2f}-{row['depth_hi']:.2f}"
        vals = [methods[n]["recall_by_depth"][b] for n in names]
        lines.append(f"{label:32s}" + "".join(f"{_fmt(v['recall']) + ' /' + str(v['n_lines']):>14s}" for v in vals))
    scatter = scores.get("label_scatter", {})
    if scatter:
        lines += ["", "Inferred labels against the truth (inferred − true over the observed stars):",
                  f"{'label':12s}{'bias (median)':>16s}{'std':>12s}{'robust std':>12s}"]
        for name, s in scatter.items():
            lines.append(f"{name:12s}{_fmt(s['bias']):>16s}{_fmt(s['std']):>12s}{_fmt(s['mad_std']):>12s}")
    return "\n".join(lines)


def _fmt(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.3g}"
    return str(v)
