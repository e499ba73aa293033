"""`gapviz repair STORE_DIR --out REPAIR_DIR`: the candidates of a store turned into a repaired line list.

Reads the store that ``gapviz find`` wrote (its candidates, the observed and theory flux of every star and
their fitted labels). Over a population of at most ``stars`` in-domain stars it explains each candidate
(``gapviz.repair.explain``: a line the list lacks, a wrong log gf of a known line, or nothing) and checks
every known line's log gf against the other lines (``gapviz.repair.recalibrate``). When the store has its
``theory.pt``, the stars' labels are refitted through the repaired theory and the explanation repeated at the
new labels, ``iterate`` passes at most (``gapviz.repair.loop``); the report gives the labels fitted through
the plain theory and after the loop. The refits go through the store's emulator of the synthetic grid
(``theory="emulator"``, any grid) or, where that grid was made by LineModel with the theory's list, through
LineModel itself (``theory="linemodel"``: no emulator error; on the LineModel mock the emulator alone moves the
complete list's labels by −48 K and −0.33 dex in logg, ``benchmarks/repair_label_floor.py``). It writes the
repaired list and its evidence (``gapviz.repair.outputs``) and checks how much of the gap the repaired list
closes by re-synthesising a sample of stars with the original and the repaired list (``gapviz.repair.verify``;
``verify="sme"`` with SME), all at the same labels: where the loop ran, those it ends with (the repaired
theory's: its list is fitted at them) for stars of its population; else the store's. With ``full`` (on a mock:
the complete list the stars were made with) the floor is synthesised too and the share of the gap closed
reported.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from gapviz.adapt.theory_fit import THEORIES
from gapviz.discover.find import store_label_names
from gapviz.errors import GapvizError
from gapviz.instrument import RESOLUTION
from gapviz.io.linelist import read_linelist
from gapviz.store.open import open_store
from gapviz.store.paths import existing_store_file
from gapviz.workflow.find import CALIBRATIONS, load_theory, recorded_path

VERIFY_METHODS = ("linemodel", "sme", "none")
#: Stars whose flux the explanations fit (and whose labels the loop refits): at most this many in-domain stars,
#: evenly spread.
STARS = 400
#: Stars re-synthesised for the verification (SME costs ~1 s per star per list on 2 cores' worth of windows).
VERIFY_STARS = {"linemodel": 300, "sme": 24}


@dataclass
class RepairResult:
    out: Path
    paths: dict
    explanations: pd.DataFrame
    report: dict

    def summary(self) -> str:
        e = self.explanations
        cand = e[e["candidate"] != 0] if len(e) else e
        counts = cand["choice"].value_counts().to_dict() if len(cand) else {}
        n_lone = int((e["candidate"] == 0).sum()) if len(e) else 0
        null = self.report.get("null", {})
        text = [f"{len(cand)} candidates: {counts.get('added', 0)} lines added, {counts.get('recalibrated', 0)} "
                f"log gf recalibrated, {counts.get('none', 0)} left unexplained",
                f"{null.get('n_tested', 0)} known lines checked against each other (σ between lines "
                f"{null.get('sigma_null', float('nan')):.3f} dex): {n_lone} more log gf recalibrated away from "
                "any candidate"]
        b = self.report.get("broadening")
        if b:
            text.append(f"the stars' lines are broader than the theory's by a Gaussian of FWHM {b['fwhm_kms']:.1f} "
                        f"km/s (resolving power {b['resolution_observed']:.0f} against the theory's "
                        f"{self.report.get('resolution', float('nan')):.0f}): labels are refitted, changes "
                        "fitted and verified at it" + ("; warning: at the broadest tried, the stars may be "
                                                       "broader still" if b["at_edge"] else ""))
        passes = self.report.get("iterations", [])
        for h in passes:
            shifts = ", ".join(f"{n} {x:+.3g}" for n, x in h["median_label_shift"].items())
            text.append(f"pass {h['pass']}: {h['added']} added, {h['recalibrated']} recalibrated, population χ² "
                        f"{h['chi2']:.6g}{' (list unchanged)' if h['same_list'] else ''}; labels moved (median) "
                        f"{shifts}")
        if len(passes) > 1:
            text.append(f"kept pass {self.report.get('kept_pass')} (least χ²)")
        written = self.report.get("written")
        if written:
            text.append(f"the list written is explained at pass {self.report.get('kept_pass')}'s refitted labels: "
                        f"{written['added']} added, {written['recalibrated']} recalibrated")
        original = self.report.get("chi2_original")
        if original is not None and passes:
            kept = passes[int(self.report.get("kept_pass", 1)) - 1]["chi2"]
            text.append(f"population χ² with the original list {original:.6g} → repaired {kept:.6g}" +
                        ("" if kept < original else "; warning: the repaired list does not lower it: check the "
                         "changes (gapviz explore --workbench) before using them"))
        text.append(f"wrote {self.out}/ (linelist.csv, linelist.moog, changes.csv, line_offsets.csv, "
                    "overlay.json, report.json)")
        v = self.report.get("verification", {})
        if "chi2nu_median" in v:
            med = ", ".join(f"{k} {x:.3f}" for k, x in v["chi2nu_median"].items())
            at = {"loop": "the loop's labels", "store": "the store's labels"}.get(v.get("labels"), "")
            where = f", at {at}" if at else ""
            text.append(f"median χ²ν near the changes ({v['method']}, {v['n_stars']} stars{where}): {med}")
        if "gap_closed" in v:
            text.append(f"share of the gap closed (original → full list): {v['gap_closed']:.2f}")
        labels = self.report.get("labels")
        if labels:
            shifts = ", ".join(f"{n} {x:+.3g}" for n, x in labels["median_shift"].items())
            text.append(f"labels after the loop against the plain theory's ({labels['n_stars']} stars), median "
                        f"shift: {shifts}")
        return "\n".join(text)


def _loop_sample(pop, labels: np.ndarray, method: str, n_verify: int | None):
    """(names, flux, flux_err, labels) of the stars verified after the loop: evenly spread over its population,
    at the labels it ends with (flux_err NaN where a pixel is unusable)."""
    from gapviz.store.aggregate import even_rows

    rows = even_rows(labels.shape[0], n_verify if n_verify is not None else VERIFY_STARS.get(method, 0))
    flux, err = pop.flux_and_errors()
    return list(pop.label_names), flux[rows], err[rows], labels[rows]


def _labels_and_sample(ds, method: str, n_verify: int | None):
    from gapviz.repair.population import select_stars

    names = store_label_names(ds)
    rows = select_stars(ds, n_verify if n_verify is not None else VERIFY_STARS.get(method, 0))
    part = ds[["flux_obs", "flux_err"] + names].isel(star=rows)
    labels = np.stack([np.asarray(part[k].values, dtype=np.float64) for k in names], axis=1)
    return names, np.asarray(part["flux_obs"].values, np.float64), np.asarray(part["flux_err"].values, np.float64), labels


def repair(store: str | os.PathLike, out: str | os.PathLike, *, linelist: str | os.PathLike | None = None,
           reference_linelist: str | os.PathLike | None = None, full_linelist: str | os.PathLike | None = None,
           calibration: str | None = None, verify: str = "linemodel", verify_stars: int | None = None,
           stars: int = STARS, iterate: int = 1, c12_c13: float | None = None, workers: int = 1,
           theory: str = "emulator", overwrite: bool = False, progress: bool = True) -> RepairResult:
    """Explain (and, with the store's theory.pt, refit labels ``iterate`` times), write and verify (module doc)."""
    from gapviz.repair.changes import repaired_linelist
    from gapviz.repair.explain import explain_population, ranked_candidates
    from gapviz.repair.outputs import write_repair
    from gapviz.repair.population import load_population
    from gapviz.repair.verify import verify as verify_lists

    t0 = time.perf_counter()
    if verify not in VERIFY_METHODS:
        raise GapvizError(f"--verify must be one of {VERIFY_METHODS}, got {verify!r}")
    if iterate < 1:
        raise GapvizError(f"--iterate must be at least 1, got {iterate}")
    if stars < 1:
        raise GapvizError(f"--stars must be at least 1, got {stars}")
    if theory not in THEORIES:
        raise GapvizError(f"--theory must be one of {THEORIES}, got {theory!r}")
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not overwrite:
        raise GapvizError(f"{out}: already exists; refusing to overwrite it (pass --overwrite to replace it)")
    path = existing_store_file(store)
    with open_store(path) as ds:
        if ds.sizes.get("candidate", 0) == 0:
            raise GapvizError(f"{path}: the store has no candidates; run 'gapviz find {path.parent}' first")
        lines_path = recorded_path(linelist, ds, "linelist_path", "the line list", path)
        if not lines_path:
            raise GapvizError(f"{path}: no line list recorded in the store; pass --linelist L (the theory's list)")
        ref_path = recorded_path(reference_linelist, ds, "reference_linelist_path", "the reference list", path)
        calibration = calibration or str(ds.attrs.get("line_model_calibration", "") or "none")
        if calibration not in CALIBRATIONS:
            raise GapvizError(f"--calibration must be one of {CALIBRATIONS}, got {calibration!r}")
        lines = read_linelist(lines_path)
        check_matches_store(lines, ds, lines_path)
        reference = read_linelist(ref_path) if ref_path else None
        resolution = float(ds.attrs.get("resolution", RESOLUTION))
        cal = None if calibration == "none" else calibration
        theory_kind, theory = theory, load_theory(path)
        if theory is None and iterate > 1:
            raise GapvizError(f"{path.parent}: --iterate needs the store's theory.pt (written by 'gapviz apply') to "
                              "refit the labels")
        data = ds.load()
        candidates = ranked_candidates(data)
        pop = load_population(data, stars)
        if theory is not None and theory_kind == "linemodel":  # the theory itself, exact, for the refits
            theory = theory.with_line_model(lines, pop.wavelength, resolution, cal)
        report = {"store": str(path), "linelist": str(lines_path), "reference_linelist": str(ref_path),
                  "calibration": calibration, "resolution": resolution, "n_stars": int(pop.labels.shape[0]),
                  "theory": theory_kind}
        if theory is not None:
            loop = _loop(pop, candidates, lines, theory, reference, cal, resolution, iterate,
                         joint=theory_kind == "linemodel")
            explanations, offsets, null = loop["table"], loop["offsets"], loop["null"]
            report["iterations"], report["labels"] = loop["history"], loop["labels_report"]
            report["kept_pass"], report["chi2_original"] = loop["pass"], loop["chi2_original"]
            report["written"] = loop["written"]
            report["broadening"] = {**loop["broadening"].report(),
                                    "plain_theory": loop["plain"].report()}
            # the stars are seen at their own resolving power: the changes are written and verified at it
            resolution = loop["broadening"].resolution_observed
        else:
            explanations, offsets, null = explain_population(pop, candidates, lines, reference=reference,
                                                             calibration=cal, resolution=resolution)
        report["null"] = {"sigma_null": null.sigma, "sigma_null_by_group": null.group_sigma,
                          "n_null_lines": null.n_lines, "n_tested": int(len(offsets))}
        repaired = repaired_linelist(lines, explanations, resolution)
        if verify != "none":
            if theory is not None:
                names, flux, err, labels = _loop_sample(pop, loop["labels"], verify, verify_stars)
            else:
                names, flux, err, labels = _labels_and_sample(ds, verify, verify_stars)
            lists = {"original": lines, "repaired": repaired}
            if full_linelist:
                lists["full"] = read_linelist(full_linelist)
            changed = explanations.loc[explanations["choice"] != "none", "line_wavelength"].to_numpy(np.float64)
            wavelength = np.asarray(ds["wavelength"].values, dtype=np.float64)
            report["verification"] = verify_lists(lists, wavelength, flux, err, labels, names, changed,
                                                  resolution=resolution, method=verify, calibration=cal,
                                                  c12_c13=c12_c13, workers=workers, progress=progress)
            report["verification"]["labels"] = "loop" if theory is not None else "store"
    report["seconds"] = time.perf_counter() - t0
    paths = write_repair(out, lines, explanations, source_path=lines_path, report=report, overwrite=overwrite,
                         line_offsets=offsets, resolution=resolution)
    return RepairResult(out, paths, explanations, report)


def _loop(pop, candidates, lines, theory, reference, calibration, resolution, iterate, joint=False) -> dict:
    """The loop (``gapviz.repair.loop``) and the labels' report: the same stars fitted through the plain theory
    (``before``) and after the loop (``after``), medians and shifts. ``joint``: the theory is LineModel itself,
    so added lines saturate with its absorption (``repair_loop``)."""
    from gapviz.repair.loop import repair_loop

    loop = repair_loop(pop, candidates, lines, theory_fit=theory, reference=reference, calibration=calibration,
                       resolution=resolution, iterations=iterate, joint=joint)
    before, after = loop["plain"].labels, loop["labels"]
    shift = np.median(after - before, axis=0)
    loop["labels_report"] = {
        "n_stars": int(after.shape[0]), "names": list(theory.label_names), "star_id": pop.star_id.tolist(),
        "median_shift": {n: float(x) for n, x in zip(theory.label_names, shift)},
        "before": before.round(5).tolist(), "after": after.round(5).tolist()}
    return loop


def check_matches_store(lines: pd.DataFrame, ds, source) -> None:
    """GapvizError unless the store's theory lines (``line_*``, written by find) are in ``lines``."""
    if "line_wavelength" not in ds or ds.sizes.get("line", 0) == 0:
        return
    stored = np.asarray(ds["line_wavelength"].values, dtype=np.float64)
    have = np.sort(lines["wavelength"].to_numpy(np.float64))
    if have.size == 0:
        raise GapvizError(f"{source}: the line list is empty")
    i = np.searchsorted(have, stored)
    left, right = have[np.clip(i - 1, 0, have.size - 1)], have[np.clip(i, 0, have.size - 1)]
    gap = np.minimum(np.abs(stored - left), np.abs(stored - right))
    missing = int((gap > 1e-3).sum())
    if missing > 0.01 * stored.size:
        raise GapvizError(f"{source}: this line list does not match the store's: {missing} of the {stored.size} "
                          "theory lines the store's find used are not in it; pass the theory's list with --linelist")
