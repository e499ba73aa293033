"""Training throughput: our recipes vs the reference Cycle-StarNet configuration, in one run (< ~2 min).

    python benchmarks/bench_train.py [--seconds 10] [--device cpu]

Prints spectra/s (synthetic + observed spectra per second) of one full training step (generator and,
when adversarial, discriminator updates) for
  * ``ours``       our default recipe (train/sample.toml: physical model, batch 64+64)
  * ``reference``  Cycle-StarNet (O'Briain et al. 2021) layer sizes, batch 8+8, adversarial
each on the shipped sample grid (1024 px) and the full ASPCAP grid (7214 px), with
their ratios (each time per step is the fastest of several short windows: robust to a shared machine),
and the achieved FLOP/s of one step (torch.utils.flop_counter) as a fraction of this
machine's fp32 matmul FLOP/s (measured here on a 2048² matmul). Random data: only speed is measured.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from gapviz.adapt.config import load_config
from gapviz.adapt.data import Batch
from gapviz.adapt.networks import build_networks
from gapviz.adapt.objectives import DiscriminatorObjective, GeneratorObjective
from gapviz.adapt.train import _train_step
from gapviz.theory.emulator import Emulator

ROOT = Path(__file__).resolve().parents[1]
LABELS = 11

# Cycle-StarNet's published architecture (configs of O'Briain et al. 2021): per-domain convs 32, 64
# (stride 4, 4), shared convs 128, 256, 512 (stride 4, 2, 2), 25 shared-latent channels, split convs
# 32, 32, 32 (stride 4, 2, 2) with 4 split channels, kernel 7, LeakyReLU; discriminator convs 16..256
# (stride 4) and dense 128, 64; Adam lr 1e-4, betas (0.5, 0.999); batch 8 + 8; loss weights 3 / 9 / 1 / 1.
REFERENCE = {
    "model": {"kind": "cyclestarnet", "kernel": 7, "enc_filters": [32, 64], "enc_strides": [4, 4],
              "shared_filters": [128, 256, 512], "shared_strides": [4, 2, 2], "shared_z": 25,
              "split_filters": [32, 32, 32], "split_strides": [4, 2, 2], "split_z": 4,
              "dis_filters": [16, 32, 64, 128, 256], "dis_strides": [4, 4, 4, 4, 4], "dis_dense": [128, 64],
              "spectral_norm": False},
    "loss": {"lambda_synth": 3.0, "lambda_obs": 9.0, "lambda_gen": 1.0, "lambda_dis": 1.0, "gan": "bce"},
    "optim": {"batch_size": 8, "lr": 1e-4, "lr_dis": 1e-4, "schedule": "constant"},
}


def matmul_flops(seconds: float = 3.0, n: int = 2048) -> float:
    """Measured fp32 matmul FLOP/s (2 n³ per product)."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    best, t_end = 0.0, time.perf_counter() + seconds
    while time.perf_counter() < t_end:  # the best of several products (the machine is shared)
        t0 = time.perf_counter()
        a @ b
        best = max(best, 2 * n**3 / (time.perf_counter() - t0))
    return best


def _batch(n: int, n_pix: int, labels: bool, rng: np.random.Generator, emu: Emulator) -> Batch:
    flux = torch.as_tensor(1 - 0.3 * rng.random((n, n_pix)), dtype=torch.float32)
    lab = None
    if labels:
        lab = emu.unscale(torch.as_tensor(rng.uniform(-0.5, 0.5, (n, LABELS)), dtype=torch.float32))
    return Batch(flux, torch.full_like(flux, 0.01), torch.ones_like(flux), lab)


