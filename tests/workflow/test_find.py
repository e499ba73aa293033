"""gapviz apply and gapviz find as separate stages: find runs on a written store, again and again."""

from __future__ import annotations

import io
import os

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from gapviz.cli import main
from gapviz.errors import GapvizError
from gapviz.store import open_store
from gapviz.store.write import StoreWriter
from gapviz.testing.toy import toy_line_depths, write_toy_case
from gapviz.workflow.analyze import analyze
from gapviz.workflow.apply import apply
from gapviz.workflow.find import find


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    case = write_toy_case(tmp_path_factory.mktemp("toy"), n_star=200, seed=4)
    d = case.directory
    analyze(None, d / "observed.h5", d / "linelist.csv", d / "analyzed", reference_linelist=d / "reference_linelist.csv", adaptation=case.model,
            line_depths=toy_line_depths, chunk_size=64, progress=False)
    return d, case.model, case.removed


def test_analyze_is_apply_then_find(toy, tmp_path):
    d, model, _ = toy
    applied = apply(None, d / "observed.h5", tmp_path / "s", adaptation=model, chunk_size=64, progress=False)
    ds = open_store(applied.store_path)
    assert ds.sizes["candidate"] == 0 and "correction_mean" in ds and ds.attrs["n_candidates"] == 0
    ds.close()
    find(tmp_path / "s", d / "linelist.csv", d / "reference_linelist.csv", theory=model, line_depths=toy_line_depths)
    assert (tmp_path / "s" / "candidates.csv").read_text() == (d / "analyzed" / "candidates.csv").read_text()
    a, b = open_store(tmp_path / "s"), open_store(d / "analyzed")
    for name in [v for v in a.variables if v.startswith(("candidate_", "line_", "correction"))]:
        assert a[name].equals(b[name]), name


def test_find_again_reproduces_the_table_row_for_row(toy, tmp_path):
    d, model, _ = toy
    store = tmp_path / "again"
    analyze(None, d / "observed.h5", d / "linelist.csv", store, reference_linelist=d / "reference_linelist.csv", adaptation=model,
            line_depths=toy_line_depths, chunk_size=64, progress=False)
    before = (store / "candidates.csv").read_text()
    (store / "candidates.csv").unlink()
    # the line lists default to the ones the store recorded
    find(store, theory=model, line_depths=toy_line_depths)
    assert (store / "candidates.csv").read_text() == before
    table = pd.read_csv(store / "candidates.csv")
    assert len(table) >= 3 and list(table["rank"]) == list(range(1, len(table) + 1))


def test_find_with_other_settings_keeps_the_applied_model(toy, tmp_path):
    d, model, removed = toy
    store = tmp_path / "rerun"
    analyze(None, d / "observed.h5", d / "linelist.csv", store, adaptation=model, line_depths=toy_line_depths,
            chunk_size=64, progress=False)
    cubes = open_store(store)[["flux_obs", "correction", "teff"]].load()
    rc = main(["find", str(store), "--attribution", "response"])
    assert rc == 0
    ds = open_store(store)
    assert ds.attrs["attribution_method"] == "response" and ds.attrs["n_candidates"] == ds.sizes["candidate"]
    assert "find" in ds.attrs["history"].splitlines()[-1] and "apply" in ds.attrs["history"]
    xr.testing.assert_equal(ds[["flux_obs", "correction", "teff"]].load(), cubes)  # attrs say what find did
    found = ds["candidate_wavelength"].values
    assert all(np.min(np.abs(found - w)) < 0.1 for w in removed["wavelength"])


def test_find_without_what_it_needs_says_so(toy, tmp_path, capsys):
    d, model, _ = toy
    apply(None, d / "observed.h5", tmp_path / "s", adaptation=model, progress=False)
    assert main(["find", str(tmp_path / "s")]) == 2
    assert "no line list recorded in the store; pass --linelist" in capsys.readouterr().err
    # the toy run saved no theory.pt: the default attribution cannot refit stars
    assert main(["find", str(tmp_path / "s"), "--linelist", str(d / "linelist.csv")]) == 2
    err = capsys.readouterr().err
    assert "theory.pt" in err and "--attribution" in err and "Traceback" not in err
    assert main(["find", str(tmp_path / "nowhere")]) == 2
    assert "no store here" in capsys.readouterr().err


def test_an_interrupted_find_leaves_the_store_as_it_was(toy, tmp_path, monkeypatch):
    d, model, _ = toy
    store = tmp_path / "s"
    analyze(None, d / "observed.h5", d / "linelist.csv", store, adaptation=model, line_depths=toy_line_depths,
            progress=False)
    before = (store / "store.nc").read_bytes()

    def interrupted(self, *a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(StoreWriter, "write_table", interrupted)
    with pytest.raises(KeyboardInterrupt):
        find(store, attribution="regression", line_depths=toy_line_depths)
    assert (store / "store.nc").read_bytes() == before
    assert sorted(os.listdir(store)) == ["candidates.csv", "store.nc"]  # no temporary file left behind


def test_a_store_from_before_the_stages_is_refused_clearly(toy, tmp_path):
    d, *_ = toy
    ds = xr.open_dataset(d / "analyzed" / "store.nc", engine="h5netcdf").load()
    (tmp_path / "old").mkdir()
    ds.encoding = {}  # no unlimited dimensions: the candidate dimension has a fixed length, as stores had
    ds.to_netcdf(tmp_path / "old" / "store.nc", engine="h5netcdf")
    with pytest.raises(GapvizError, match="fixed length.*gapviz apply"):
        find(tmp_path / "old", d / "linelist.csv", attribution="regression", line_depths=toy_line_depths)


def test_the_line_model_calibration_is_recorded_and_reused(toy, tmp_path):
    d, model, _ = toy
    store = tmp_path / "calibrated"
    analyze(None, d / "observed.h5", d / "linelist.csv", store, adaptation=model, line_depths=toy_line_depths,
            chunk_size=64, progress=False)
    assert main(["find", str(store), "--calibration", "sme", "--attribution", "response"]) == 0
    with open_store(store) as ds:
        assert ds.attrs["line_model_calibration"] == "sme"
    assert main(["find", str(store), "--attribution", "response"]) == 0  # the store's choice is kept
    with open_store(store) as ds:
        assert ds.attrs["line_model_calibration"] == "sme"
    assert main(["find", str(store), "--calibration", "none", "--attribution", "response"]) == 0
    with open_store(store) as ds:
        assert ds.attrs["line_model_calibration"] == "none"


def test_the_candidate_table_of_a_small_store_says_it_is_indicative():
    from gapviz.workflow.apply import MIN_STARS
    from gapviz.workflow.find import candidates_csv

    def store(n_star):
        return xr.Dataset({"candidate_rank": ("candidate", [1]), "candidate_wavelength": ("candidate", [15200.0]),
                           "candidate_depth": ("candidate", [0.02]), "star_id": ("star", np.arange(n_star))})

    small = pd.read_csv(io.StringIO(candidates_csv(store(12))))
    assert small["warning"].str.contains(f"only 12 stars \\(fewer than {MIN_STARS}\\)").all()
    large = pd.read_csv(io.StringIO(candidates_csv(store(MIN_STARS))))
    assert "warning" not in large and large["wavelength"].tolist() == [15200.0]
