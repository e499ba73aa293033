"""Time of one `gapviz repair` pass on a store, next to the `find` that made its candidates, in one run.

    python benchmarks/bench_repair.py runs/lm/store          # a store of the shipped LineModel mock (2,000 stars)
    python benchmarks/bench_repair.py runs/sme/store --max-stars 500

Steps timed (best of ``--repeat``): the explanations (population fits of every candidate and the check of
every known line, at most ``--max-stars`` stars, and with every in-domain star), writing the files, one whole
``gapviz repair`` pass (explain, refit the labels of ``--max-stars`` stars through the repaired theory, write,
LineModel verification of 300 stars), the loop (``--iterate 3``: it stops early when a pass does not lower
the population's χ²; the passes it ran are printed), and the finder on the same in-memory store
(``find_candidates``) as the reference.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from gapviz.discover.crossmatch import read_linelist_in_range
from gapviz.discover.find import find_candidates
from gapviz.io.linelist import read_linelist
from gapviz.repair.explain import explain_candidates
from gapviz.repair.outputs import write_repair
from gapviz.store.open import open_store
from gapviz.store.paths import existing_store_file
from gapviz.workflow.find import load_theory
from gapviz.workflow.repair import repair


def best_of(repeat: int, fn) -> tuple[float, object]:
    best, out = np.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("store", help="a store with candidates (gapviz run / analyze / find)")
    ap.add_argument("--max-stars", type=int, default=400)
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()

    path = existing_store_file(args.store)
    ds = open_store(path).load()
    lines_path, ref_path = ds.attrs["linelist_path"], ds.attrs.get("reference_linelist_path", "")
    lines = read_linelist(lines_path)
    reference = read_linelist(ref_path) if ref_path else None
    cal = None if ds.attrs.get("line_model_calibration", "none") == "none" else ds.attrs["line_model_calibration"]
    n_in = int((ds["domain_flag"].values == 0).sum())
    print(f"{path}: {ds.sizes['star']} stars ({n_in} in domain), {ds.sizes['wavelength']} px, "
          f"{ds.sizes['candidate']} candidates, calibration {cal or 'none'}")

    wl = np.asarray(ds["wavelength"].values, dtype=np.float64)
    theory = load_theory(path)
    t_find, _ = best_of(1, lambda: find_candidates(ds, read_linelist_in_range(lines_path, wl),
                                                   reference=read_linelist_in_range(ref_path, wl) if ref_path else None,
                                                   theory=theory, calibration=cal))
    t_explain, explanations = best_of(args.repeat, lambda: explain_candidates(
        ds, lines, reference=reference, calibration=cal, max_stars=args.max_stars))
    t_all, _ = best_of(1, lambda: explain_candidates(ds, lines, reference=reference, calibration=cal,
                                                     max_stars=ds.sizes["star"]))
    with tempfile.TemporaryDirectory() as tmp:
        t_write, _ = best_of(args.repeat, lambda: write_repair(Path(tmp) / "r", lines, explanations,
                                                               source_path=lines_path, report={}, overwrite=True))
        t_pass, _ = best_of(1, lambda: repair(args.store, Path(tmp) / "full", verify="linemodel", overwrite=True,
                                              stars=args.max_stars, progress=False))
        t_loop, looped = best_of(1, lambda: repair(args.store, Path(tmp) / "loop", verify="linemodel", iterate=3,
                                                   overwrite=True, stars=args.max_stars, progress=False))
    n = ds.sizes["candidate"]
    print(f"find (reference):                      {t_find:7.2f} s")
    print(f"explain, {args.max_stars} stars:                   {t_explain:7.2f} s ({1e3 * t_explain / n:.0f} ms per candidate)")
    print(f"explain, all {n_in} in-domain stars:     {t_all:7.2f} s")
    print(f"write the files:                       {t_write:7.2f} s")
    print(f"one whole pass (gapviz repair, label refit of {args.max_stars} stars, LineModel verification of 300): "
          f"{t_pass:.2f} s")
    passes = len(looped.report.get("iterations", []))
    print(f"the loop (--iterate 3): {t_loop:.2f} s, {passes} pass(es) run, kept pass {looped.report.get('kept_pass')}")
    print(f"\nrepair pass / find: {t_pass / t_find:.2f}x;  loop / find: {t_loop / t_find:.2f}x;  "
          f"explain all stars / {args.max_stars}: {t_all / t_explain:.2f}x")


if __name__ == "__main__":
    main()
