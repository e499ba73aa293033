"""The apply half of ``bench_scale.py``: ``gapviz apply`` of a trained run on N and 10 N observed stars, in one
process and on a dask LocalCluster of 2 workers, each run a fresh subprocess so that its wall time and peak
memory (the largest resident set of the process and its workers, ``ru_maxrss`` of the children) are its own.
The 10 N set is the first N stars repeated with new star ids: the same work per star, ten times the stars."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from gapviz.io.spectra import Spectra, read_spectra, write_spectra


def observed_sets(observed: Path, n_star: int, workdir: Path) -> dict[int, Path]:
    """{N: file of the first N stars, 10 N: those stars ten times over}, written under ``workdir``."""
    s = read_spectra(observed)
    if s.flux.shape[0] < n_star:
        raise SystemExit(f"{observed} has {s.flux.shape[0]} stars; --n-star {n_star} asks for more")
    ids = np.asarray(s.star_id[:n_star] if s.star_id is not None else np.arange(n_star)).astype(str)
    out = {}
    for k in (1, 10):
        sub = Spectra(s.wavelength, np.tile(s.flux[:n_star], (k, 1)), np.tile(s.flux_err[:n_star], (k, 1)),
                      star_id=np.array([f"{i}-{r}" for r in range(k) for i in ids]))
        out[k * n_star] = write_spectra(sub, workdir / f"observed_{k * n_star}.h5", compress=False)
    return out


def one_apply(run: Path, observed: Path, out: Path, workers: int) -> tuple[float, float]:
    """(wall seconds, peak resident MB) of ``gapviz apply`` in a subprocess of its own (``workers`` > 1: a
    dask LocalCluster of that many processes)."""
    cmd = [sys.executable, "-m", "gapviz", "apply", str(run), "--observed", str(observed), "--out", str(out),
           "--overwrite"]
    if workers > 1:
        cmd += ["--workers", str(workers)]
    t0 = time.perf_counter()
    # ru_maxrss of the children is the largest over every child waited for so far: a fresh python per run
    probe = (f"import resource, subprocess, sys; r = subprocess.run({cmd!r}, capture_output=True, text=True); "
             "sys.stderr.write(r.stderr[-2000:] if r.returncode else ''); "
             "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(r.returncode)")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          env={**os.environ, "TQDM_DISABLE": "1"})
    wall = time.perf_counter() - t0
    if done.returncode:
        raise SystemExit(f"gapviz apply failed:\n{done.stderr}")
    return wall, int(done.stdout.split()[-1]) / 1024


def apply_table(run: Path, observed: Path, n_star: int, workers: list[int]) -> dict:
    """Wall time, stars/s and peak memory of apply on N and 10 N stars with each worker count; printed."""
    rows = {}
    with tempfile.TemporaryDirectory(prefix="bench_scale_") as tmp:
        sets = observed_sets(observed, n_star, Path(tmp))
        print(f"\napply ({run}, {observed.name}; one process = torch's threads, workers = 1 thread each)")
        print(f"{'stars':>7s} {'workers':>7s} {'wall s':>8s} {'stars/s':>8s} {'peak MB':>8s}")
        for n, path in sets.items():
            for w in workers:
                wall, peak = one_apply(run, path, Path(tmp) / f"store_{n}_{w}", w)
                rows[n, w] = dict(wall=wall, rate=n / wall, peak=peak)
                print(f"{n:7d} {w:7d} {wall:8.1f} {n / wall:8.1f} {peak:8.0f}")
    big, small = max(sets), min(sets)
    for w in workers:
        print(f"peak memory at 10× the stars / at 1× ({w} worker{'s' if w > 1 else ''}): "
              f"{rows[big, w]['peak'] / rows[small, w]['peak']:.2f}")
    return rows


