"""Fixtures for the store tests: one small store written by analyze from toy spectra, shared by the session."""

from __future__ import annotations

import pytest

from gapviz.io.grids import sample_wavelength
from gapviz.io.linelist import write_linelist_csv
from gapviz.io.spectra import write_spectra
from gapviz.testing.toy import (
    standard_toy,
    toy_line_depths,
    toy_observed,
    toy_population,
    toy_synthetic,
)
from gapviz.workflow.analyze import analyze


@pytest.fixture(scope="session")
def toy_store(tmp_path_factory):
    """A store written by analyze from 300 toy stars on the sample grid: (its directory's parent, the result)."""
    d = tmp_path_factory.mktemp("toy")
    model, theory, reference, _ = standard_toy(sample_wavelength())
    write_spectra(toy_observed(model, toy_population(300, 1), seed=2), d / "obs.h5")
    write_spectra(toy_synthetic(model, toy_population(300, 3)), d / "syn.h5")
    write_linelist_csv(theory, d / "ll.csv")
    write_linelist_csv(reference, d / "ref.csv")
    result = analyze(None, d / "obs.h5", d / "ll.csv", d / "store", synthetic=d / "syn.h5",
                     reference_linelist=d / "ref.csv", adaptation=model, line_depths=toy_line_depths,
                     chunk_size=64, progress=False)
    return d, result
