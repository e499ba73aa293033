"""`gapviz train` (gapviz.cli.train) refuses bad input with one line (exit 2), and runs under torchrun with DDP."""

import os
import subprocess
import sys

import h5py
import numpy as np
import pytest

from gapviz.cli import main
from gapviz.io.spectra import Spectra, write_spectra

from .adapt_helpers import make_sets, write_tiny_toml


@pytest.fixture()
def recipe(tmp_path):
    return write_tiny_toml(tmp_path / "tiny.toml")


def _write(tmp_path, syn, obs):
    return write_spectra(syn, tmp_path / "s.h5"), write_spectra(obs, tmp_path / "o.h5")


def _refused(capsys, synthetic, observed, out, config, *words, resume=False):
    """`gapviz train` exits 2 with one line, 'gapviz: error: …', holding every one of ``words``."""
    args = ["--synthetic", synthetic, "--observed", observed, "--out", out]
    args += ["--resume"] if resume else ["--config", config]
    rc = main(["train", *map(str, args), "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert err.startswith("gapviz: error: ") and err.count("\n") == 1 and "Traceback" not in err
    for w in words:
        assert w in err, (w, err)


def test_grids_differ(tmp_path, capsys, recipe):
    syn, obs, _ = make_sets(n_syn=32, n_obs=32)
    s, o = _write(tmp_path, syn, Spectra(obs.wavelength + 1.0, obs.flux, obs.flux_err))
    _refused(capsys, s, o, tmp_path / "r", recipe, "wavelength grids differ", str(s), str(o))


def test_synthetic_without_labels(tmp_path, capsys, recipe):
    syn, obs, _ = make_sets(n_syn=32, n_obs=32)
    s, o = _write(tmp_path, Spectra(syn.wavelength, syn.flux), obs)
    _refused(capsys, s, o, tmp_path / "r", recipe, str(s), "/labels", "labelled")


@pytest.mark.parametrize("which", ["synthetic", "observed"])
def test_too_few_stars(tmp_path, capsys, recipe, which):
    s, o = _write(tmp_path, *make_sets(n_syn=10 if which == "synthetic" else 40,
                                       n_obs=10 if which == "observed" else 40)[:2])
    _refused(capsys, s, o, tmp_path / "r", recipe, str(s if which == "synthetic" else o), "at least 16")


def test_nan_only_spectrum(tmp_path, capsys, recipe):
    s, o = _write(tmp_path, *make_sets(n_syn=40, n_obs=40)[:2])
    with h5py.File(o, "a") as f:  # written behind the writer's back, as a broken survey file would be
        f["flux"][3] = np.nan
    _refused(capsys, s, o, tmp_path / "r", recipe, str(o), "no usable pixel")


@pytest.mark.parametrize("text, words", [
    ("[optim]\nbatchsize = 8\n", ["batchsize"]),
    ("[train]\nlog_every = 'often'\n", ["log_every", "integer"]),
])
def test_config_unknown_key_and_wrong_type(tiny_sets, tmp_path, capsys, text, words):
    bad = tmp_path / "bad.toml"
    bad.write_text(text)
    _refused(capsys, *tiny_sets, tmp_path / "r", bad, str(bad), *words)


def test_out_holds_another_run_and_resume_without_checkpoint(tiny_sets, tmp_path, capsys, recipe):
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.jsonl").write_text("")
    _refused(capsys, *tiny_sets, run, recipe, str(run), "another run", "--resume")
    _refused(capsys, *tiny_sets, tmp_path / "new", None, "no checkpoint.pt", resume=True)


@pytest.mark.e2e
def test_torchrun_two_processes(tiny_sets, tmp_path, recipe):
    s, o = tiny_sets
    run = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "gapviz",
           "train", "--synthetic", str(s), "--observed", str(o), "--out", str(run), "--config", str(recipe),
           "--max-steps", "3", "--no-progress"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"}
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert res.returncode == 0, res.stderr[-3000:]
    assert (run / "model.pt").is_file()
    assert res.stdout.count("gapviz train: 3 steps") == 1  # only rank 0 reports
    import torch

    assert torch.load(run / "model.pt", weights_only=True)["metadata"]["world_size"] == 2
