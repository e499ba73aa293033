"""Survey scale in one run: label fitting through a Payne-size emulator (old fitter against new) and
``gapviz apply`` of a trained 7214-pixel run with 1 and 2 dask workers, its peak memory at N and 10 N stars,
and the projected wall time for 650,000 stars on this machine (CPU, or the GPU where one is present).

    python benchmarks/bench_scale.py                  # label fitting only; ≈ 2–3 min on a busy 2-core CPU
    python benchmarks/bench_scale.py --run RUN_DIR --observed O.h5 --n-star 200   # and apply (+ ≈ 5 min)
    python benchmarks/bench_scale.py --device cuda --run RUN_DIR --observed O.h5 --workers 1   # on a GPU

RUN_DIR: a 7214-pixel run, e.g. ``gapviz mock runs/apogee7214 --grid apogee --n-synthetic 2000 --n-observed
2000`` then ``gapviz train ... --config train/apogee.toml`` (see train/README.md); O.h5 its observed set.

The forward model is a Payne-size ``Emulator`` (11 labels, two hidden layers of ``hidden`` = 300, the
emulator's default, 7214 pixels). Its hidden layers are the shipped sample's trained ones
(data_samples/store/theory.pt, so the χ² surface has a trained emulator's curvature) with the output layer
tiled from 1024 to ``--pixels`` pixels; without the sample (or with ``--untrained``) a seeded untrained one.
The stars are spectra the emulator itself made from known labels, plus noise (S/N 100, 3 % of pixels masked),
so the fits can be checked against the truth: the pull (fit − truth) / quoted σ should have unit scatter.

Two starts are timed, each with ``method="legacy"`` (the first fitter) and ``method="lm"`` (the new one):
  warm   ``init`` = the truth blurred by an encoder-like error (5 % of the box per label) plus 4 quasi-random
         starts: what ``Adaptation.fit_labels`` does (``gapviz apply`` / ``gapviz analyze``);
  cold   8 quasi-random starts, no ``init``: what ``TheoryFit.fit_labels`` does.
The matmul limit: the fp32 matmul FLOP/s measured here (2048², best of a few) divided by the FLOPs of
10 Gauss–Newton steps per star (a Jacobian = L + 1 passes through the emulator, plus JᵀWJ) — the
"several hundred stars/s" the issue quotes; "of limit" is stars/s over that. The projection is for
650,000 stars at the new fitter's warm-start speed on this CPU with this many threads.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from gapviz.adapt import infer
from gapviz.theory.emulator import Emulator, resolve_device
from scale_apply import apply_table

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "data_samples" / "store" / "theory.pt"
NAMES = ["teff", "logg", "fe_h", "c_fe", "n_fe", "o_fe", "mg_fe", "si_fe", "ca_fe", "ti_fe", "ni_fe"]
SURVEY = 650_000


def matmul_flops(seconds: float = 3.0, n: int = 2048, device: str = "cpu") -> float:
    """Measured fp32 matmul FLOP/s on ``device`` (2 n³ per product; the best of several, the machine being
    shared; on a GPU, 20 products per timing and full fp32, no TF32)."""
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    reps = 20 if device != "cpu" else 1
    sync = torch.cuda.synchronize if device != "cpu" else (lambda: None)
    a @ b
    sync()
    best, t_end = 0.0, time.perf_counter() + seconds
    while time.perf_counter() < t_end:
        t0 = time.perf_counter()
        for _ in range(reps):
            a @ b
        sync()
        best = max(best, reps * 2 * n**3 / (time.perf_counter() - t0))
    return best


def payne_emulator(n_pix: int, untrained: bool, seed: int = 0) -> tuple[Emulator, str]:
    """An 11-label, hidden-300 emulator on n_pix pixels (see the module doc) and what it is."""
    wl = np.linspace(15100.0, 16900.0, n_pix)
    if not untrained and SHIPPED.is_file():
        from gapviz.adapt.theory_fit import TheoryFit

        src = TheoryFit.load(SHIPPED).emulator
        emu = Emulator(src.label_names, src.label_min.numpy(), src.label_max.numpy(), wl, hidden=src.hidden,
                       activation=src.activation)
        state = {k: v for k, v in src.state_dict().items() if k != "wavelength_"}
        tile = np.arange(n_pix) % src.n_pix
        state["net.4.weight"], state["net.4.bias"] = state["net.4.weight"][tile], state["net.4.bias"][tile]
        emu.load_state_dict(state, strict=False)
        return emu.eval(), f"trained hidden layers ({SHIPPED.relative_to(ROOT)}), output tiled {src.n_pix}→{n_pix} px"
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        lo = np.array([3500.0, 0.0, -2.0] + [-0.5] * 8)
        hi = np.array([6500.0, 5.0, 0.5] + [0.5] * 8)
        return Emulator(NAMES, lo, hi, wl).eval(), "untrained (seeded)"


def stars(emu: Emulator, n: int, seed: int):
    """(truth, flux, flux_err, warm init): spectra the emulator made, S/N 100, 3 % of pixels masked (NaN σ)."""
    rng = np.random.default_rng(seed)
    lo, hi = emu.label_min.cpu().numpy(), emu.label_max.cpu().numpy()
    truth = rng.uniform(lo + 0.05 * (hi - lo), hi - 0.05 * (hi - lo), (n, lo.size))
    err = np.full((n, emu.n_pix), 0.01)
    flux = emu.predict(truth) + err * rng.standard_normal(err.shape)
    err[rng.random(err.shape) < 0.03] = np.nan
    init = np.clip(truth + 0.05 * (hi - lo) * rng.standard_normal(truth.shape), lo, hi)
    return truth, flux, err, init


class Counter:
    """Counts the star-Jacobians and star-forwards the fitters evaluate (wraps infer._Problem's methods)."""

    def __init__(self):
        self.jac = self.fwd = 0
        P = infer._Problem
        self._orig = {k: getattr(P, k) for k in ("normal_equations", "jacobian", "chi2", "chi2_fast")}
        count = self

        def normal_equations(prob, z, rows, *a, **k):
            count.jac += z.shape[0]
            return count._orig["normal_equations"](prob, z, rows, *a, **k)

        def jacobian(prob, z):
            count.jac += z.shape[0]
            return count._orig["jacobian"](prob, z)

        def chi2(prob, z, rows):
            count.fwd += z.shape[0]
            return count._orig["chi2"](prob, z, rows)

        def chi2_fast(prob, z, rows):
            count.fwd += z.shape[0]
            return count._orig["chi2_fast"](prob, z, rows)

        self._new = {"normal_equations": normal_equations, "jacobian": jacobian, "chi2": chi2,
                     "chi2_fast": chi2_fast}

    def __enter__(self):
        self.jac = self.fwd = 0
        for k, f in self._new.items():
            setattr(infer._Problem, k, f)
        return self

    def __exit__(self, *exc):
        for k, f in self._orig.items():
            setattr(infer._Problem, k, f)


def run(emu, method, flux, err, init, n_starts, counter, repeats, device="cpu"):
    """The fit and its best wall time over ``repeats`` runs (the machine is shared: the best is the honest one)."""
    lo, hi = emu.label_min.cpu().numpy(), emu.label_max.cpu().numpy()
    best = np.inf
    for _ in range(repeats):
        with counter:
            t0 = time.perf_counter()
            fit = infer.fit_labels(emu, flux, err, lo, hi, init=init, n_starts=n_starts, device=device, method=method)
            if device != "cpu":
                torch.cuda.synchronize()
            best = min(best, time.perf_counter() - t0)
    return fit, best


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pixels", type=int, default=7214)
    p.add_argument("--n-new", type=int, default=384, help="stars the new fitter fits per start kind")
    p.add_argument("--n-old", type=int, default=64, help="of those, stars the old fitter fits (it is slow)")
    p.add_argument("--untrained", action="store_true", help="a seeded untrained emulator, not the shipped layers")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument("--repeats", type=int, default=3, help="time each fit this many times, keep the best")
    p.add_argument("--device", default="auto", help="auto (cuda when present), cpu or cuda")
    p.add_argument("--run", type=Path, help="a trained run: also time gapviz apply of it (see the module doc)")
    p.add_argument("--observed", type=Path, help="with --run: its observed set (N stars are taken from it)")
    p.add_argument("--n-star", type=int, default=200, help="with --run: N (apply runs on N and 10 N stars)")
    p.add_argument("--workers", default="1,2", help="with --run: dask worker counts to time (1 = no cluster)")
    a = p.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    device = str(resolve_device(a.device))
    emu, what = payne_emulator(a.pixels, a.untrained)
    emu = emu.to(device)
    L, H, P = emu.n_label, emu.hidden, emu.n_pix
    peak = matmul_flops(device=device)
    f_pass = 2 * (L * H + H * H + H * P)  # one star through the emulator
    f_step = (L + 1) * f_pass + 2 * L * L * P  # a Jacobian (L tangents + the value) and JᵀWJ
    limit = peak / (10 * f_step)
    print(f"emulator: {L} labels, hidden {H}, {P} px; {what}")
    where = torch.cuda.get_device_name() if device != "cpu" else f"{torch.get_num_threads()} CPU threads"
    print(f"fp32 matmul (2048²): {peak / 1e9:.1f} GFLOP/s on {where}; one Gauss–Newton "
          f"step {f_step / 1e6:.0f} MFLOP/star → matmul limit at 10 steps/star: {limit:.0f} stars/s")
    truth, flux, err, init = stars(emu, a.n_new, seed=1)
    # warm up (torch's first forward-mode call, allocator) on a few stars
    for method in ("legacy", "lm"):
        infer.fit_labels(emu, flux[:8], err[:8], emu.label_min.cpu().numpy(), emu.label_max.cpu().numpy(),
                         device=device, method=method)
    counter = Counter()
    print(f"\n{'start':5s} {'fitter':6s} {'stars':>6s} {'stars/s':>8s} {'of limit':>8s} {'Jac/star':>8s} "
          f"{'fwd/star':>8s} {'GFLOP/s':>8s} {'conv':>6s} {'pull σ (median over labels)':>27s} {'new−old /σ':>10s}")
    rates = {}
    for kind in ("warm", "cold"):
        kw = {"init": init, "n_starts": 4} if kind == "warm" else {"init": None, "n_starts": 8}
        fits = {}
        for method, n in (("legacy", a.n_old), ("lm", a.n_new)):
            i0 = None if kw["init"] is None else kw["init"][:n]
            fit, dt = run(emu, method, flux[:n], err[:n], i0, kw["n_starts"], counter, a.repeats, device)
            fits[method] = fit
            rate = n / dt
            rates[kind, method] = rate
            gflops = (counter.jac * f_step + counter.fwd * f_pass) / dt / 1e9
            pull = np.std((fit.labels - truth[:n]) / np.where(fit.labels_err > 0, fit.labels_err, np.nan), 0)
            agree = ""
            if method == "lm":
                m = a.n_old
                d = np.abs(fit.labels[:m] - fits["legacy"].labels) / fits["legacy"].labels_err
                agree = f"{np.percentile(d, 99):10.3f}"
            print(f"{kind:5s} {method:6s} {n:6d} {rate:8.1f} {rate / limit:8.1%} {counter.jac / n:8.1f} "
                  f"{counter.fwd / n:8.1f} {gflops:8.1f} {fit.converged.mean():6.1%} "
                  f"{np.nanmedian(pull):12.3f} [{np.nanmin(pull):.2f}, {np.nanmax(pull):.2f}] {agree}")
    peak_end = matmul_flops(device=device)
    print(f"fp32 matmul again at the end: {peak_end / 1e9:.1f} GFLOP/s (a shared machine: rates vary with its load)")
    warm, cold = rates["warm", "lm"], rates["cold", "lm"]
    print(f"\nspeed-up new/old: warm {warm / rates['warm', 'legacy']:.1f}×, cold {cold / rates['cold', 'legacy']:.1f}×")
    print(f"projected label-fit time for {SURVEY:,} stars on {where}: "
          f"new {SURVEY / warm / 3600:.2f} h warm ({SURVEY / cold / 3600:.2f} h cold); "
          f"old {SURVEY / rates['warm', 'legacy'] / 3600:.1f} h warm")
    print("(new−old /σ: the 99th percentile over stars and labels of |new − old| in the old fit's quoted σ)")
    if a.run is not None:
        if a.observed is None:
            raise SystemExit("--run needs --observed, the run's observed set")
        rows = apply_table(a.run, a.observed, a.n_star, [int(w) for w in a.workers.split(",")])
        for w in sorted({w for _, w in rows}):
            rate = rows[max(n for n, _ in rows), w]["rate"]
            print(f"projected apply time for {SURVEY:,} stars × {P} px on {where}, {w} worker(s): "
                  f"{SURVEY / rate / 3600:.2f} h ({rate:.1f} stars/s at 10 N)")


if __name__ == "__main__":
    main()
