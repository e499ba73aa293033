"""`gapviz repair STORE_DIR --out REPAIR_DIR`: the candidates of a store turned into a repaired line list.

Reads the store that ``gapviz find`` wrote (its candidates, the observed and theory flux of every star and
their fitted labels), explains each candidate by a fit over the population
(``gapviz.repair.explain.explain_candidates``: a line the list lacks, a wrong log gf of a known line, or
nothing), writes the repaired list and its evidence (``gapviz.repair.outputs``) and checks how much of the gap
the repaired list closes by re-synthesising a sample of stars with the original and the repaired list
(``gapviz.repair.verify``; ``verify="sme"`` with SME). With ``full`` (on a mock: the complete list the stars
were made with) the floor is synthesised too and the share of the gap closed reported. When the store has
its ``theory.pt``, ``refit_stars`` stars are refitted through the plain and the repaired theory
(``gapviz.repair.refit``) and the labels' median shifts reported: the loop's first step.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from gapviz.discover.find import store_label_names
from gapviz.errors import GapvizError
from gapviz.instrument import RESOLUTION
from gapviz.io.linelist import read_linelist
from gapviz.store.open import open_store
from gapviz.store.paths import existing_store_file
from gapviz.workflow.find import CALIBRATIONS, load_theory, recorded_path

VERIFY_METHODS = ("linemodel", "sme", "none")
#: Stars refitted through the plain and the repaired theory (label shifts in the report).
REFIT_STARS = 200
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
        counts = e["choice"].value_counts().to_dict() if len(e) else {}
        text = [f"{len(e)} candidates: {counts.get('added', 0)} lines added, {counts.get('recalibrated', 0)} "
                f"log gf recalibrated, {counts.get('none', 0)} left unexplained",
                f"wrote {self.out}/ (linelist.csv, linelist.moog, changes.csv, overlay.json, report.json)"]
        v = self.report.get("verification", {})
        if "chi2nu_median" in v:
            med = ", ".join(f"{k} {x:.3f}" for k, x in v["chi2nu_median"].items())
            text.append(f"median χ²ν near the changes ({v['method']}, {v['n_stars']} stars): {med}")
        if "gap_closed" in v:
            text.append(f"share of the gap closed (original → full list): {v['gap_closed']:.2f}")
        labels = self.report.get("labels")
        if labels:
            shifts = ", ".join(f"{n} {x:+.3g}" for n, x in labels["median_shift"].items())
            text.append(f"labels refitted through the repaired theory ({labels['n_stars']} stars), median shift: "
                        f"{shifts}")
        return "\n".join(text)


def _labels_and_sample(ds, method: str, n_verify: int | None):
    from gapviz.repair.explain import select_stars

    names = store_label_names(ds)
    rows = select_stars(ds, n_verify if n_verify is not None else VERIFY_STARS.get(method, 0))
    part = ds[["flux_obs", "flux_err"] + names].isel(star=rows)
    labels = np.stack([np.asarray(part[k].values, dtype=np.float64) for k in names], axis=1)
    star_id = (np.asarray(ds["star_id"].values).astype(str)[rows] if "star_id" in ds else rows.astype(str))
    return (names, np.asarray(part["flux_obs"].values, np.float64), np.asarray(part["flux_err"].values, np.float64),
            labels, star_id.tolist())


def repair(store: str | os.PathLike, out: str | os.PathLike, *, linelist: str | os.PathLike | None = None,
           reference_linelist: str | os.PathLike | None = None, full_linelist: str | os.PathLike | None = None,
           calibration: str | None = None, verify: str = "linemodel", verify_stars: int | None = None,
           refit_stars: int = REFIT_STARS, workers: int = 1, overwrite: bool = False,
           progress: bool = True) -> RepairResult:
    """Explain, write and verify (see the module docstring)."""
    from gapviz.repair.explain import explain_candidates
    from gapviz.repair.outputs import repaired_linelist, write_repair
    from gapviz.repair.verify import verify as verify_lists

    t0 = time.perf_counter()
    if verify not in VERIFY_METHODS:
        raise GapvizError(f"--verify must be one of {VERIFY_METHODS}, got {verify!r}")
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
        explanations = explain_candidates(ds.load(), lines, reference=reference, calibration=cal,
                                          resolution=resolution)
        repaired = repaired_linelist(lines, explanations)
        report = {"store": str(path), "linelist": str(lines_path), "reference_linelist": str(ref_path),
                  "calibration": calibration, "resolution": resolution}
        if verify != "none":
            names, flux, err, labels, _ = _labels_and_sample(ds, verify, verify_stars)
            lists = {"original": lines, "repaired": repaired}
            if full_linelist:
                lists["full"] = read_linelist(full_linelist)
            changed = explanations.loc[explanations["choice"] != "none", "line_wavelength"].to_numpy(np.float64)
            wavelength = np.asarray(ds["wavelength"].values, dtype=np.float64)
            report["verification"] = verify_lists(lists, wavelength, flux, err, labels, names, changed,
                                                  resolution=resolution, method=verify, calibration=cal,
                                                  workers=workers, progress=progress)
        theory = load_theory(path) if refit_stars > 0 else None
        if theory is not None:
            report["labels"] = _refit(ds, theory, lines, repaired, cal, refit_stars)
    report["seconds"] = time.perf_counter() - t0
    paths = write_repair(out, lines, explanations, source_path=lines_path, report=report, overwrite=overwrite)
    return RepairResult(out, paths, explanations, report)


def _refit(ds, theory, lines, repaired, calibration, n_stars: int) -> dict:
    """Labels of ``n_stars`` in-domain stars through the plain and the repaired theory: medians and shifts."""
    from gapviz.repair.refit import refit_labels, repaired_theory

    wavelength = np.asarray(ds["wavelength"].values, dtype=np.float64)
    names, flux, err, _, star_id = _labels_and_sample(ds, "refit", n_stars)
    rt = repaired_theory(theory, lines, repaired, wavelength, float(ds.attrs.get("resolution", RESOLUTION)),
                         calibration)
    fit = refit_labels(theory, rt, flux, err)
    shift = np.median(fit["after"] - fit["before"], axis=0)
    return {"n_stars": int(flux.shape[0]), "names": theory.label_names, "star_id": star_id,
            "median_shift": {n: float(x) for n, x in zip(theory.label_names, shift)},
            "before": fit["before"].round(5).tolist(), "after": fit["after"].round(5).tolist()}


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
