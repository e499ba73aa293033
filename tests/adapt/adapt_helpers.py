"""Tiny synthetic/observed pairs for the adaptation tests, and a recipe small enough to train in seconds.

The "theory" is Gaussian absorption lines whose depths follow the labels; the "observed" stars have three
extra lines the theory lacks, a broader line spread, a per-star continuum tilt, noise, and a different
label population.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from gapviz.adapt.config import config_from_dict
from gapviz.io.spectra import Spectra, write_spectra
from gapviz.theory.emulator import Emulator

NAMES = ("teff", "logg", "fe_h")


def _lines(labels: np.ndarray, x: np.ndarray, centres, strengths, width: float) -> np.ndarray:
    t = (labels[:, 0:1] - 4750.0) / 750.0
    g = (labels[:, 1:2] - 2.0)
    m = labels[:, 2:3]
    tau = np.zeros((labels.shape[0], x.size))
    for i, (c, a) in enumerate(zip(centres, strengths)):
        depth = a * np.exp(0.8 * m - 0.3 * t * (-1) ** i + 0.2 * g * (i % 3 == 0))
        tau += depth[:, :1] * np.exp(-0.5 * ((x - c) / width) ** 2)
    return np.exp(-tau)


def make_sets(n_syn: int = 96, n_obs: int = 96, n_pix: int = 128, seed: int = 0, noise: float = 0.01
              ) -> tuple[Spectra, Spectra, np.ndarray]:
    """(synthetic, observed, observed true labels (n_obs, 3))."""
    rng = np.random.default_rng(seed)
    x = np.arange(n_pix, dtype=float)
    wavelength = 15200.0 + 0.2 * x
    centres = np.linspace(8, n_pix - 8, 10)
    strengths = rng.uniform(0.2, 0.6, centres.size)
    extra = centres[:3] + 0.5 * (centres[1] - centres[0])
    syn_labels = np.column_stack([rng.uniform(4000, 5500, n_syn), rng.uniform(1, 3, n_syn), rng.uniform(-1, 0.3, n_syn)])
    obs_labels = np.column_stack([rng.normal(4800, 200, n_obs).clip(4100, 5400), rng.normal(2.2, 0.3, n_obs).clip(1.1, 2.9),
                                  rng.normal(-0.2, 0.2, n_obs).clip(-0.9, 0.2)])
    syn_flux = _lines(syn_labels, x, centres, strengths, 1.5)
    obs_flux = _lines(obs_labels, x, centres, strengths, 1.9) * _lines(obs_labels, x, extra, [0.3, 0.2, 0.25], 1.9)
    tilt = 1.0 + 0.01 * rng.normal(size=(n_obs, 1)) * (x / n_pix - 0.5)
    obs_err = np.full_like(obs_flux, noise)
    obs_flux = obs_flux * tilt + noise * rng.normal(size=obs_flux.shape)
    syn = Spectra(wavelength, syn_flux, labels=dict(zip(NAMES, syn_labels.T)), domain="synthetic")
    obs = Spectra(wavelength, obs_flux, obs_err, star_id=[f"s{i}" for i in range(n_obs)], domain="observed")
    return syn, obs, obs_labels


def write_sets(directory: Path, **kw) -> tuple[Path, Path]:
    syn, obs, _ = make_sets(**kw)
    return write_spectra(syn, directory / "synthetic.h5"), write_spectra(obs, directory / "observed.h5")


def toy_emulator(n_pix: int = 64, n_label: int = 3, seed: int = 0, hidden: int = 32) -> Emulator:
    """An untrained Emulator (labels in the unit box) on an APOGEE-like grid: seeded, the global RNG untouched."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return Emulator([f"l{i}" for i in range(n_label)], np.zeros(n_label), np.ones(n_label),
                        np.linspace(15100.0, 16900.0, n_pix), hidden=hidden)


TINY_RECIPE = {
    "data": {"val_fraction": 0.15, "val_max": 16, "block_rows": 16, "buffer_blocks": 2},
    "model": {"enc_filters": [4, 8], "enc_strides": [4, 4], "enc_dense": [32], "split_z": 2,
              "correction_hidden": [32], "dis_filters": [4], "dis_strides": [4], "dis_dense": [16]},
    "loss": {"lambda_gen": 0.1},
    "optim": {"batch_size": 16, "lr": 1e-3, "encoder_warmup_steps": 5},
    "train": {"max_steps": 6, "minutes": 0.0, "log_every": 2, "device": "cpu", "checkpoint_minutes": 100.0},
    "emulator": {"hidden": 16, "max_epochs": 5},
}


# the reference architecture, small enough for the tiny sets (tiny_config overrides)
TINY_CYCLESTARNET = dict(model__kind="cyclestarnet", model__shared_filters=[8], model__shared_strides=[2],
                         model__split_filters=[4], model__split_strides=[4], model__shared_z=4)

# a run long enough for the validation χ²ν to fall clearly (about 2 s of one CPU thread; see test_train.py)
TRAINED = dict(train__max_steps=120, train__log_every=30, emulator__max_epochs=200)


def tiny_config(**overrides):
    raw = {k: dict(v) for k, v in TINY_RECIPE.items()}
    for key, value in overrides.items():
        table, name = key.split("__")
        raw.setdefault(table, {})[name] = value
    return config_from_dict(raw, "<tiny>")


def read_metrics(run: Path) -> list[dict]:
    """The lines of RUN_DIR/metrics.jsonl."""
    return [json.loads(ln) for ln in (run / "metrics.jsonl").read_text().splitlines()]


def write_tiny_toml(path: Path, **overrides) -> Path:
    from gapviz.adapt.config import config_to_toml

    path.write_text(config_to_toml(tiny_config(**overrides)))
    return path
