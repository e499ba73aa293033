"""Fixtures for the adaptation tests; the data makers live in adapt_helpers.py."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from gapviz.adapt.train import TrainSummary, train

from .adapt_helpers import TRAINED, tiny_config, write_sets


@pytest.fixture(autouse=True)
def _one_thread():
    """One torch thread: these tensors are tiny, and on a shared 2-core machine a second thread mostly waits
    (a 120-step run takes ~2 s on one thread, up to 30 s on two under load). The caller's setting comes back."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tiny_sets(tmp_path_factory) -> tuple[Path, Path]:
    return write_sets(tmp_path_factory.mktemp("tiny_sets"))


@dataclass
class TrainedRun:
    out: Path
    summary: TrainSummary
    observed: Path


@pytest.fixture(scope="session")
def trained_run(tiny_sets, tmp_path_factory) -> TrainedRun:
    """One physical-kind run on the tiny sets (``TRAINED``: 120 steps), shared by test_train and test_model."""
    syn_path, obs_path = tiny_sets
    out = tmp_path_factory.mktemp("trained") / "run"
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # a session fixture runs outside the autouse one
    try:
        summary = train(syn_path, obs_path, out, tiny_config(**TRAINED), progress=False)
    finally:
        torch.set_num_threads(before)
    return TrainedRun(out, summary, obs_path)
