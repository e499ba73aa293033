"""Speed of gapviz.theory.LineModel against a plain numpy loop over lines, measured in one run.

    python benchmarks/bench_theory.py [--batch 1000] [--loop-spectra 3]

Full linemake H-band lists (data_samples/linelists), the 7214-pixel ASPCAP grid, R = 22,500.
Prints spectra/s of LineModel for one batch, on one thread and on all threads, and of a numpy loop that,
per spectrum and per line, adds the line's Gaussian optical depth over its pixels (same strengths, same
saturation), and their ratio; and the largest flux difference between the two.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch

from gapviz.instrument import RESOLUTION
from gapviz.io.grids import aspcap_wavelength
from gapviz.io.linelist import linemake_paths, read_linelists
from gapviz.theory import LineModel
from gapviz.theory.profiles import saturate


def random_labels(model: LineModel, n: int, seed: int = 0) -> np.ndarray:
    """(n, nlabel) giants and dwarfs: teff 3800-6200 K, logg 1-4.6, fe_h -1-0.4, [X/Fe] -0.2-0.3."""
    rng = np.random.default_rng(seed)
    out = rng.uniform(-0.2, 0.3, size=(n, len(model.label_names)))
    columns = {"teff": (3800.0, 6200.0), "logg": (1.0, 4.6), "fe_h": (-1.0, 0.4)}
    for name, (lo, hi) in columns.items():
        out[:, model.label_names.index(name)] = rng.uniform(lo, hi, n)
    return out


def best_time(fn, repeat: int = 3) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def numpy_loop(model: LineModel, labels: np.ndarray) -> np.ndarray:
    """Per spectrum, per line: add τ_lin(line) × Gaussian over the pixels within 4 σ; then saturate, exp(−τ)."""
    wavelength = model.wavelength
    centre = model.linelist["wavelength"].to_numpy(float)
    sigma = model.line_sigma
    lo = np.searchsorted(wavelength, centre - 4.0 * sigma)
    hi = np.searchsorted(wavelength, centre + 4.0 * sigma)
    with torch.no_grad():
        tau_peak = 10.0 ** model.log_tau_linear(torch.as_tensor(labels, dtype=model.dtype)).double().numpy()
    flux = np.empty((labels.shape[0], wavelength.size))
    for i in range(labels.shape[0]):
        tau = np.zeros(wavelength.size)
        for line in range(centre.size):
            a, b = lo[line], hi[line]
            x = (wavelength[a:b] - centre[line]) / sigma[line]
            tau[a:b] += tau_peak[i, line] * np.exp(-0.5 * x * x)
        flux[i] = np.exp(-saturate(torch.from_numpy(tau), model._log_k).numpy())
    return flux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--loop-spectra", type=int, default=3)
    args = parser.parse_args()

    linelist = read_linelists(linemake_paths())
    t0 = time.perf_counter()
    model = LineModel(linelist, aspcap_wavelength(), resolution=RESOLUTION)
    build = time.perf_counter() - t0
    print(f"line list: {len(linelist)} lines; kept {model.nline} (dropped {model.n_dropped}); "
          f"{model._profiles.shape[1]} strength columns, {model._profiles.values().numel()} profile entries; "
          f"grid {model.wavelength.size} px; construction {build:.2f} s")
    labels = random_labels(model, args.batch)

    threads = os.cpu_count() or 1
    results = {}
    for n_threads in (1, threads):
        torch.set_num_threads(n_threads)
        seconds = best_time(lambda: model.spectra(labels, batch_size=args.batch))
        results[n_threads] = args.batch / seconds
        rate = results[n_threads]
        print(f"LineModel, {n_threads} thread(s): batch of {args.batch} in {seconds:.3f} s = {rate:,.0f} spectra/s")
    torch.set_num_threads(1)

    few = labels[: args.loop_spectra]
    t0 = time.perf_counter()
    loop_flux = numpy_loop(model, few)
    loop_rate = few.shape[0] / (time.perf_counter() - t0)
    print(f"numpy loop over lines, 1 thread: {few.shape[0]} spectra, {loop_rate:.2f} spectra/s")
    diff = np.abs(loop_flux - model.spectra(few)).max()
    print(f"max |flux(LineModel) - flux(loop)| = {diff:.2e} (the model bins lines on a 0.04 eV excitation grid)")
    print(f"speed-up of LineModel over the loop, single thread: {results[1] / loop_rate:,.0f}x")


if __name__ == "__main__":
    main()
