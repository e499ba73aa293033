"""The shipped store (data_samples/store) is what the stages make: gapviz find on it reproduces its table."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from gapviz.cli import main
from gapviz.store import open_store

ROOT = Path(__file__).resolve().parents[2]
STORE = ROOT / "data_samples" / "store"
MOCK = ROOT / "data_samples" / "mock"


@pytest.mark.e2e
def test_find_on_the_shipped_store_reproduces_its_candidates_row_for_row(tmp_path):
    store = tmp_path / "store"
    shutil.copytree(STORE, store)
    (store / "candidates.csv").unlink()
    rc = main(["find", str(store), "--linelist", str(MOCK / "linelist.csv"),
               "--reference-linelist", str(MOCK / "reference_linelist.csv")])
    assert rc == 0
    assert (store / "candidates.csv").read_text() == (STORE / "candidates.csv").read_text()
    found, shipped = open_store(store), open_store(STORE)
    for name in [v for v in shipped.data_vars if v.startswith(("candidate_", "line_")) or v == "correction_systematic"]:
        assert found[name].equals(shipped[name]), name
