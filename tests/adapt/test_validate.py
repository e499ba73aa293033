"""gapviz.adapt.validate: which spectra each validation map compares, on a generator whose maps are known."""

import numpy as np
import pytest
import torch
from torch import nn

from gapviz.adapt.data import Batch
from gapviz.adapt.validate import validation_chi2nu

N_PIX, N_LABEL = 50, 3


class KnownMaps(nn.Module):
    """A generator stand-in: the latent *is* the spectrum; the synthetic decoder subtracts 0.01 (1 σ) from
    every pixel, the observed decoder adds the split latent, which is ``split`` for every star (its
    population mean: 0.02)."""

    syn_offset = 0.01

    def __init__(self, split: float):
        super().__init__()
        self.split = split
        self.register_buffer("split_mean", torch.tensor([0.02]))

    def encode_obs(self, flux):
        return flux.clone(), torch.full((flux.shape[0], 1), self.split)

    def encode_synth(self, flux):
        return flux.clone()

    def decode_synth(self, z):
        return z - self.syn_offset

    def decode_obs(self, z, sp):
        return z + sp[:, :1]


def _val(n: int, sigma: float = 0.01, seed: int = 0) -> Batch:
    rng = np.random.default_rng(seed)
    flux = torch.as_tensor(1 + 0.1 * rng.standard_normal((n, N_PIX)), dtype=torch.float32)
    return Batch(flux, torch.full_like(flux, sigma), torch.ones_like(flux))


def test_each_map_compares_what_the_docs_say():
    val = _val(9)
    gen = KnownMaps(split=0.01).train()
    theory = val.flux + 0.02 * torch.arange(1, 10)[:, None]  # star i off by 2i σ
    out = validation_chi2nu(gen, val, theory, N_LABEL)
    dof = N_PIX - N_LABEL
    assert out["theory"] == pytest.approx(N_PIX * 10**2 / dof, rel=1e-4)  # the median star: 2·5 σ
    # obs → syn (−1 σ) → syn encoder → obs with the star's own z_sp (+1 σ): exact
    assert out["obs_syn_obs"] == pytest.approx(0.0, abs=1e-8)
    # the theory (median 10 σ off) read by the synthetic encoder → obs with the star's own z_sp (+1 σ)
    assert out["syn_obs"] == pytest.approx(N_PIX * 11**2 / dof, rel=1e-4)
    # the cycle with z_sp at its population mean (+2 σ): 1 σ off
    assert out["syn_obs_split_mean"] == pytest.approx(N_PIX / dof, rel=1e-4)
    assert gen.training  # the caller's mode comes back


def test_masked_pixels_chunks_and_eval_mode():
    val = _val(10)
    val.mask[:, :20] = 0  # ignored: only 30 pixels count, dof = 30 − 3
    val.flux[:, :20] = 99.0
    gen = KnownMaps(split=0.0).eval()
    whole = validation_chi2nu(gen, val, val.flux + 0.02, N_LABEL)
    assert whole["theory"] == pytest.approx(30 * 4 / 27, rel=1e-4)
    assert whole["obs_syn_obs"] == pytest.approx(30 / 27, rel=1e-4)
    assert validation_chi2nu(gen, val, val.flux + 0.02, N_LABEL, batch_size=3) == whole
    assert not gen.training
