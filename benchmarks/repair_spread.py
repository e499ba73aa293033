"""How much the repair's figures on a mock move with the stars it is run on: one quick repair per star sample.

    python benchmarks/repair_spread.py runs/sme2/store data_samples/mock_sme/truth.h5 --stars 268 240 200
    python benchmarks/repair_spread.py runs/lm2/store data_samples/mock/truth.h5 --stars 400 300 200 --theory linemodel

Each run is ``gapviz repair STORE --verify none --iterate 3 --stars N`` (``gapviz.workflow.repair``; N evenly
spread in-domain stars, so each N is another sample) scored against the mock's truth (``gapviz score --repair``:
``gapviz.evaluate.repair_score``). One row per run, then the median and the range of each figure: a figure
quoted from one run is one draw, and a change to the repair that moves a figure by less than this range has
not been shown to move it. The labels column counts the eleven labels within the issue's target (|teff| ≤ 50 K,
|logg| ≤ 0.1, |[X/Fe]| ≤ 0.05 dex, fitted − true, median over the stars).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from gapviz.adapt.theory_fit import THEORIES
from gapviz.evaluate.repair_score import label_target, score_store_repair
from gapviz.workflow.repair import repair

FIGURES = ("real", "recall", "species", "loggf_dex", "labels_ok", "teff", "logg", "c_fe", "kept_pass", "chi2_k")


def figures(score: dict, report: dict) -> dict:
    """The row of one run: list figures from the score, labels within the target, the loop's kept pass."""
    added, labels = score["added"], score["labels"]
    after = {k: v["after"] for k, v in labels.items()}
    kept = int(report.get("kept_pass", 1))
    chi2 = report["iterations"][kept - 1]["chi2"] if report.get("iterations") else np.nan
    nan = lambda x: np.nan if x is None else float(x)
    return {"real": nan(added["added_real"]), "recall": nan(added["added_recall"]),
            "species": nan(added["species_accuracy"]), "loggf_dex": nan(added["loggf_error_median"]),
            "labels_ok": sum(abs(v) <= label_target(k) for k, v in after.items()),
            "teff": after.get("teff", np.nan), "logg": after.get("logg", np.nan), "c_fe": after.get("c_fe", np.nan),
            "kept_pass": kept, "chi2_k": chi2 / 1e3}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("store")
    ap.add_argument("truth")
    ap.add_argument("--stars", type=int, nargs="+", default=[400, 300, 200])
    ap.add_argument("--theory", default="emulator", choices=THEORIES)
    ap.add_argument("--iterate", type=int, default=3)
    args = ap.parse_args(argv)
    rows = []
    print(f"{'stars':>6s} " + " ".join(f"{f:>9s}" for f in FIGURES) + f" {'seconds':>8s}")
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.stars:
            out = Path(tmp) / f"repair_{n}"
            t0 = time.perf_counter()
            result = repair(args.store, out, verify="none", iterate=args.iterate, stars=n, theory=args.theory,
                            progress=False)
            seconds = time.perf_counter() - t0
            row = figures(score_store_repair(args.store, out, args.truth, write=False), result.report)
            rows.append(row)
            print(f"{result.report['n_stars']:6d} " + " ".join(f"{row[f]:9.3f}" for f in FIGURES)
                  + f" {seconds:8.0f}", flush=True)
    table = np.array([[r[f] for f in FIGURES] for r in rows], dtype=float)
    for name, fn in (("median", np.nanmedian), ("min", np.nanmin), ("max", np.nanmax)):
        print(f"{name:>6s} " + " ".join(f"{v:9.3f}" for v in fn(table, axis=0)))


if __name__ == "__main__":
    main()
