"""Benchmark `analyze`: spectra per second and peak memory as the star count grows 10x (must stay flat).

Uses the toy adaptation (``gapviz.testing.toy``: analytic, no network) so the numbers measure the store
and the finder, not a trained model's inference. One run measures N and 10 N stars::

    OMP_NUM_THREADS=1 python benchmarks/bench_analyze.py --n-star 2000 --npix 1024
"""

from __future__ import annotations

import argparse
import tempfile
import time
import tracemalloc
from pathlib import Path

from gapviz.io.grids import sample_wavelength
from gapviz.io.linelist import write_linelist_csv
from gapviz.io.spectra import write_spectra
from gapviz.store.schema import CUBES
from gapviz.testing.toy import standard_toy, toy_line_depths, toy_observed, toy_population
from gapviz.workflow.analyze import analyze


def measure(workdir: Path, n_star: int, npix: int, chunk: int) -> dict:
    wl = sample_wavelength()[:npix]
    model, theory, _, _ = standard_toy(wl)
    obs = workdir / f"obs{n_star}.h5"
    write_spectra(toy_observed(model, toy_population(n_star, 1), seed=2), obs, compress=False)
    write_linelist_csv(theory, workdir / "ll.csv")
    tracemalloc.start()
    t0 = time.perf_counter()
    result = analyze(None, obs, workdir / "ll.csv", workdir / f"store{n_star}", adaptation=model,
                     line_depths=toy_line_depths, chunk_size=chunk, progress=False)
    seconds = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    size = result.store_path.stat().st_size
    return {"n_star": n_star, "seconds": seconds, "spectra_per_s": n_star / seconds, "peak_mb": peak / 1e6,
            "cube_mb": n_star * npix * 4 * len(CUBES) / 1e6, "store_mb": size / 1e6,
            "bytes_per_value": size / (n_star * npix * len(CUBES)), "n_candidates": len(result.candidates)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n-star", type=int, default=2000)
    ap.add_argument("--npix", type=int, default=1024)
    ap.add_argument("--chunk-size", type=int, default=256)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rows = [measure(Path(tmp), n, args.npix, args.chunk_size) for n in (args.n_star, 10 * args.n_star)]
    head = ["stars", "s", "spectra/s", "peak MB", "cube MB", "store MB", "B/value"]
    print(" ".join(f"{h:>{w}s}" for h, w in zip(head, (8, 7, 10, 8, 8, 9, 8))))
    for r in rows:
        print(f"{r['n_star']:8d} {r['seconds']:7.2f} {r['spectra_per_s']:10.0f} {r['peak_mb']:8.1f} "
              f"{r['cube_mb']:8.1f} {r['store_mb']:9.2f} {r['bytes_per_value']:8.3f}")
    print(f"peak memory ratio for 10x the stars: {rows[1]['peak_mb'] / rows[0]['peak_mb']:.2f} "
          f"(flat = ~1; the float32 cubes grow 10x)")


if __name__ == "__main__":
    main()
