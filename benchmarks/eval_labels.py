"""Label inference against the mock's truth: plain theory vs the adapted model, on held-out observed stars.

    python benchmarks/eval_labels.py RUN_DIR [--observed data_samples/mock/observed.h5]
                                             [--truth data_samples/mock/truth.h5] [--all]

For teff, logg, fe_h (and every other label with a truth) prints bias (median of inferred − true) and
scatter (std, and 1.4826 × MAD) of three estimates: the plain theory fitted by χ² (emulator at best fit),
the adapted model fitted by χ² (``Adaptation.fit_labels``) and, for the physical model, the observed
encoder's direct reading. Default: the run's validation stars (never trained on); ``--all``: every star.

Also the Cycle-StarNet-style synthetic→observed test that only a mock allows: the theory at each star's
TRUE labels → synthetic encoder → observed decoder (with the star's own z_sp, and with z_sp at its
population mean), median χ²ν against the observed spectra (dof = usable pixels − number of labels).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import h5py
import numpy as np
import torch

from gapviz.adapt import load_adaptation
from gapviz.adapt.data import prepare_arrays, split_rows
from gapviz.adapt.infer import fit_labels
from gapviz.adapt.losses import chi2nu_per_star
from gapviz.io.spectra import SpectraFile

ROOT = Path(__file__).resolve().parents[1]


def stats(inferred: np.ndarray, true: np.ndarray) -> tuple[float, float, float]:
    d = inferred - true
    med = float(np.median(d))
    return med, float(np.std(d)), float(1.4826 * np.median(np.abs(d - med)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir")
    ap.add_argument("--observed", default=str(ROOT / "data_samples/mock/observed.h5"))
    ap.add_argument("--truth", default=str(ROOT / "data_samples/mock/truth.h5"))
    ap.add_argument("--all", action="store_true", help="every observed star, not only the held-out ones")
    args = ap.parse_args()

    model = load_adaptation(args.run_dir)
    cfg = model.config
    with SpectraFile(args.observed) as f:
        n = f.n_star
        rows = np.arange(n) if args.all else split_rows(n, cfg.data.val_fraction, cfg.data.val_max, cfg.train.seed)[1]
        obs = f.read(rows)
    with h5py.File(args.truth, "r") as t:
        if "star_id" in t and obs.star_id is not None:
            sid = np.array([x.decode() if isinstance(x, bytes) else str(x) for x in t["star_id"][()]])
            if not np.array_equal(sid[rows], obs.star_id):
                raise SystemExit("truth /star_id does not match the observed file's order")
        truth = {k: t["labels"][k][()][rows] for k in t["labels"] if k in model.label_names}

    syn_obs_true(model, obs, truth)
    t0 = time.perf_counter()
    emu = model.emulator
    err = np.where(np.isfinite(obs.flux_err) & (obs.flux_err <= cfg.data.sigma_max),
                   np.maximum(obs.flux_err, cfg.data.sigma_floor), np.nan)
    theory = fit_labels(emu, obs.flux, err, emu.label_min.numpy(), emu.label_max.numpy(), device="cpu").labels
    t1 = time.perf_counter()
    adapted = model.fit_labels(obs.flux, obs.flux_err).labels
    t2 = time.perf_counter()
    estimates = {"theory χ² fit": theory, "adapted χ² fit": adapted}
    if model.physical:
        estimates["adapted encoder"] = model.encoded_labels(obs.flux, obs.flux_err)
    print(f"{len(rows)} {'observed' if args.all else 'held-out observed'} stars; fit times: theory {t1 - t0:.1f} s, "
          f"adapted {t2 - t1:.1f} s")
    print(f"{'label':8s} {'estimate':18s} {'bias':>9s} {'std':>9s} {'MAD-σ':>9s}")
    order = [k for k in ("teff", "logg", "fe_h") if k in truth] + [k for k in truth if k not in ("teff", "logg", "fe_h")]
    for name in order:
        j = model.label_names.index(name)
        for est, lab in estimates.items():
            b, s, m = stats(lab[:, j], truth[name])
            print(f"{name:8s} {est:18s} {b:9.3f} {s:9.3f} {m:9.3f}")


@torch.no_grad()
def syn_obs_true(model, obs, truth: dict) -> None:
    """Median χ²ν of the theory, and of the synthetic→observed map, at the true labels."""
    if any(n not in truth for n in model.label_names):
        return
    true = torch.as_tensor(np.column_stack([truth[n] for n in model.label_names]), dtype=torch.float32)
    d = model.config.data
    a = {k: torch.as_tensor(v) for k, v in prepare_arrays(obs.flux, obs.flux_err, d.sigma_floor, d.sigma_max).items()}
    g = model.gen
    theory = model.emulator(true).float()
    _, sp = g.encode_obs(a["flux"])
    z = g.encode_synth(theory)
    rows = {"theory at true labels": theory, "syn→obs at true labels, own z_sp": g.decode_obs(z, sp),
            "syn→obs at true labels, z_sp mean": g.decode_obs(z, g.split_mean.expand_as(sp))}
    for name, m in rows.items():
        c = chi2nu_per_star(m.float(), a["flux"], a["sigma"], a["mask"], len(model.label_names))
        print(f"median χ²ν, {name:36s} {float(c.median()):8.3f}")


if __name__ == "__main__":
    main()
