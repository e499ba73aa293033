"""gapviz.adapt.networks: shapes on the sample (1024 px) and the full ASPCAP grid (7214 px), and what the
module documents: the physical adapter starts as the theory (δ = 0) and keeps the flux in (0, FLUX_MAX), its
continuum multiplies each chip, gradients reach every trainable weight (never the frozen emulator), the
split latent, seeded determinism, spectral normalisation, and a small decoder can learn a missing line."""

import numpy as np
import pytest
import torch

from gapviz.adapt.config import ModelConfig
from gapviz.adapt.networks import (
    CycleStarNet,
    Deconv,
    Discriminator,
    PhysicalAdapter,
    Standardise,
    build_networks,
    continuum_basis,
    conv_len,
    conv_stack,
    mlp,
)
from gapviz.io.grids import chip_of
from gapviz.theory.emulator import FLUX_MAX

from .adapt_helpers import toy_emulator

REFERENCE = dict(kind="cyclestarnet", enc_filters=[32, 64], enc_strides=[4, 4], shared_filters=[128, 256, 512],
                 shared_strides=[4, 2, 2], split_filters=[32, 32, 32], split_strides=[4, 2, 2], shared_z=25,
                 split_z=4, dis_filters=[16, 32, 64, 128, 256], dis_strides=[4, 4, 4, 4, 4], dis_dense=[128, 64])
# small versions of both architectures for the behaviour tests (64 px, 3 labels)
SMALL = dict(enc_filters=[4], enc_strides=[4], enc_dense=[16], correction_hidden=[16], dis_filters=[4],
             dis_strides=[4], dis_dense=[8])
SMALL_CSN = dict(SMALL, kind="cyclestarnet", shared_filters=[8], shared_strides=[2], split_filters=[4],
                 split_strides=[4], shared_z=4)
ARCHS = {"emulator_copy": dict(SMALL), "correction": dict(SMALL, observed_decoder="correction"),
         "cyclestarnet": SMALL_CSN}


def _build(arch: str, n_pix: int = 64, seed: int = 0, **overrides):
    torch.manual_seed(seed)
    return build_networks(ModelConfig(**{**ARCHS[arch], **overrides}), n_pix, 0.6, 0.05, toy_emulator(n_pix))


def _no_continuum(gen: PhysicalAdapter, sp: torch.Tensor) -> torch.Tensor:
    sp = sp.clone()
    sp[:, gen.n_free :] = 0.0
    return sp


def test_conv_len_is_ceil_division():
    assert conv_len(7214, [4, 2, 2]) == [7214, 1804, 902, 451]


@pytest.mark.parametrize("n_pix", [1023, 1024, 7214])
def test_deconv_undoes_the_conv_stack_lengths(n_pix):
    strides = [4, 2, 2]
    lengths = conv_len(n_pix, strides)
    h = conv_stack(1, [2, 3, 4], strides, 7, 0.1)(torch.rand(2, 1, n_pix))
    assert h.shape == (2, 4, lengths[-1])
    out = Deconv([4, 3, 2, 1], strides[::-1], lengths[::-1], 7, 0.1, last_act=False)(h)
    assert out.shape == (2, 1, n_pix)


def test_mlp_is_linear_at_the_end_and_standardise_adds_a_channel():
    net = mlp([3, 8, 2], 0.1)
    assert [type(m).__name__ for m in net] == ["Linear", "LeakyReLU", "Linear"]
    assert (net(10 * torch.randn(64, 3)) < 0).any()  # unbounded below: no activation after the last layer
    flux = torch.tensor([[0.9, 1.0, 1.1]])
    assert torch.allclose(Standardise(1.0, 0.1)(flux), torch.tensor([[[-1.0, 0.0, 1.0]]]), atol=1e-6)


