"""Measure the emulator and label inference; print the figures.

    python benchmarks/bench_infer.py                       # a fake emulator: stars/s and error honesty
    python benchmarks/bench_infer.py --mock data_samples/mock [--emulator EMU.pt] [--minutes 2]

With ``--mock`` it trains (or loads) the emulator on ``synthetic.h5``, fits the labels of every star of
``observed.h5`` through the plain emulator (the "plain theory" baseline) and compares them with
``truth.h5:/labels/<name>``: scatter, bias, the median quoted error and the χ²ν distribution.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import h5py
import numpy as np
import torch

from gapviz.adapt.infer import fit_labels
from gapviz.io.spectra import read_spectra
from gapviz.theory.emulator import Emulator, fit_emulator


def _fake(n_star: int, seed: int = 0) -> None:
    torch.manual_seed(seed)
    lo, hi = np.array([3500.0, 0.0, -2.0] + [-0.5] * 8), np.array([6500.0, 5.0, 0.5] + [0.5] * 8)
    names = ["teff", "logg", "fe_h", "c_fe", "n_fe", "o_fe", "mg_fe", "si_fe", "ca_fe", "ti_fe", "ni_fe"]
    emu = Emulator(names, lo, hi, np.linspace(15200.0, 15425.0, 1024), hidden=300)
    rng = np.random.default_rng(seed)
    truth = rng.uniform(lo + 0.05 * (hi - lo), hi - 0.05 * (hi - lo), (n_star, 11))
    sigma = rng.uniform(0.005, 0.02, (n_star, 1)) * np.ones((1, 1024))
    flux = emu.predict(truth) + sigma * rng.standard_normal((n_star, 1024))
    t0 = time.perf_counter()
    fit = fit_labels(emu, flux, sigma, lo, hi, device="auto")
    dt = time.perf_counter() - t0
    ratio = np.std(fit.labels - truth, 0) / np.sqrt(np.mean(fit.labels_err**2, 0))
    within = np.mean(np.abs(fit.labels - truth) < 3 * fit.labels_err, 0)
    print(f"fit_labels: {n_star} stars x 1024 px x 11 labels in {dt:.1f} s ({n_star / dt:.0f} stars/s, "
          f"{torch.get_num_threads()} threads); converged {fit.converged.mean():.1%}")
    print(f"  scatter / quoted σ per label: {np.array2string(ratio, precision=2)}")
    print(f"  fraction within 3σ per label: {np.array2string(within, precision=3)}")
    print(f"  median χ²ν {np.median(fit.chi2nu):.3f} (expected ≈ 1)")


def _mock(mock: Path, emulator: Path | None, minutes: float, n_max: int) -> None:
    syn = read_spectra(mock / "synthetic.h5")
    if emulator is not None and emulator.is_file():
        emu = Emulator.load(emulator, device="auto")
        print(f"emulator {emulator}: {emu.report}")
    else:
        emu, rep = fit_emulator(syn, max_minutes=minutes, device="auto")
        print(f"emulator: val rms {rep.val_rms:.5f} (train {rep.train_rms:.5f}) flux, {rep.epochs} epochs in "
              f"{rep.seconds:.0f} s on {rep.device} ({rep.stopped}); {syn.n_star} x {syn.n_pix}, "
              f"{len(emu.label_names)} labels, hidden {emu.hidden}")
        if emulator is not None:
            emu.save(emulator, report=rep)
    obs = read_spectra(mock / "observed.h5").subset(slice(0, n_max))
    t0 = time.perf_counter()
    fit = fit_labels(emu, obs.flux, obs.flux_err, emu.label_min.cpu().numpy(), emu.label_max.cpu().numpy(),
                     device=emu.label_min.device)
    dt = time.perf_counter() - t0
    print(f"plain-theory label fit: {obs.n_star} observed stars in {dt:.1f} s; converged {fit.converged.mean():.1%}, "
          f"some label on the box edge {fit.at_bound.any(1).mean():.1%}")
    q = np.percentile(fit.chi2nu, [5, 16, 50, 84, 95])
    print(f"  χ²ν percentiles 5/16/50/84/95: {np.array2string(q, precision=2)}")
    with h5py.File(mock / "truth.h5", "r") as f:
        sid_truth = np.array([s.decode() if isinstance(s, bytes) else str(s) for s in f["star_id"][()]])
        order = {s: i for i, s in enumerate(sid_truth)}
        rows = np.array([order[s] for s in obs.star_id]) if obs.star_id is not None else np.arange(obs.n_star)
        print(f"  {'label':7s} {'bias':>9s} {'scatter':>9s} {'robust σ':>9s} {'median err':>10s}")
        for i, name in enumerate(emu.label_names):
            if f"labels/{name}" not in f:
                continue
            d = fit.labels[:, i] - np.asarray(f[f"labels/{name}"][()], dtype=float)[rows]
            mad = 1.4826 * np.median(np.abs(d - np.median(d)))
            print(f"  {name:7s} {np.mean(d):9.3f} {np.std(d):9.3f} {mad:9.3f} {np.median(fit.labels_err[:, i]):10.4f}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--mock", type=Path, help="a `gapviz mock` directory")
    p.add_argument("--emulator", type=Path, help="load this emulator if it exists, else train and save it here")
    p.add_argument("--minutes", type=float, default=2.0, help="emulator training budget")
    p.add_argument("--n", type=int, default=2000, help="stars to fit")
    a = p.parse_args()
    if a.mock:
        _mock(a.mock, a.emulator, a.minutes, a.n)
    else:
        _fake(a.n)


if __name__ == "__main__":
    main()
