"""gapviz.store.paths: where a store lives (STORE_DIR/store.nc or a .nc file named directly), and the checks
that refuse a wrong or existing target before any work is done."""

from __future__ import annotations

import pytest

from gapviz.errors import GapvizError
from gapviz.io.grids import sample_wavelength
from gapviz.store.paths import (
    candidates_file,
    check_target,
    existing_store_file,
    store_dir,
    store_file,
)
from gapviz.testing.toy import standard_toy, toy_line_depths
from gapviz.workflow.analyze import analyze


def test_a_directory_means_its_store_nc_and_a_nc_file_is_itself(tmp_path):
    assert store_file(tmp_path / "run") == tmp_path / "run" / "store.nc"  # need not exist yet
    assert store_file(tmp_path / "mine.nc") == tmp_path / "mine.nc"
    assert store_dir(tmp_path / "mine.nc") == store_dir(tmp_path) == tmp_path
    assert candidates_file(tmp_path / "run") == tmp_path / "run" / "candidates.csv"
    assert candidates_file(tmp_path / "run" / "store.nc") == tmp_path / "run" / "candidates.csv"


def test_another_file_is_not_a_store(tmp_path):
    other = tmp_path / "observed.h5"
    other.write_bytes(b"x")
    with pytest.raises(GapvizError, match=r"observed\.h5: not a gapviz store: expected STORE_DIR"):
        store_file(other)
    with pytest.raises(GapvizError, match=r"observed\.h5: exists and is not a directory"):
        check_target(other, overwrite=True)


def test_existing_store_file_names_the_missing_file(tmp_path):
    with pytest.raises(GapvizError, match=rf"{tmp_path / 'store.nc'}: no store here"):
        existing_store_file(tmp_path)
    (tmp_path / "store.nc").write_bytes(b"")
    assert existing_store_file(tmp_path) == tmp_path / "store.nc"


def test_check_target_refuses_an_existing_store_without_overwrite(tmp_path):
    assert check_target(tmp_path / "new", overwrite=False) == tmp_path / "new" / "store.nc"
    (tmp_path / "store.nc").write_bytes(b"old")
    for target in (tmp_path, tmp_path / "store.nc"):
        with pytest.raises(GapvizError, match=r"a store already exists here.*pass --overwrite"):
            check_target(target, overwrite=False)
        assert check_target(target, overwrite=True) == tmp_path / "store.nc"
    assert (tmp_path / "store.nc").read_bytes() == b"old"  # checking writes nothing


def test_analyze_refuses_an_existing_store_before_any_work(toy_store):
    d, _ = toy_store
    model, *_ = standard_toy(sample_wavelength())
    before = (d / "store" / "store.nc").stat().st_mtime_ns
    with pytest.raises(GapvizError, match="already exists.*--overwrite"):
        analyze(None, d / "observed.h5", d / "linelist.csv", d / "store", adaptation=model, line_depths=toy_line_depths,
                progress=False)
    assert (d / "store" / "store.nc").stat().st_mtime_ns == before