@pytest.mark.parametrize("decoder", ["emulator_copy", "correction"])
@pytest.mark.parametrize("n_pix", [1024, 7214])
def test_physical_shapes(n_pix, decoder):
    torch.manual_seed(0)
    cfg = ModelConfig(observed_decoder=decoder)
    gen, _, dis_o = build_networks(cfg, n_pix, 0.9, 0.1, toy_emulator(n_pix, 11))
    assert isinstance(gen, PhysicalAdapter)
    x = torch.rand(3, n_pix)
    z, sp = gen.encode_obs(x)
    n_cont = 4 * 4  # 3 chips + the pixels outside them, cubic (4 Legendre terms) each
    assert z.shape == (3, 11) and sp.shape == (3, cfg.split_z + n_cont) and gen.split_z == cfg.split_z + n_cont
    assert gen.split_mean.shape == (cfg.split_z + n_cont,)
    assert gen.encode_synth(x).shape == (3, 11)
    assert gen.decode_synth(z).shape == (3, n_pix)
    assert gen.decode_obs(z, sp).shape == (3, n_pix)
    assert dis_o(x, z).shape == (3,)


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


def test_emulator_copy_starts_as_the_theory_whatever_the_split_latent():
    """The trainable copy takes the free z_sp entries through zero weights: δ = 0 exactly at the start."""
    gen, _, _ = _build("emulator_copy")
    z = torch.rand(5, 3) - 0.5
    sp = _no_continuum(gen, 10 * torch.randn(5, gen.split_z))
    with torch.no_grad():
        assert torch.allclose(gen.decode_obs(z, sp), gen.decode_synth(z), atol=1e-6)
        assert gen.delta(z, sp).abs().max() < 1e-6


def test_correction_decoder_starts_near_the_theory():
    gen, _, _ = _build("correction")
    z = torch.rand(5, 3) - 0.5
    sp = _no_continuum(gen, torch.randn(5, gen.split_z))
    with torch.no_grad():
        delta = gen.delta(z, sp)
        assert torch.allclose(delta, gen.decode_obs(z, sp) - gen.decode_synth(z))
        assert delta.abs().max() < 0.01  # its last layer starts at 1 % of its init, bias 0
        assert gen.correction[-1].bias.abs().max() == 0


@pytest.mark.parametrize("arch", ["emulator_copy", "correction"])
def test_continuum_coefficients_scale_each_chip_by_per_cent(arch):
    gen, _, _ = _build(arch, n_pix=256)
    z = torch.rand(4, 3) - 0.5
    sp = _no_continuum(gen, torch.randn(4, gen.split_z))
    chips = chip_of(gen.emulator.wavelength)
    with torch.no_grad():
        plain = gen.decode_obs(z, sp)
        for seg in range(gen.continuum_basis.shape[0] // 4):  # cubic: P0..P3 per segment
            sp2 = sp.clone()
            sp2[:, gen.n_free + 4 * seg] = 2.0  # P0 of this segment: +2 %
            ratio = (gen.decode_obs(z, sp2) / plain).numpy()
            on = chips == np.unique(chips)[seg]
            assert np.allclose(ratio[:, on], 1.02, atol=1e-5) and np.allclose(ratio[:, ~on], 1.0, atol=1e-6)


def test_flux_stays_within_the_documented_ceiling():
    """Emulator (synthetic decoder) and its trainable copy end in FLUX_MAX·sigmoid: flux in [0, FLUX_MAX] for
    any latent, even far outside the label box and with the copy's weights moved."""
    gen, _, _ = _build("emulator_copy")
    with torch.no_grad():
        for p in gen.obs_net.parameters():
            p.add_(torch.randn_like(p))
    z = 20 * torch.randn(64, 3)
    sp = _no_continuum(gen, 20 * torch.randn(64, gen.split_z))
    with torch.no_grad():
        for flux in (gen.decode_synth(z), gen.decode_obs(z, sp)):
            assert flux.min() >= 0 and flux.max() <= FLUX_MAX
            assert flux.max() > 1.0 and flux.min() < 0.2  # the whole range is reached: the test has teeth


@pytest.mark.parametrize("arch", list(ARCHS))
def test_round_trips_are_differentiable_into_every_trainable_weight(arch):
    """observed → latent → observed and synthetic → latent → synthetic: a gradient reaches every weight the
    optimiser trains; the physical adapter's emulator is frozen and gets none. The same for a discriminator."""
    gen, _, dis_o = _build(arch)
    x_obs, x_syn = torch.rand(4, 64), torch.rand(4, 64)
    w = torch.randn(4, 64)  # a generic loss: no accidental cancellation
    z_o, sp = gen.encode_obs(x_obs)
    loss = (w * gen.decode_obs(z_o, sp)).sum() + (w * gen.decode_synth(gen.encode_synth(x_syn))).sum()
    loss.backward()
    trained = [(n, p) for n, p in gen.named_parameters() if p.requires_grad]
    assert trained
    missing = [n for n, p in trained if p.grad is None or not torch.isfinite(p.grad).all() or p.grad.abs().sum() == 0]
    assert missing == []
    if isinstance(gen, PhysicalAdapter):
        assert all(not p.requires_grad and p.grad is None for p in gen.emulator.parameters())
    dis_o(x_obs, z_o.detach()).sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in dis_o.parameters())


