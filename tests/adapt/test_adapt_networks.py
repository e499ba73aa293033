"""Network shapes on the sample (1024 px) and the full ASPCAP grid (7214 px); the reference configuration."""

import numpy as np
import pytest
import torch

from gapviz.adapt.config import ModelConfig
from gapviz.adapt.networks import CycleStarNet, PhysicalAdapter, build_networks, continuum_basis, conv_len
from gapviz.theory.emulator import Emulator

REFERENCE = dict(kind="cyclestarnet", enc_filters=[32, 64], enc_strides=[4, 4], shared_filters=[128, 256, 512],
                 shared_strides=[4, 2, 2], split_filters=[32, 32, 32], split_strides=[4, 2, 2], shared_z=25,
                 split_z=4, dis_filters=[16, 32, 64, 128, 256], dis_strides=[4, 4, 4, 4, 4], dis_dense=[128, 64])


def _emulator(n_pix, n_label=11):
    return Emulator([f"l{i}" for i in range(n_label)], np.zeros(n_label), np.ones(n_label),
                    np.linspace(15100.0, 16900.0, n_pix), hidden=32)


def test_conv_len_is_ceil_division():
    assert conv_len(7214, [4, 2, 2]) == [7214, 1804, 902, 451]


@pytest.mark.parametrize("decoder", ["emulator_copy", "correction"])
@pytest.mark.parametrize("n_pix", [1024, 7214])
def test_physical_shapes(n_pix, decoder):
    torch.manual_seed(0)
    cfg = ModelConfig(observed_decoder=decoder)
    gen, dis_s, dis_o = build_networks(cfg, n_pix, 0.9, 0.1, _emulator(n_pix))
    assert isinstance(gen, PhysicalAdapter)
    x = torch.rand(3, n_pix)
    z, sp = gen.encode_obs(x)
    n_cont = 4 * 4 if n_pix == 7214 else 4 * 4  # 3 chips + the gaps between them, cubic (4 terms) each
    assert z.shape == (3, 11) and sp.shape == (3, cfg.split_z + n_cont) and gen.split_z == cfg.split_z + n_cont
    assert gen.encode_synth(x).shape == (3, 11)
    assert gen.decode_synth(z).shape == (3, n_pix)
    out = gen.decode_obs(z, sp)
    assert out.shape == (3, n_pix)
    # the correction starts near zero: the adapted model begins as the plain theory
    assert (out - gen.decode_synth(z)).abs().max() < 0.05
    assert torch.allclose(gen.delta(z, sp), out - gen.decode_synth(z))
    assert dis_o(x, z).shape == (3,)
    # the continuum coefficients (%) multiply the spectrum by 1 + 0.01 Σ c_k P_k on each chip
    sp2 = sp.clone()
    sp2[:, cfg.split_z] += 1.0  # chip 0, P_0: +1 %
    ratio = gen.decode_obs(z, sp2) / out
    on_chip = gen.continuum_basis[0] > 0
    assert torch.allclose(ratio[:, on_chip], 1 + 0.01 / (1 + 0.01 * (sp[:, cfg.split_z:] @ gen.continuum_basis)[:, on_chip]), atol=1e-5)


@pytest.mark.parametrize("n_pix", [1024, 7214])
def test_reference_cyclestarnet_shapes(n_pix):
    cfg = ModelConfig(**REFERENCE)
    gen, dis_s, dis_o = build_networks(cfg, n_pix, 0.9, 0.1)
    assert isinstance(gen, CycleStarNet)
    x = torch.rand(2, n_pix)
    z, sp = gen.encode_obs(x)
    n_z = conv_len(conv_len(n_pix, [4, 4])[-1], [4, 2, 2])[-1]
    assert z.shape == (2, 25, n_z)
    assert sp.shape == (2, 4, conv_len(n_pix, [4, 2, 2])[-1])
    assert gen.decode_synth(z).shape == (2, n_pix)
    assert gen.decode_obs(z, sp).shape == (2, n_pix)
    assert gen.decode_synth(gen.encode_synth(x)).shape == (2, n_pix)
    assert dis_s(x, z).shape == (2,) and dis_o(x, z).shape == (2,)


def test_emulator_is_frozen_but_passes_gradients_to_labels():
    gen, _, _ = build_networks(ModelConfig(), 64, 0.9, 0.1, _emulator(64, 3))
    assert not any(p.requires_grad for p in gen.emulator.parameters())
    z = torch.zeros(2, 3, requires_grad=True)
    gen.decode_synth(z).sum().backward()
    assert z.grad.abs().sum() > 0


def test_mlp_encoder_when_no_convs():
    cfg = ModelConfig(enc_filters=[], enc_strides=[], enc_dense=[32, 16])
    gen, _, _ = build_networks(cfg, 1024, 0.9, 0.1, _emulator(1024))
    assert not any(isinstance(m, torch.nn.Conv1d) for m in gen.enc_obs.modules())
    assert gen.encode_obs(torch.rand(2, 1024))[0].shape == (2, 11)


def test_continuum_basis_is_per_chip_legendre():
    wl = np.array([15200.0, 15300.0, 15400.0, 16000.0, 16100.0, 16200.0])
    b = continuum_basis(wl, 1).numpy()
    assert b.shape == (4, 6)  # 2 chips × (P0, P1)
    assert np.allclose(b[0], [1, 1, 1, 0, 0, 0]) and np.allclose(b[1], [-1, 0, 1, 0, 0, 0])
    assert np.allclose(b[3], [0, 0, 0, -1, 0, 1])
    assert continuum_basis(wl, -1).shape == (0, 6)
