"""The training recipe: typed dataclasses read from a TOML file (one file per experiment, see train/).

Every key is checked: an unknown key or a value of the wrong type raises GapvizError naming the key and the
file. ``load_config(path)`` → ``TrainConfig``; ``config_to_toml(cfg)`` writes the resolved recipe back.
Field meanings are documented in train/README.md and as comments in train/sample.toml.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args, get_origin, get_type_hints

from gapviz.errors import GapvizError
from gapviz.files import read_toml


@dataclass
class DataConfig:
    val_fraction: float = 0.1  # observed stars held out for validation (never trained on)
    val_max: int = 256  # at most this many held-out stars
    cache_mb: float = 1024.0  # a file whose flux (+ flux_err) is smaller than this is read into memory once
    block_rows: int = 256  # streamed files: rows read per contiguous HDF5 read
    buffer_blocks: int = 8  # streamed files: blocks shuffled together in memory
    sigma_floor: float = 0.005  # σ used in every χ² is at least this (flux units)
    sigma_max: float = 0.05  # pixels with σ above this are masked out of every χ²


@dataclass
class ModelConfig:
    kind: str = "physical"  # "physical" (label latent, emulator + correction) or "cyclestarnet" (reference)
    kernel: int = 7  # 1-D convolution kernel length (pixels)
    negative_slope: float = 0.1  # LeakyReLU slope
    enc_filters: list[int] = field(default_factory=list)  # per-domain encoder convs ([] = dense encoder)
    enc_strides: list[int] = field(default_factory=list)
    shared_filters: list[int] = field(default_factory=lambda: [])  # shared encoder convs (cyclestarnet)
    shared_strides: list[int] = field(default_factory=lambda: [])
    enc_dense: list[int] = field(default_factory=lambda: [256, 256])  # dense layers after the convs (physical)
    split_filters: list[int] = field(default_factory=lambda: [16, 16])  # split encoder convs
    split_strides: list[int] = field(default_factory=lambda: [4, 4])
    shared_z: int = 25  # cyclestarnet: channels of the shared latent (physical: = number of labels)
    split_z: int = 2  # split latent: vector size (physical) or channels (cyclestarnet)
    correction_hidden: list[int] = field(default_factory=lambda: [256, 256])  # physical: δ(z_sh, z_sp) MLP
    continuum_degree: int = 3  # physical: per-chip Legendre continuum of the observed decoder (-1 = none);
    #   its coefficients are extra z_sp entries (per-star continuum-normalisation errors are not physics)
    observed_decoder: str = "emulator_copy"  # physical: "emulator_copy" (a trainable copy of the emulator with
    #   z_sp inputs; δ = copy − emulator) or "correction" (emulator + an MLP δ of width correction_hidden)
    dis_filters: list[int] = field(default_factory=lambda: [16, 32, 64])  # discriminator convs on the spectrum
    dis_strides: list[int] = field(default_factory=lambda: [4, 4, 4])
    dis_dense: list[int] = field(default_factory=lambda: [128])  # discriminator dense layers
    spectral_norm: bool = True  # spectral normalisation in the discriminators


@dataclass
class LossConfig:
    lambda_synth: float = 1.0  # weight of the synthetic-domain χ² terms (reconstruction + cycle)
    lambda_obs: float = 1.0  # weight of the observed-domain χ² terms (reconstruction + cycle)
    lambda_gen: float = 0.0  # adversarial weight for the generators (0 switches the discriminator off)
    lambda_dis: float = 1.0  # weight of the discriminator loss
    gan: str = "lsgan"  # "lsgan", "hinge" or "bce"
    lambda_label: float = 10.0  # physical: label-latent supervision (scaled labels, squared error)
    lambda_correction: float = 1.0  # physical: mean (δ/σ)² amplitude penalty on the correction (0.1 let
    #   the labels drift at 7214 px: train/README.md)
    lambda_split: float = 0.01  # physical: mean z_sp² penalty (keeps the split latent small)
    split_dropout: float = 0.5  # physical: share of stars whose free z_sp (not the continuum) is set to its mean
    emulator_source: bool = True  # physical: add emulator spectra at the labels the observed encoder infers
    label_jitter: float = 0.02  # physical: scaled-label jitter of those emulator spectra


@dataclass
class OptimConfig:
    batch_size: int = 64  # spectra per domain per step (per process under DDP)
    lr: float = 1e-3  # peak learning rate of encoders/decoders (Adam)
    lr_dis: float = 1e-3  # peak learning rate of the discriminators
    betas: list[float] = field(default_factory=lambda: [0.5, 0.999])  # Adam betas
    weight_decay: float = 0.0
    schedule: str = "onecycle"  # "onecycle" (warm-up then cosine), "cosine" or "constant"
    warmup_fraction: float = 0.05  # onecycle: fraction of the run spent warming up
    final_lr_fraction: float = 0.02  # cosine/onecycle: the rate at the end as a fraction of the peak
    grad_clip: float = 10.0  # gradient-norm clip (0 = off)
    encoder_warmup_steps: int = 100  # physical: steps teaching the encoders labels on noisy emulator spectra first


@dataclass
class RunConfig:
    max_steps: int = 0  # stop after this many steps (0 = no step limit; then minutes must be > 0)
    minutes: float = 5.0  # wall-clock budget including the emulator fit (0 = no time limit)
    seed: int = 0
    device: str = "auto"  # "auto", "cpu" or "cuda"
    log_every: int = 50  # steps between metrics.jsonl lines (with validation χ²ν)
    checkpoint_minutes: float = 2.0  # wall-clock minutes between checkpoints (also one at the end)
    amp: bool = True  # bfloat16 autocast on CUDA (ignored on CPU)
    threads: int = 0  # torch intra-op threads (0 = leave torch's default)


@dataclass
class EmulatorConfig:
    path: str = ""  # reuse this emulator file (gapviz.theory.emulator); "" = fit one on the synthetic set
    hidden: int = 300
    minutes_fraction: float = 0.3  # share of --minutes given to the emulator fit
    max_minutes: float = 10.0  # never spend more than this on it
    max_epochs: int = 100000  # epoch limit of the emulator fit (a reproducible alternative to the time limit)
    label_names: list[str] = field(default_factory=list)  # labels to use ([] = all labels in the synthetic file)


@dataclass
class TrainConfig:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: RunConfig = field(default_factory=RunConfig)
    emulator: EmulatorConfig = field(default_factory=EmulatorConfig)


CHOICES = {
    ("model", "kind"): ("physical", "cyclestarnet"),
    ("model", "observed_decoder"): ("emulator_copy", "correction"),
    ("loss", "gan"): ("lsgan", "hinge", "bce"),
    ("optim", "schedule"): ("onecycle", "cosine", "constant"),
    ("train", "device"): ("auto", "cpu", "cuda"),
}


def _check_value(value: Any, hint: Any, where: str) -> Any:
    origin = get_origin(hint)
    if origin is list:
        (item,) = get_args(hint)
        if not isinstance(value, list):
            raise GapvizError(f"{where}: expected a list of {item.__name__}, got {value!r}")
        return [_check_value(v, item, where) for v in value]
    if hint is bool:
        if not isinstance(value, bool):
            raise GapvizError(f"{where}: expected true or false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise GapvizError(f"{where}: expected an integer, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise GapvizError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise GapvizError(f"{where}: expected a string, got {value!r}")
        return value
    raise TypeError(hint)  # pragma: no cover - a field type this loader does not know


def config_from_dict(raw: dict, source: str = "<config>") -> TrainConfig:
    """Build a TrainConfig from nested dicts (TOML tables); GapvizError naming ``[table] key`` and ``source``."""
    cfg = TrainConfig()
    tables = {f.name: f for f in dataclasses.fields(TrainConfig)}
    for table, values in raw.items():
        if table not in tables:
            raise GapvizError(f"{source}: unknown table [{table}]; expected one of {sorted(tables)}")
        if not isinstance(values, dict):
            raise GapvizError(f"{source}: [{table}] must be a table of keys")
        section = getattr(cfg, table)
        hints = get_type_hints(type(section))
        for key, value in values.items():
            where = f"{source}: [{table}] {key}"
            if key not in hints:
                raise GapvizError(f"{where}: unknown key; [{table}] has {sorted(hints)}")
            value = _check_value(value, hints[key], where)
            allowed = CHOICES.get((table, key))
            if allowed and value not in allowed:
                raise GapvizError(f"{where}: {value!r} is not one of {allowed}")
            setattr(section, key, value)
    _check_consistency(cfg, source)
    return cfg


def _check_consistency(cfg: TrainConfig, source: str) -> None:
    m = cfg.model
    for a, b in (("enc_filters", "enc_strides"), ("shared_filters", "shared_strides"),
                 ("split_filters", "split_strides"), ("dis_filters", "dis_strides")):
        if len(getattr(m, a)) != len(getattr(m, b)):
            raise GapvizError(f"{source}: [model] {a} and {b} must have the same length")
    if len(cfg.optim.betas) != 2:
        raise GapvizError(f"{source}: [optim] betas: expected two numbers, got {cfg.optim.betas}")
    positive = [("optim", "batch_size"), ("train", "log_every"), ("data", "block_rows"), ("data", "buffer_blocks"),
                ("model", "kernel"), ("model", "split_z"), ("model", "shared_z")]
    for table, key in positive:
        if getattr(getattr(cfg, table), key) <= 0:
            raise GapvizError(f"{source}: [{table}] {key} must be > 0")
    if not 0.0 < cfg.data.val_fraction < 1.0:
        raise GapvizError(f"{source}: [data] val_fraction must lie in (0, 1)")


def load_config(path: str | Path | None) -> TrainConfig:
    """Read a TOML recipe (None → all defaults)."""
    if path is None:
        return TrainConfig()
    return config_from_dict(read_toml(path, "config file"), str(path))


def config_to_dict(cfg: TrainConfig) -> dict:
    return dataclasses.asdict(cfg)


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise TypeError(type(v))  # pragma: no cover


def config_to_toml(cfg: TrainConfig) -> str:
    """The resolved recipe as TOML text (reads back with ``load_config`` to an equal config)."""
    lines = []
    for table, values in config_to_dict(cfg).items():
        lines.append(f"[{table}]")
        lines += [f"{k} = {_toml_value(v)}" for k, v in values.items()]
        lines.append("")
    return "\n".join(lines)