def test_emulator_is_frozen_but_passes_gradients_to_labels():
    gen, _, _ = _build("emulator_copy")
    assert not any(p.requires_grad for p in gen.emulator.parameters())
    z = torch.zeros(2, 3, requires_grad=True)
    gen.decode_synth(z).sum().backward()
    assert z.grad.abs().sum() > 0


@pytest.mark.parametrize("arch", ["emulator_copy", "cyclestarnet"])
def test_split_latent_carries_the_observed_domain_only(arch):
    gen, _, _ = _build(arch)
    if isinstance(gen, PhysicalAdapter):  # move the copy's zero z_sp weights, as training does
        with torch.no_grad():
            gen.obs_net[0].weight[:, gen.n_label :].normal_()
    x = torch.rand(6, 64)
    with torch.no_grad():
        z, sp = gen.encode_obs(x)
        prior = gen.split_prior(sp)
        # a split latent drawn from the batch's own population: the same rows, shuffled
        assert prior.shape == sp.shape
        assert sorted(map(tuple, prior.flatten(1).tolist())) == sorted(map(tuple, sp.flatten(1).tolist()))
        other = sp.clone()
        other[:, :1] += 1.0  # a free entry (physical: not a continuum coefficient)
        assert (gen.decode_obs(z, other) - gen.decode_obs(z, sp)).abs().max() > 1e-4


def test_copy_synth_encoder_to_obs_reads_the_same_labels():
    gen, _, _ = _build("emulator_copy")
    last = gen.enc_obs.head[-1]
    split_rows = last.weight[gen.n_label :].detach().clone()
    x = torch.rand(5, 64)
    with torch.no_grad():
        assert not torch.allclose(gen.encode_obs(x)[0], gen.encode_synth(x))
        gen.copy_synth_encoder_to_obs()
        assert torch.allclose(gen.encode_obs(x)[0], gen.encode_synth(x), atol=1e-6)
    assert torch.equal(last.weight[gen.n_label :], split_rows)  # the z_sp outputs keep their own weights


@pytest.mark.parametrize("arch", ["emulator_copy", "cyclestarnet"])
def test_seeded_builds_are_identical(arch):
    a, b, c = (_build(arch, seed=s)[0] for s in (3, 3, 4))
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert any(not torch.equal(sa[k], sc[k]) for k in sa)
    x = torch.rand(3, 64)
    with torch.no_grad():
        za, spa = a.encode_obs(x)
        zb, spb = b.encode_obs(x)
        assert torch.equal(a.decode_obs(za, spa), b.decode_obs(zb, spb))


