"""gapviz.store.open: a store opens lazily, chunked as written, and its candidate table reads back; what is
not a store is refused with a clear error."""

from __future__ import annotations

import numpy as np
import pytest

from gapviz.errors import GapvizError
from gapviz.store import STAR_VARIABLES, open_store, store_candidates
from gapviz.testing.spectra import write_raw_h5


def test_open_store_is_lazy_and_candidates_table(toy_store):
    d, result = toy_store
    ds = open_store(d / "store")
    assert ds["correction"].chunks is not None  # dask-backed
    assert ds["correction"].chunks[0][0] == 64  # chunked along star as written
    table = store_candidates(ds)
    for col in ("wavelength", "depth", "equivalent_width", "significance", "in_linelist", "nearest_species",
                "nearest_wavelength", "attributed_label", "attribution_confidence", "score", "identification"):
        assert col in table, col
    assert table["in_linelist"].dtype == bool
    np.testing.assert_allclose(table["wavelength"], result.candidates["wavelength"])


def test_open_store_missing_is_clear(tmp_path):
    with pytest.raises(GapvizError, match="no store here"):
        open_store(tmp_path)


def test_open_store_names_what_is_missing(tmp_path, toy_store):
    with pytest.raises(GapvizError, match=r"variable\(s\) \['no_such_variable'\] missing"):
        open_store(toy_store[0] / "store", require=("no_such_variable",))
    assert set(STAR_VARIABLES) <= set(open_store(toy_store[0] / "store", require=STAR_VARIABLES).variables)
    other = write_raw_h5(tmp_path / "store.nc", {"x": np.arange(3.0)}, attrs={"Conventions": "CF-1.8"})
    with pytest.raises(GapvizError, match="not a gapviz store \\(no 'wavelength' dimension\\)"):
        open_store(other)
