"""The training loop on tiny data: one step lowers the loss, the run directory, exact resume after Ctrl-C."""

import json

import numpy as np
import pytest
import torch

from adapt_helpers import tiny_config
from gapviz.adapt.data import RowStream, read_rows
from gapviz.adapt.networks import build_networks
from gapviz.adapt.objectives import GeneratorObjective
from gapviz.adapt.train import lr_factor, train
from gapviz.theory.emulator import fit_emulator
from gapviz.io.spectra import read_spectra


@pytest.mark.parametrize("kind", ["physical", "cyclestarnet"])
def test_one_step_lowers_the_loss(tiny_sets, kind):
    syn_path, obs_path = tiny_sets
    torch.manual_seed(0)
    extra = {} if kind == "physical" else dict(model__kind="cyclestarnet", model__shared_filters=[8],
                                                model__shared_strides=[2], model__split_filters=[4],
                                                model__split_strides=[4], model__shared_z=4)
    cfg = tiny_config(**extra)
    emu, _ = fit_emulator(read_spectra(syn_path), hidden=16, max_epochs=3, progress=False, device="cpu")
    gen, dis_s, dis_o = build_networks(cfg.model, emu.n_pix, 0.9, 0.1, emu)
    obj = GeneratorObjective(gen, None, None, cfg.loss, cfg.data.sigma_floor)
    obs = read_rows(obs_path, np.arange(32), None, cfg.data)
    syn = read_rows(syn_path, np.arange(32), ["teff", "logg", "fe_h"], cfg.data)
    opt = torch.optim.Adam([p for p in gen.parameters() if p.requires_grad], lr=1e-3)
    torch.manual_seed(1)
    before = obj(obs, syn)["total"]
    opt.zero_grad()
    before.backward()
    opt.step()
    torch.manual_seed(1)  # the same noise draws: only the weights changed
    after = obj(obs, syn)["total"]
    assert after.item() < before.item()


def test_lr_schedule_shape():
    assert lr_factor(0.0, "onecycle", 0.1, 0.02) == pytest.approx(0.02)
    assert lr_factor(0.1, "onecycle", 0.1, 0.02) == pytest.approx(1.0)
    assert lr_factor(1.0, "onecycle", 0.1, 0.02) == pytest.approx(0.02)
    assert lr_factor(0.5, "cosine", 0.1, 0.0) == pytest.approx(0.5)
    assert lr_factor(0.7, "constant", 0.1, 0.0) == 1.0


def _metrics(run):
    return [json.loads(ln) for ln in (run / "metrics.jsonl").read_text().splitlines()]


def test_run_directory_and_summary(tiny_sets, tmp_path, capsys):
    syn_path, obs_path = tiny_sets
    run = tmp_path / "run"
    summary = train(syn_path, obs_path, run, tiny_config(), progress=False)
    assert summary.steps == 6 and summary.stopped == "steps"
    for name in ("model.pt", "config.toml", "metrics.jsonl", "checkpoint.pt", "emulator.pt", "run.json"):
        assert (run / name).is_file(), name
    lines = _metrics(run)
    assert [ln["step"] for ln in lines] == [2, 4, 6]
    for key in ("elapsed_s", "rec_obs", "cc_obs", "rec_synth", "cc_synth", "val_chi2nu_theory",
                "val_chi2nu_obs_syn_obs", "val_chi2nu_syn_obs", "val_chi2nu_syn_obs_split_mean"):
        assert np.isfinite(lines[-1][key]), key
    payload = torch.load(run / "model.pt", weights_only=True)
    assert payload["label_names"] == ["teff", "logg", "fe_h"]
    assert payload["metadata"]["seed"] == 0 and payload["metadata"]["torch_version"] == str(torch.__version__)
    out = capsys.readouterr().out
    assert "theory at best-fit labels" in out and "observed→synthetic→observed" in out


def test_resume_after_ctrl_c_matches_an_uninterrupted_run(tiny_sets, tmp_path, monkeypatch):
    syn_path, obs_path = tiny_sets
    full, part = tmp_path / "full", tmp_path / "part"
    train(syn_path, obs_path, full, tiny_config(), progress=False)

    real_next = RowStream.next_batch
    calls = {"n": 0}

    def interrupt_at_step_4(self):
        if self.stream_id == 1:  # the observed stream is read first in each step
            calls["n"] += 1
            if calls["n"] == 4:
                raise KeyboardInterrupt
        return real_next(self)

    monkeypatch.setattr(RowStream, "next_batch", interrupt_at_step_4)
    with pytest.raises(KeyboardInterrupt):
        train(syn_path, obs_path, part, tiny_config(), progress=False)
    monkeypatch.setattr(RowStream, "next_batch", real_next)
    assert torch.load(part / "checkpoint.pt", weights_only=True)["step"] == 3
    assert not (part / "model.pt").exists()
    train(syn_path, obs_path, part, None, resume=True, progress=False)

    a, b = _metrics(full), _metrics(part)
    assert [x["step"] for x in a] == [x["step"] for x in b]
    for x, y in zip(a, b):
        x.pop("elapsed_s"), y.pop("elapsed_s")
        assert x == pytest.approx(y, rel=1e-6, abs=1e-9)
    wa = torch.load(full / "model.pt", weights_only=True)["state_dict"]
    wb = torch.load(part / "model.pt", weights_only=True)["state_dict"]
    assert all(torch.allclose(wa[k], wb[k], rtol=1e-6, atol=1e-8) for k in wa)
