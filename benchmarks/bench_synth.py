"""SME synthesis speed on this CPU per worker count, and LineModel's speed-up over SME on the same lines.

    python benchmarks/bench_synth.py                 # ≈ 2 min on a 2-core CPU
    python benchmarks/bench_synth.py --stars 32 --grid aspcap

The lines are what the SME mock synthesises: the shipped linemake lists, without H I, cut to those
``LineModel`` keeps on the grid (depth ≥ 10⁻³ somewhere in the label box). The stars are giants from the
mock's observed population (inside the MARCS grid). Each worker count synthesises the same stars through
``gapviz.theory.sme.synthesize_many`` (MARCS interpolation included); LineModel computes the same stars'
spectra (float32, one thread and all threads), best of three. Ratios are measured in this one run.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch

from gapviz.io.grids import aspcap_wavelength, sample_wavelength
from gapviz.io.linelist import linemake_paths, read_linelists
from gapviz.labels import DEFAULT_LABELS
from gapviz.mock.population import observed_population
from gapviz.mock.sme_physics import draw_inside_grid
from gapviz.theory.linemodel import LineModel
from gapviz.theory.sme import Job, SMESettings, lines_for_grid, sme_linelist, star_labels, synthesize_many


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--stars", type=int, default=16, help="stars per worker count")
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="worker counts to time")
    ap.add_argument("--grid", choices=("sample", "aspcap"), default="sample")
    args = ap.parse_args()

    wavelength = sample_wavelength() if args.grid == "sample" else aspcap_wavelength()
    lines = read_linelists(linemake_paths())
    lines = lines.loc[lines["species"] != "H I"].reset_index(drop=True)
    names = DEFAULT_LABELS
    model = LineModel(lines, wavelength, label_names=names)
    settings = SMESettings()
    table, _ = sme_linelist(model.linelist)
    table = lines_for_grid(table, wavelength, settings.line_margin)
    rng = np.random.default_rng(0)
    labels = draw_inside_grid(lambda k: observed_population(k, names, rng), args.stars, names)
    jobs = [Job(0, 0, row) for row in star_labels(labels, names)]
    print(f"grid {args.grid}: {wavelength.size} px; {len(table)} lines; {args.stars} giants; "
          f"{os.cpu_count()} CPUs")

    rates = {}
    for w in args.workers:
        t0 = time.perf_counter()
        synthesize_many([table], [wavelength], jobs, settings, workers=w, progress=False)
        rates[w] = args.stars / (time.perf_counter() - t0)
        print(f"SME, {w} worker(s): {rates[w]:.2f} spectra/s ({w / rates[w]:.2f} s per spectrum per worker)")

    x = torch.as_tensor(labels, dtype=torch.float32)
    lm = {}
    for threads in sorted({1, torch.get_num_threads()}):
        old = torch.get_num_threads()
        torch.set_num_threads(threads)
        best = np.inf
        for _ in range(3):
            t0 = time.perf_counter()
            with torch.no_grad():
                model(x)
            best = min(best, time.perf_counter() - t0)
        torch.set_num_threads(old)
        lm[threads] = args.stars / best
        print(f"LineModel, {threads} thread(s): {lm[threads]:.0f} spectra/s")
    w1 = min(rates)
    print(f"\nspeed-up of LineModel over SME, one core each: {lm[1] / rates[w1]:.0f}x")
    if len(rates) > 1:
        wmax = max(rates)
        print(f"SME scaling {w1} -> {wmax} workers: {rates[wmax] / rates[w1]:.2f}x")


if __name__ == "__main__":
    main()
