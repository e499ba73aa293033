"""Fixtures for the adaptation tests; the data makers live in adapt_helpers.py (importable by test modules)."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapt_helpers import write_sets


@pytest.fixture(scope="session")
def tiny_sets(tmp_path_factory) -> tuple[Path, Path]:
    return write_sets(tmp_path_factory.mktemp("tiny_sets"))