def measure(name: str, cfg, n_pix: int, seconds: float, device: torch.device) -> dict:
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    emu = Emulator([f"l{i}" for i in range(LABELS)], np.zeros(LABELS), np.ones(LABELS),
                   np.linspace(15100.0, 16950.0, n_pix), hidden=300).to(device)
    gen, dis_s, dis_o = build_networks(cfg.model, n_pix, 0.9, 0.1, emu)
    if cfg.model.kind == "physical":
        dis_s = None
    gen, dis_o = gen.to(device), dis_o.to(device)
    dis_s = dis_s.to(device) if dis_s is not None else None
    use_dis = cfg.loss.lambda_gen > 0
    gen_obj = GeneratorObjective(gen, dis_s if use_dis else None, dis_o if use_dis else None, cfg.loss,
                                 cfg.data.sigma_floor)
    dis_obj = DiscriminatorObjective(dis_s, dis_o, cfg.loss)
    params = [p for p in gen.parameters() if p.requires_grad]
    opt_g = torch.optim.Adam(params, lr=cfg.optim.lr, betas=tuple(cfg.optim.betas))
    opt_d = torch.optim.Adam(dis_obj.parameters(), lr=cfg.optim.lr_dis, betas=tuple(cfg.optim.betas))
    bs = cfg.optim.batch_size
    obs = _batch(bs, n_pix, False, rng, emu).to(device)
    syn = _batch(bs, n_pix, True, rng, emu).to(device)

    def step():
        _train_step(gen_obj, dis_obj, dis_obj, opt_g, opt_d, params, obs, syn, cfg, use_dis, False)

    step()
    step()
    with FlopCounterMode(display=False) as fc:
        step()
    flops = fc.get_total_flops()
    if device.type == "cuda":
        torch.cuda.synchronize()
    # several short windows, keep the fastest: the machine is shared, bursts of load only slow windows down
    windows, t_end = [], time.perf_counter() + seconds
    while time.perf_counter() < t_end or len(windows) < 3:
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds / 8 or n < 2:
            step()
            n += 1
        if device.type == "cuda":
            torch.cuda.synchronize()
        windows.append((time.perf_counter() - t0) / n)
    dt = min(windows)
    n_params = sum(p.numel() for p in gen.parameters() if p.requires_grad)
    return {"name": name, "n_pix": n_pix, "batch": f"{bs}+{bs}", "params": n_params, "step_s": dt,
            "spectra_per_s": 2 * bs / dt, "flops_per_step": flops, "flop_per_s": flops / dt}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=10.0, help="timing window per configuration")
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    device = torch.device(args.device)
    from gapviz.adapt.config import config_from_dict

    ours, ref = load_config(ROOT / "train" / "sample.toml"), config_from_dict(REFERENCE, "reference")
    runs = [measure("ours", ours, 1024, args.seconds, device), measure("reference", ref, 1024, args.seconds, device),
            measure("ours", ours, 7214, args.seconds, device), measure("reference", ref, 7214, args.seconds, device)]
    peak = matmul_flops() if device.type == "cpu" else float("nan")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {device}")
    print(f"fp32 matmul (2048²): {peak / 1e9:.1f} GFLOP/s")
    print(f"{'config':12s} {'pixels':>6s} {'batch':>7s} {'params':>9s} {'step s':>8s} {'spectra/s':>10s} "
          f"{'GFLOP/step':>10s} {'GFLOP/s':>8s} {'of matmul':>9s}")
    for r in runs:
        print(f"{r['name']:12s} {r['n_pix']:6d} {r['batch']:>7s} {r['params']:9d} {r['step_s']:8.4f} "
              f"{r['spectra_per_s']:10.1f} {r['flops_per_step'] / 1e9:10.3f} {r['flop_per_s'] / 1e9:8.1f} "
              f"{r['flop_per_s'] / peak:9.1%}")
    for i, n_pix in ((0, 1024), (2, 7214)):
        ratio = runs[i]["spectra_per_s"] / runs[i + 1]["spectra_per_s"]
        print(f"throughput ratio ours / reference at {n_pix} px: {ratio:.2f}x")


if __name__ == "__main__":
    main()