def test_discriminator_is_spectrally_normalised_and_scores_the_pair():
    torch.manual_seed(0)
    cfg = ModelConfig(dis_filters=[4, 8], dis_strides=[4, 4], dis_dense=[16])
    dis = Discriminator(256, 3, cfg, 0.9, 0.1)
    x, z = torch.rand(8, 256), torch.rand(8, 3)
    for _ in range(30):  # one power iteration per training-mode forward
        dis(x, z)
    for m in dis.modules():
        if isinstance(m, (torch.nn.Conv1d, torch.nn.Linear)):
            sigma = torch.linalg.matrix_norm(m.weight.reshape(m.weight.shape[0], -1), ord=2)
            assert abs(sigma.item() - 1.0) < 0.02  # measured |σ − 1| < 1e-5
    dis.eval()
    with torch.no_grad():
        assert not torch.allclose(dis(x, z), dis(x, z + 1.0))  # the latent is part of what is judged
    plain = Discriminator(256, 3, ModelConfig(dis_filters=[4, 8], dis_strides=[4, 4], dis_dense=[16],
                                              spectral_norm=False), 0.9, 0.1)
    assert not any(hasattr(m, "parametrizations") for m in plain.modules())


@pytest.mark.parametrize("arch", ["emulator_copy", "correction"])
def test_observed_decoder_learns_a_line_the_theory_lacks(arch):
    """Fit decode_obs to theory × an extra absorption line whose depth follows a label (the toy version of
    what the adaptation must learn): 150 Adam steps take the rms misfit from 0.03 to below 0.003."""
    gen, _, _ = _build(arch, continuum_degree=-1, split_z=1, correction_hidden=[32])
    pix = torch.arange(64.0)
    line = torch.exp(-0.5 * ((pix - 30) / 2.0) ** 2)

    def target(z):
        return gen.decode_synth(z) * (1 - (0.2 + 0.3 * z[:, :1]) * line)

    torch.manual_seed(10)
    z_test = torch.rand(256, 3) - 0.5
    with torch.no_grad():
        y_test = target(z_test)
        rms0 = (gen.decode_obs(z_test, torch.zeros(256, 1)) - y_test).pow(2).mean().sqrt()
    params = [p for n, p in gen.named_parameters() if p.requires_grad and not n.startswith("enc_")]
    opt = torch.optim.Adam(params, lr=3e-3)
    for _ in range(150):
        z = torch.rand(64, 3) - 0.5
        with torch.no_grad():
            y = target(z)
        loss = (gen.decode_obs(z, torch.zeros(64, 1)) - y).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        rms1 = (gen.decode_obs(z_test, torch.zeros(256, 1)) - y_test).pow(2).mean().sqrt()
    # measured over 3 seeds × both decoders: rms0 ≈ 0.030, rms1 ≤ 0.0008
    assert rms0 > 0.02 and rms1 < 0.003 and rms1 < 0.1 * rms0, (rms0, rms1)


def test_mlp_encoder_when_no_convs():
    cfg = ModelConfig(enc_filters=[], enc_strides=[], enc_dense=[32, 16])
    gen, _, _ = build_networks(cfg, 1024, 0.9, 0.1, toy_emulator(1024, 11))
    assert not any(isinstance(m, torch.nn.Conv1d) for m in gen.enc_obs.modules())
    assert gen.encode_obs(torch.rand(2, 1024))[0].shape == (2, 11)


def test_physical_model_needs_an_emulator():
    with pytest.raises(ValueError, match="emulator"):
        build_networks(ModelConfig(), 64, 0.9, 0.1)


def test_continuum_basis_is_per_chip_legendre():
    wl = np.array([15200.0, 15300.0, 15400.0, 16000.0, 16100.0, 16200.0])
    b = continuum_basis(wl, 1).numpy()
    assert b.shape == (4, 6)  # 2 chips × (P0, P1)
    assert np.allclose(b[0], [1, 1, 1, 0, 0, 0]) and np.allclose(b[1], [-1, 0, 1, 0, 0, 0])
    assert np.allclose(b[3], [0, 0, 0, -1, 0, 1])
    assert continuum_basis(wl, -1).shape == (0, 6)
    # on the full grid every pixel lies in exactly one segment (3 chips + the pixels outside them)
    full = continuum_basis(np.linspace(15100.0, 16900.0, 7214), 2).numpy()
    assert full.shape == (4 * 3, 7214)
    assert np.allclose(full[::3].sum(0), 1.0) and np.all(np.abs(full) <= 1.0 + 1e-6)
