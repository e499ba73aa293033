"""gapviz.adapt.checkpoint: what a run directory holds and how it is written and read back."""

import random

import numpy as np
import pytest
import torch

from gapviz.adapt import checkpoint as ck
from gapviz.errors import GapvizError

from .adapt_helpers import toy_emulator


def _draws():
    return torch.rand(3).tolist(), np.random.rand(3).tolist(), [random.random() for _ in range(3)]


def test_rng_state_round_trips_through_a_weights_only_file(tmp_path):
    ck.seed_everything(5)
    _draws()
    np.random.standard_normal()  # numpy's cached Gaussian is part of the state too
    path = tmp_path / "state.pt"
    ck.save_torch({"rng": ck.rng_state()}, path)
    expected = _draws()
    ck.seed_everything(99)
    ck.set_rng_state(ck.load_torch(path, "checkpoint")["rng"])
    assert _draws() == expected


def test_seed_everything_is_repeatable():
    ck.seed_everything(7)
    a = _draws()
    ck.seed_everything(7)
    assert _draws() == a
    ck.seed_everything(8)
    assert _draws() != a


def test_load_torch_names_the_file(tmp_path):
    with pytest.raises(GapvizError, match="no model here"):
        ck.load_torch(tmp_path / "model.pt", "model")
    (tmp_path / "model.pt").write_bytes(b"junk")
    with pytest.raises(GapvizError, match=r"model\.pt: not a readable gapviz model"):
        ck.load_torch(tmp_path / "model.pt", "model")


def test_save_is_atomic_and_leaves_no_temporary(tmp_path):
    ck.save_torch({"a": torch.arange(3)}, tmp_path / "x.pt")
    ck.save_torch({"a": torch.arange(4)}, tmp_path / "x.pt")  # overwriting is allowed
    assert [p.name for p in tmp_path.iterdir()] == ["x.pt"]
    assert torch.equal(ck.load_torch(tmp_path / "x.pt", "file")["a"], torch.arange(4))


def test_emulator_payload_round_trip():
    emu = toy_emulator(32)
    payload = ck.emulator_payload(emu)
    assert payload["state_dict"] and all(t.device.type == "cpu" for t in payload["state_dict"].values())
    back = ck.emulator_from_payload(payload)
    labels = torch.rand(4, 3)
    with torch.no_grad():
        assert torch.equal(back(labels), emu(labels))


def test_check_run_dir(tmp_path):
    ck.check_run_dir(tmp_path / "new", resume=False)  # a new directory is fine
    with pytest.raises(GapvizError, match="no checkpoint.pt"):
        ck.check_run_dir(tmp_path / "new", resume=True)
    (tmp_path / "file").write_text("")
    with pytest.raises(GapvizError, match="not a directory"):
        ck.check_run_dir(tmp_path / "file", resume=False)
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.toml").write_text("")
    with pytest.raises(GapvizError, match=r"another run \(config.toml\)"):
        ck.check_run_dir(run, resume=False)
    (run / "checkpoint.pt").write_bytes(b"")
    ck.check_run_dir(run, resume=True)


def test_run_metadata_records_the_run():
    meta = ck.run_metadata(3, torch.device("cpu"), 1, "syn.h5", "obs.h5")
    assert meta["seed"] == 3 and meta["world_size"] == 1 and meta["device"] == "cpu"
    assert meta["torch_version"] == str(torch.__version__) and meta["synthetic_path"].endswith("syn.h5")
