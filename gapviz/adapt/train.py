"""The training run: emulator fit (or reuse), theory baseline, the adaptation loop, checkpoints, model.pt.

``train(synthetic, observed, out, config=...)`` → TrainSummary. RUN_DIR (``out``) receives ``config.toml``
(the resolved recipe), ``emulator.pt``, ``metrics.jsonl`` (one JSON line per logging step), ``checkpoint.pt``
(every ``checkpoint_minutes``, at the end and on Ctrl-C; ``resume=True`` continues from it exactly),
``run.json`` (metadata and summary) and, when the run finishes, ``model.pt`` (see gapviz.adapt.model).

Stopping: after ``max_steps`` steps or when the wall-clock budget ``minutes`` (which includes the emulator
fit and the theory baseline) is spent, whichever first. The learning-rate schedule follows the same
progress (steps, or time when there is no step limit); only step-limited runs are reproducible bit for bit.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel as DDP

from gapviz.adapt import checkpoint as ck
from gapviz.adapt import distributed as dd
from gapviz.adapt.config import TrainConfig, config_from_dict, config_to_dict, config_to_toml, load_config
from gapviz.adapt.data import MIN_STARS, RowStream, flux_stats, read_rows, shard, split_rows
from gapviz.adapt.networks import build_networks
from gapviz.adapt.objectives import DiscriminatorObjective, GeneratorObjective, pretrain_label_encoders
from gapviz.adapt.validate import chi2nu_at_fitted_labels, fit_theory, validation_chi2nu
from gapviz.errors import GapvizError
from gapviz.files import atomic_write_text
from gapviz.progress import progress_bar
from gapviz.io.spectra import SpectraFile, check_same_grid, read_spectra

LOSS_KEYS = ("total", "rec_obs", "cc_obs", "rec_synth", "cc_synth", "label", "correction", "split", "gen", "dis")


@dataclass
class TrainSummary:
    """What a run reached; val_* are median validation χ²ν per map (see gapviz.adapt.validate)."""

    out: Path
    steps: int
    seconds: float
    stopped: str  # "steps", "time" or "interrupted"
    spectra_per_s: float
    val_before: dict[str, float]
    val_after: dict[str, float]
    n_val: int
    emulator: dict = field(default_factory=dict)


def lr_factor(progress: float, schedule: str, warmup: float, final: float) -> float:
    """Multiplier of the peak learning rate at ``progress`` ∈ [0, 1] of the run."""
    p = min(max(progress, 0.0), 1.0)
    if schedule == "constant":
        return 1.0
    if schedule == "onecycle" and p < warmup:
        return max(p / warmup, 0.02)
    w = warmup if schedule == "onecycle" else 0.0
    q = (p - w) / max(1.0 - w, 1e-9)
    return final + (1.0 - final) * 0.5 * (1.0 + math.cos(math.pi * q))


def _resolve_config(config, resume_ckpt: dict | None, overrides: dict) -> TrainConfig:
    if resume_ckpt is not None:
        cfg = config_from_dict(resume_ckpt["config"], "checkpoint.pt")
    elif isinstance(config, TrainConfig):
        cfg = config
    else:
        cfg = load_config(config)
    for key, value in overrides.items():
        if value is not None:
            setattr(cfg.train, key, value)
    if cfg.train.max_steps <= 0 and cfg.train.minutes <= 0:
        raise GapvizError("give a step limit (--max-steps / [train] max_steps) or a time budget (--minutes)")
    return cfg


def _check_inputs(synthetic: Path, observed: Path, cfg: TrainConfig) -> tuple[list[str], int, int, np.ndarray]:
    with SpectraFile(synthetic) as s, SpectraFile(observed) as o:
        check_same_grid(s.wavelength, o.wavelength, f"{synthetic} (/wavelength)", f"{observed} (/wavelength)")
        if not s.labels:
            raise GapvizError(f"{synthetic}: no /labels/<name> datasets; the synthetic set must be labelled "
                              "(teff, logg, fe_h, ...) to train the emulator and the adaptation")
        names = cfg.emulator.label_names or list(s.labels)
        missing = [n for n in names if n not in s.labels]
        if missing:
            raise GapvizError(f"{synthetic}: labels {missing} asked for by [emulator] label_names are not in /labels "
                              f"(found {list(s.labels)})")
        n_val = split_rows(o.n_star, cfg.data.val_fraction, cfg.data.val_max, 0)[1].size
        if s.n_star < MIN_STARS:
            raise GapvizError(f"{synthetic}: {s.n_star} spectra in /flux; training needs at least {MIN_STARS}")
        if o.n_star - n_val < MIN_STARS:
            raise GapvizError(f"{observed}: {o.n_star} spectra in /flux; training needs at least {MIN_STARS} "
                              f"after holding out {n_val} for validation")
        return names, s.n_star, o.n_star, s.wavelength


def _emulator(cfg: TrainConfig, out: Path, synthetic: Path, names: list[str], wavelength: np.ndarray,
              d: dd.Dist, progress: bool):
    from gapviz.theory.emulator import Emulator, fit_emulator

    path = out / "emulator.pt"
    if (out / "checkpoint.pt").exists() and path.is_file():
        return Emulator.load(path, device=d.device)
    if cfg.emulator.path:
        emu = Emulator.load(cfg.emulator.path, device=d.device)
        if list(emu.label_names) != names:
            raise GapvizError(f"{cfg.emulator.path}: emulator labels {emu.label_names} differ from the training "
                              f"labels {names}; set [emulator] label_names to match")
        check_same_grid(emu.wavelength, wavelength, f"{cfg.emulator.path} (emulator grid)", f"{synthetic} (/wavelength)")
    elif d.main:
        budget = cfg.emulator.max_minutes
        if cfg.train.minutes > 0:
            budget = min(budget, cfg.emulator.minutes_fraction * cfg.train.minutes)
        emu, _ = fit_emulator(read_spectra(synthetic), names, hidden=cfg.emulator.hidden, max_minutes=budget,
                              max_epochs=cfg.emulator.max_epochs, seed=cfg.train.seed, device=d.device,
                              progress=progress)
    if d.main:
        out.mkdir(parents=True, exist_ok=True)
        emu.save(path)
    dd.barrier(d)
    return Emulator.load(path, device=d.device)


def train(synthetic, observed, out, config=None, max_steps: int | None = None, minutes: float | None = None,
          device: str | None = None, seed: int | None = None, resume: bool = False, progress: bool = True
          ) -> TrainSummary:
    """Fit the emulator, then the adaptation; write RUN_DIR ``out``. ``config``: TOML path or TrainConfig."""
    t_start = time.monotonic()
    synthetic, observed, out = Path(synthetic), Path(observed), Path(out)
    ck.check_run_dir(out, resume)
    state = ck.load_torch(out / "checkpoint.pt", "checkpoint") if resume else None
    cfg = _resolve_config(config, state, dict(max_steps=max_steps, minutes=minutes, device=device, seed=seed))
    names, _, n_obs, wavelength = _check_inputs(synthetic, observed, cfg)
    d = dd.init_distributed(cfg.train.device)
    try:
        return _run(cfg, synthetic, observed, out, names, n_obs, d, state, progress, t_start)
    finally:
        dd.shutdown(d)


def _run(cfg, synthetic, observed, out, names, n_obs, d, state, progress, t_start) -> TrainSummary:
    tc, dc = cfg.train, cfg.data
    if tc.threads > 0:
        torch.set_num_threads(tc.threads)
    ck.seed_everything(tc.seed * 1000 + d.rank)
    train_rows, val_rows = split_rows(n_obs, dc.val_fraction, dc.val_max, tc.seed)
    val = read_rows(observed, val_rows, None, dc)
    bs = cfg.optim.batch_size
    with SpectraFile(synthetic) as f:
        n_syn = f.n_star
    obs_stream = RowStream(observed, shard(train_rows, d.rank, d.world), bs, tc.seed, 1, None, dc)
    syn_stream = RowStream(synthetic, shard(np.arange(n_syn), d.rank, d.world), bs, tc.seed, 0, names, dc)
    if state is not None and int(state["world_size"]) != d.world:
        raise GapvizError(f"{out}/checkpoint.pt: written by {state['world_size']} process(es); resume it with "
                          f"the same number (got {d.world})")
    emu = _emulator(cfg, out, synthetic, names, obs_stream._file.wavelength, d, progress and d.main)
    if d.main:
        atomic_write_text(out / "config.toml", config_to_toml(cfg))
    mean, std = flux_stats(synthetic)

    gen, dis_synth, dis_obs = build_networks(cfg.model, emu.n_pix, mean, std, emu)
    if cfg.model.kind == "physical":
        dis_synth = None
    gen = gen.to(d.device)
    if state is None and cfg.model.kind == "physical" and cfg.optim.encoder_warmup_steps > 0:
        t_warm = time.monotonic()  # before DDP wraps the model, which then copies rank 0's weights everywhere
        loss = pretrain_label_encoders(gen, cfg.optim.encoder_warmup_steps, 2 * cfg.optim.batch_size, cfg.optim.lr)
        if progress and d.main:
            print(f"encoder warm-up: {cfg.optim.encoder_warmup_steps} steps on emulator spectra, "
                  f"{time.monotonic() - t_warm:.0f} s, label loss {loss:.2g}", flush=True)
    use_dis = cfg.loss.lambda_gen > 0
    dis_synth = dis_synth.to(d.device) if dis_synth is not None else None
    dis_obs = dis_obs.to(d.device)
    gen_obj = GeneratorObjective(gen, dis_synth if use_dis else None, dis_obs if use_dis else None,
                                 cfg.loss, dc.sigma_floor)
    dis_obj = DiscriminatorObjective(dis_synth, dis_obs, cfg.loss)
    gen_step, dis_step = gen_obj, dis_obj
    if d.active:
        gen_step = DDP(gen_obj)
        dis_step = DDP(dis_obj) if use_dis else dis_obj
    betas = tuple(cfg.optim.betas)
    gen_params = [p for p in gen.parameters() if p.requires_grad]
    opt_g = torch.optim.Adam(gen_params, lr=cfg.optim.lr, betas=betas, weight_decay=cfg.optim.weight_decay)
    opt_d = torch.optim.Adam(dis_obj.parameters(), lr=cfg.optim.lr_dis, betas=betas)

    val_dev = val.to(d.device)
    if state is None:
        t_fit = time.monotonic()
        theory_labels = torch.as_tensor(fit_theory(emu, val, d.device), dtype=torch.float32)
        if progress and d.main:
            rep = getattr(emu, "report", {}) or {}
            print(f"emulator: validation rms {rep.get('val_rms', float('nan')):.4f} ({rep.get('epochs', '?')} epochs, "
                  f"{rep.get('seconds', float('nan')):.0f} s); theory baseline fit of {len(val)} held-out stars: "
                  f"{time.monotonic() - t_fit:.0f} s", flush=True)
        step, elapsed0, train_t0 = 0, 0.0, None
        acc = {k: 0.0 for k in LOSS_KEYS}
        acc_n = 0
    else:
        theory_labels = state["theory_labels"]
        gen.load_state_dict(state["gen"])
        dis_obj.load_state_dict(state["dis"])
        opt_g.load_state_dict(state["opt_g"])
        opt_d.load_state_dict(state["opt_d"])
        obs_stream.load_state_dict(state["streams"][d.rank]["obs"])
        syn_stream.load_state_dict(state["streams"][d.rank]["syn"])
        ck.set_rng_state(state["rng"][d.rank])
        step, elapsed0, train_t0 = int(state["step"]), float(state["elapsed_s"]), state["train_t0"]
        acc, acc_n = dict(state["acc"]), int(state["acc_n"])
    with torch.no_grad():
        theory_flux = emu(theory_labels.to(d.device)).float()
    t_session = time.monotonic()
    elapsed_at_session = elapsed0 + (t_session - t_start if state is None else 0.0)

    def elapsed() -> float:
        return elapsed_at_session + time.monotonic() - t_session

    if train_t0 is None:
        train_t0 = elapsed()
    budget = tc.minutes * 60.0
    reserve = min(10.0, 0.05 * budget)  # leave time for the final validation and files

    def progress_now() -> float:
        p_steps = step / tc.max_steps if tc.max_steps > 0 else 0.0
        p_time = (elapsed() - train_t0) / max(budget - reserve - train_t0, 1e-9) if budget > 0 else 0.0
        return max(p_steps, p_time)

    def validate() -> dict[str, float]:
        return validation_chi2nu(gen, val_dev, theory_flux, len(names))

    metrics_path = out / "metrics.jsonl"
    val_before = state["val_before"] if state is not None else (validate() if d.main else {})
    if d.main:
        _trim_metrics(metrics_path, step)

    def save_checkpoint() -> None:
        payload_rng = dd.gather_objects(d, ck.rng_state())
        streams = dd.gather_objects(d, {"obs": obs_stream.state_dict(), "syn": syn_stream.state_dict()})
        if d.main:
            ck.save_torch({
                "config": config_to_dict(cfg), "step": step, "elapsed_s": elapsed(), "train_t0": train_t0,
                "gen": gen.state_dict(), "dis": dis_obj.state_dict(), "opt_g": opt_g.state_dict(),
                "opt_d": opt_d.state_dict(), "rng": payload_rng, "streams": streams, "acc": acc, "acc_n": acc_n,
                "theory_labels": theory_labels, "val_before": val_before, "world_size": d.world,
            }, out / "checkpoint.pt")

    bar = None
    if progress and d.main:
        bar = progress_bar(total=tc.max_steps or None, initial=step, desc="adapt", unit="step", dynamic_ncols=True)
    amp = cfg.train.amp and d.device.type == "cuda"
    last_ckpt, stopped, val_now = elapsed(), "steps", dict(val_before)
    n_seen = 0
    t_loop = time.monotonic()
    try:
        while True:
            stop = (tc.max_steps > 0 and step >= tc.max_steps) or (budget > 0 and elapsed() >= budget - reserve)
            do_ckpt = elapsed() - last_ckpt >= tc.checkpoint_minutes * 60
            stop, do_ckpt = dd.broadcast_flags(d, stop, do_ckpt)
            if stop:
                stopped = "steps" if tc.max_steps > 0 and step >= tc.max_steps else "time"
                break
            if do_ckpt:
                save_checkpoint()
                last_ckpt = elapsed()
            factor = lr_factor(progress_now(), cfg.optim.schedule, cfg.optim.warmup_fraction,
                               cfg.optim.final_lr_fraction)
            for grp in opt_g.param_groups:
                grp["lr"] = cfg.optim.lr * factor
            for grp in opt_d.param_groups:
                grp["lr"] = cfg.optim.lr_dis * factor
            obs, syn = obs_stream.next_batch().to(d.device), syn_stream.next_batch().to(d.device)
            losses = _train_step(gen_step, dis_step, dis_obj, opt_g, opt_d, gen_params, obs, syn, cfg, use_dis, amp)
            with torch.no_grad():
                mom = max(0.05, 1.0 / (step + 1))
                gen.split_mean.mul_(1 - mom).add_(mom * losses.pop("_sp").mean(0))
            for k in LOSS_KEYS:
                acc[k] += losses[k]
            acc_n += 1
            step += 1
            n_seen += 2 * bs * d.world
            if bar is not None:
                bar.update(1)
                bar.set_postfix(rec_obs=f"{losses['rec_obs']:.3g}", cc_obs=f"{losses['cc_obs']:.3g}",
                                label=f"{losses['label']:.2g}", refresh=False)
            if step % tc.log_every == 0:
                val_now = validate() if d.main else {}
                _log(d, metrics_path, step, elapsed(), cfg.optim.lr * factor, acc, acc_n, val_now)
                acc, acc_n = {k: 0.0 for k in LOSS_KEYS}, 0
    except KeyboardInterrupt:
        save_checkpoint()
        if bar is not None:
            bar.close()
        raise
    if bar is not None:
        bar.close()
    seconds = time.monotonic() - t_loop
    if acc_n:
        val_now = validate() if d.main else {}
        _log(d, metrics_path, step, elapsed(), opt_g.param_groups[0]["lr"], acc, acc_n, val_now)
        acc, acc_n = {k: 0.0 for k in LOSS_KEYS}, 0
    save_checkpoint()
    summary = TrainSummary(out, step, elapsed(), stopped, n_seen / max(seconds, 1e-9), val_before, val_now,
                           len(val), dict(getattr(emu, "report", {}) or {}))
    if d.main:
        meta = ck.run_metadata(tc.seed, d.device, d.world, str(synthetic), str(observed))
        _write_model(out, cfg, gen, emu, names, mean, std, meta, summary, val_dev)
        _print_summary(summary)
    dd.barrier(d)
    return summary


def _train_step(gen_step, dis_step, dis_obj, opt_g, opt_d, gen_params, obs, syn, cfg, use_dis, amp) -> dict:
    dis_params = list(dis_obj.parameters())
    for p in dis_params:  # the generator step must not touch the discriminators
        p.requires_grad_(False)
    with torch.autocast("cuda", dtype=torch.bfloat16, enabled=amp):
        out = gen_step(obs, syn)
    opt_g.zero_grad(set_to_none=True)
    out["total"].backward()
    if cfg.optim.grad_clip > 0:
        torch.nn.utils.clip_grad_norm_(gen_params, cfg.optim.grad_clip)
    opt_g.step()
    for p in dis_params:
        p.requires_grad_(True)
    dis_loss = torch.zeros(())
    if use_dis:
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=amp):
            dis_loss = cfg.loss.lambda_dis * dis_step(obs, syn, out)
        opt_d.zero_grad(set_to_none=True)
        dis_loss.backward()
        opt_d.step()
    result = {k: float(v.detach()) for k, v in out.items() if not k.startswith("_")}
    result["dis"] = float(dis_loss.detach())
    result["_sp"] = out["_sp"].float()
    return result


def _trim_metrics(path: Path, step: int) -> None:
    """Drop metrics lines past ``step`` (written after the checkpoint a resumed run starts from)."""
    if not path.exists():
        return
    keep = [ln for ln in path.read_text().splitlines() if ln.strip() and json.loads(ln)["step"] <= step]
    atomic_write_text(path, "".join(ln + "\n" for ln in keep))


def _log(d, path: Path, step: int, elapsed: float, lr: float, acc: dict, n: int, val: dict) -> None:
    if not d.main:
        return
    line = {"step": step, "elapsed_s": round(elapsed, 3), "lr": lr}
    line.update({k: acc[k] / max(n, 1) for k in LOSS_KEYS})
    line.update({f"val_chi2nu_{k}": v for k, v in val.items()})
    with open(path, "a") as fh:
        fh.write(json.dumps(line) + "\n")


def _write_model(out, cfg, gen, emu, names, mean, std, meta, summary: TrainSummary, val) -> None:
    with torch.no_grad():  # the range of z_sp the observed encoder produces, widened: the label-fit box
        sp = gen.encode_obs(val.flux)[1].float().cpu()
        pad = 0.5 * (sp.amax(0) - sp.amin(0)) + 1e-3
        split_min, split_max = (sp.amin(0) - pad).double(), (sp.amax(0) + pad).double()
    payload = {
        "format": ck.MODEL_FORMAT, "format_version": ck.MODEL_VERSION, "kind": cfg.model.kind,
        "config": config_to_dict(cfg), "state_dict": {k: v.detach().cpu() for k, v in gen.state_dict().items()},
        "emulator": ck.emulator_payload(emu), "wavelength": torch.as_tensor(emu.wavelength, dtype=torch.float64),
        "label_names": list(names), "flux_mean": float(mean), "flux_std": float(std),
        "metadata": meta, "split_min": split_min, "split_max": split_max,
    }
    summary.val_after["syn_obs_fit"] = chi2nu_at_fitted_labels(payload, val)
    summ = {"steps": summary.steps, "seconds": summary.seconds, "stopped": summary.stopped,
            "spectra_per_s": summary.spectra_per_s, "n_val": summary.n_val,
            "val_before": summary.val_before, "val_after": summary.val_after}
    payload["summary"] = summ
    ck.save_torch(payload, out / "model.pt")
    atomic_write_text(out / "run.json", json.dumps({"metadata": meta, "summary": summ}, indent=2) + "\n")


def _print_summary(s: TrainSummary) -> None:
    b, a = s.val_before, s.val_after
    print(f"gapviz train: {s.steps} steps, {s.seconds:.0f} s ({s.stopped}), {s.spectra_per_s:.0f} spectra/s; "
          f"wrote {s.out}/model.pt")
    print(f"  median reduced chi-square (χ²ν) of {s.n_val} held-out observed stars, before → after training:")
    print(f"    {'the theory at its best-fit labels':56s} {b.get('theory', float('nan')):8.3f}")
    for key, name in (("obs_syn_obs", "observed → synthetic counterpart → observed again"),
                      ("syn_obs", "the best-fit theory spectrum mapped to the observed domain"),
                      ("syn_obs_split_mean", "the same with the star-specific latent set to its mean")):
        print(f"    {name:56s} {b.get(key, float('nan')):8.3f} → {a.get(key, float('nan')):8.3f}")
    print(f"    {'the adapted model at labels fitted through it':56s} {'':8s}   {a.get('syn_obs_fit', float('nan')):8.3f}")
