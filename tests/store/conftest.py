"""Fixtures for the store tests: one small store written by analyze from toy spectra, shared by the session."""

from __future__ import annotations

import pytest

from gapviz.testing.toy import toy_line_depths, write_toy_case
from gapviz.workflow.analyze import analyze


@pytest.fixture(scope="session")
def toy_store(tmp_path_factory):
    """A store written by analyze from 300 toy stars on the sample grid: (its directory's parent, the result)."""
    d = tmp_path_factory.mktemp("toy")
    case = write_toy_case(d, n_star=300, seed=0)
    result = analyze(None, case.observed, case.linelist, d / "store", synthetic=case.synthetic,
                     reference_linelist=case.reference, adaptation=case.model, line_depths=toy_line_depths,
                     chunk_size=64, progress=False)
    return d, result
