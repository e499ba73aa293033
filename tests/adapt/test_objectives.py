"""gapviz.adapt.objectives: one step's losses, what they are made of, and the encoders' warm start."""

import numpy as np
import pytest
import torch

from gapviz.adapt.data import read_rows
from gapviz.adapt.networks import build_networks
from gapviz.adapt.objectives import (
    DiscriminatorObjective,
    GeneratorObjective,
    pretrain_label_encoders,
)
from gapviz.adapt.train import LOSS_KEYS
from gapviz.io.spectra import read_spectra
from gapviz.theory.emulator import fit_emulator

from .adapt_helpers import NAMES, TINY_CYCLESTARNET, tiny_config, toy_emulator

KINDS = {"physical": {}, "cyclestarnet": TINY_CYCLESTARNET}


@pytest.fixture(scope="module")
def emulator(tiny_sets):
    return fit_emulator(read_spectra(tiny_sets[0]), hidden=16, max_epochs=3, progress=False, device="cpu")[0]


def _setup(tiny_sets, emulator, kind, **overrides):
    syn_path, obs_path = tiny_sets
    torch.manual_seed(0)
    cfg = tiny_config(**KINDS[kind], **overrides)
    gen, dis_s, dis_o = build_networks(cfg.model, emulator.n_pix, 0.9, 0.1, emulator)
    obs = read_rows(obs_path, np.arange(32), None, cfg.data)
    syn = read_rows(syn_path, np.arange(32), list(NAMES), cfg.data)
    return cfg, gen, dis_s, dis_o, obs, syn


@pytest.mark.parametrize("kind", KINDS)
def test_one_step_lowers_the_loss(tiny_sets, emulator, kind):
    cfg, gen, _, _, obs, syn = _setup(tiny_sets, emulator, kind)
    obj = GeneratorObjective(gen, None, None, cfg.loss, cfg.data.sigma_floor)
    opt = torch.optim.Adam([p for p in gen.parameters() if p.requires_grad], lr=1e-3)
    torch.manual_seed(1)
    before = obj(obs, syn)["total"]
    opt.zero_grad()
    before.backward()
    opt.step()
    torch.manual_seed(1)  # the same noise draws: only the weights changed
    after = obj(obs, syn)["total"]
    assert after.item() < before.item()


@pytest.mark.parametrize("kind", KINDS)
def test_total_is_the_weighted_sum_and_spares_the_discriminators(tiny_sets, emulator, kind):
    cfg, gen, dis_s, dis_o, obs, syn = _setup(tiny_sets, emulator, kind, loss__lambda_gen=0.3,
                                              loss__lambda_obs=2.0, loss__lambda_label=5.0)
    dis_s = dis_s if kind == "cyclestarnet" else None
    obj = GeneratorObjective(gen, dis_s, dis_o, cfg.loss, cfg.data.sigma_floor)
    out = obj(obs, syn)
    assert set(LOSS_KEYS) - {"dis"} <= set(out)
    c = cfg.loss
    expected = (c.lambda_obs * (out["rec_obs"] + out["cc_obs"]) + c.lambda_synth * (out["rec_synth"] + out["cc_synth"])
                + c.lambda_label * out["label"] + c.lambda_correction * out["correction"]
                + c.lambda_split * out["split"] + c.lambda_gen * out["gen"])
    assert out["total"].item() == pytest.approx(expected.item(), rel=1e-6)
    assert out["gen"].item() > 0 and all(torch.isfinite(out[k]) for k in LOSS_KEYS if k != "dis")
    # the discriminators sit outside the module tree: neither the generator's optimiser nor DDP sees them
    names = [n for n, _ in obj.named_parameters()]
    assert names and all(n.startswith("gen.") for n in names)
    # the discriminator objective scores real spectra against the generator's detached fakes: its loss
    # trains every discriminator weight and never reaches the generator
    dis = DiscriminatorObjective(dis_s, dis_o, cfg.loss)
    gen.zero_grad(set_to_none=True)  # (the fitted emulator still holds its last training gradients)
    loss = dis(obs, syn, out)
    loss.backward()
    assert torch.isfinite(loss)
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in dis.parameters())
    assert [n for n, p in gen.named_parameters() if p.grad is not None] == []


def test_physical_terms_vanish_for_the_reference_model(tiny_sets, emulator):
    cfg, gen, _, _, obs, syn = _setup(tiny_sets, emulator, "cyclestarnet")
    out = GeneratorObjective(gen, None, None, cfg.loss, cfg.data.sigma_floor)(obs, syn)
    assert out["label"].item() == out["correction"].item() == out["split"].item() == out["gen"].item() == 0.0


def test_encoder_warm_start_learns_labels_and_copies_them_to_the_observed_encoder():
    emu = toy_emulator(n_pix=128, n_label=3)  # random weights: flux varies with every label
    torch.manual_seed(0)
    gen, _, _ = build_networks(tiny_config().model, emu.n_pix, 0.6, 0.05, emu)
    torch.manual_seed(100)
    z = torch.rand(256, gen.n_label) - 0.5
    x = gen.decode_synth(z).detach()
    start = ((gen.encode_synth(x) - z) ** 2).mean().item()  # ≈ 1/12: labels unread
    pretrain_label_encoders(gen, steps=300, batch_size=64, lr=3e-3)
    end = ((gen.encode_synth(x) - z) ** 2).mean().item()
    assert end < 0.25 * start, (start, end)  # measured end/start 0.03-0.13 (3 emulators × 5 seeds)
    with torch.no_grad():  # the observed encoder starts as the synthetic one: it reads the same labels
        assert torch.allclose(gen.encode_obs(x)[0], gen.encode_synth(x), atol=1e-6)
