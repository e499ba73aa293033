"""gapviz.discover.find.find_candidates: a store Dataset in, a candidates Dataset out (no files involved)."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from gapviz.discover.crossmatch import lines_in_range
from gapviz.discover.find import feature_pixels, find_candidates
from gapviz.errors import GapvizError
from gapviz.io.grids import sample_wavelength
from gapviz.io.linelist import read_linelist
from gapviz.store import open_store
from gapviz.store.schema import CANDIDATE_VARS, LINE_VARS
from gapviz.testing.toy import toy_line_depths, write_toy_case
from gapviz.workflow.apply import apply

WL = sample_wavelength()


@pytest.fixture(scope="module")
def applied(tmp_path_factory):
    """An applied toy store, loaded into memory: (Dataset, toy model, theory list, reference, removed lines)."""
    case = write_toy_case(tmp_path_factory.mktemp("find"), n_star=160, seed=20)
    apply(None, case.observed, case.directory / "store", adaptation=case.model, chunk_size=64, progress=False)
    ds = open_store(case.directory / "store").load()
    lines, reference = (lines_in_range(read_linelist(p), WL, "toy") for p in (case.linelist, case.reference))
    return ds, case.model, lines, reference, case.removed


def test_a_dataset_in_a_dataset_out(applied):
    ds, model, lines, reference, removed = applied
    out = find_candidates(ds, lines, reference=reference, theory=model, line_depths=toy_line_depths)
    assert isinstance(out, xr.Dataset) and set(out.dims) == {"candidate", "line", "wavelength"}
    assert set(CANDIDATE_VARS) | set(LINE_VARS) | {"correction_systematic"} == set(out.data_vars)
    for name, var in out.data_vars.items():
        assert var.attrs["units"] and var.attrs["long_name"], name
    assert out.attrs["attribution_method"] == "hypothesis" and out.attrs["n_candidates"] == out.sizes["candidate"]
    found = out["candidate_wavelength"].values
    for w in removed["wavelength"]:
        assert np.min(np.abs(found - w)) < 0.1
    np.testing.assert_array_equal(out["candidate_rank"].values, np.arange(1, found.size + 1))
    assert out.sizes["line"] == len(lines)
    assert out["correction_systematic"].shape == (WL.size,)


def test_the_input_is_not_modified_and_the_result_is_repeatable(applied):
    ds, model, lines, reference, _ = applied
    before = ds.copy(deep=True)
    a = find_candidates(ds, lines, theory=model, attribution="regression", line_depths=toy_line_depths)
    b = find_candidates(ds, lines, theory=model, attribution="regression", line_depths=toy_line_depths)
    xr.testing.assert_identical(a, b)
    xr.testing.assert_identical(ds, before)
    assert a.attrs["attribution_method"] == "regression"


def test_what_the_finder_cannot_do_is_said(applied):
    ds, model, lines, *_ = applied
    with pytest.raises(GapvizError, match="theory.pt"):
        find_candidates(ds, lines, theory=None, line_depths=toy_line_depths)
    with pytest.raises(GapvizError, match="--attribution 'psychic'"):
        find_candidates(ds, lines, attribution="psychic")
    with pytest.raises(GapvizError, match="gapviz apply"):
        find_candidates(ds[["wavelength", "correction_mean"]], lines)


def test_feature_pixels_cover_one_resolution_element_each_side():
    import pandas as pd

    wl = np.linspace(15200.0, 15210.0, 201)
    near = feature_pixels(wl, pd.DataFrame({"wavelength": [15205.0]}), resolution=22500.0)
    half = 15205.0 / 22500.0
    np.testing.assert_array_equal(near, np.abs(wl - 15205.0) <= half)
    assert not feature_pixels(wl, pd.DataFrame({"wavelength": []}), resolution=22500.0).any()
