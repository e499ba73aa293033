"""gapviz.adapt.distributed: without torchrun's environment everything is one process and every helper is a
no-op that still returns what the caller needs (the two-process run is test_cli's torchrun test)."""

import pytest
import torch

from gapviz.adapt import distributed as dd


@pytest.fixture()
def single(monkeypatch):
    for var in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(var, raising=False)
    return dd.init_distributed("cpu")


def test_single_process_without_torchrun(single):
    assert (single.rank, single.world, single.device) == (0, 1, torch.device("cpu"))
    assert single.main and not single.active
    assert not torch.distributed.is_initialized()


def test_world_size_one_is_single_process_too(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "1")
    monkeypatch.setenv("RANK", "0")
    d = dd.init_distributed("cpu")
    assert not d.active and not torch.distributed.is_initialized()


def test_helpers_are_no_ops_for_one_process(single):
    assert dd.broadcast_flags(single, True, False) == [True, False]
    assert dd.gather_objects(single, {"a": 1}) == [{"a": 1}]
    dd.barrier(single)
    dd.shutdown(single)


def test_only_rank_zero_is_main():
    assert not dd.Dist(1, 2, torch.device("cpu")).main and dd.Dist(1, 2, torch.device("cpu")).active
