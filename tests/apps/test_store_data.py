"""apps.store_data: which store the explorer shows and the part of it kept in memory."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from apps.store_data import MAP_CUBES, build_store_data, load_store
from gapviz.errors import GapvizError
from gapviz.io.grids import segments


def test_in_memory_part_matches_the_file(tiny_store, data_of, raw):
    data = data_of(tiny_store)
    assert data.path == (tiny_store / "store.nc").resolve()
    assert data.n_star == 50 and data.wavelength.size == 300 and data.chunk_stars == 16
    np.testing.assert_array_equal(data.wavelength, raw("wavelength"))
    assert data.label_names == ["teff", "logg", "fe_h", "mg_fe"]
    assert list(data.stars["star_id"]) == list(raw("star_id"))
    np.testing.assert_allclose(data.stars["fe_h"], raw("fe_h"), rtol=1e-6)
    np.testing.assert_allclose(data.stars["teff_err"], raw("teff_err"), rtol=1e-6)
    # candidates in the store's rank order, without the candidate_ prefix, strings as str
    np.testing.assert_allclose(data.candidates["wavelength"], raw("candidate_wavelength"))
    assert list(data.candidates["attributed_label"]) == [str(v) for v in raw("candidate_attributed_label")]
    assert len(data.lines) == 80 and set(data.lines.columns) == {"wavelength", "species", "loggf", "elow_ev"}
    np.testing.assert_allclose(data.profiles["correction_mean"], raw("correction_mean"), rtol=1e-6)
    bins, rows = data.by_label["teff"]
    assert bins.shape == (5,) and rows.shape == (5, 300)
    assert data.response["response_difference"].shape == (4, 300) and data.response_labels == data.label_names
    assert data.sort_keys == ["teff", "logg", "fe_h", "mg_fe", "chi2nu_theory", "snr"]
    assert all(c in data.ds.variables for c in MAP_CUBES)


def test_chip_gaps_follow_the_library_rule(tiny_store, data_of):
    data = data_of(tiny_store)
    assert data.segments == segments(data.wavelength) == [slice(0, 150), slice(150, 300)]
    assert data.pixel(float(data.wavelength[151]) + 1e-4) == 151


def test_link_fingerprint_names_this_store(tiny_store, packed_store, data_of):
    key = data_of(tiny_store).key
    assert key.startswith("g") and len(key) == 9 and int(key[1:], 16) >= 0
    assert build_store_data(tiny_store).key == key  # the same file gives the same fingerprint
    assert data_of(packed_store).key != key


def test_loaded_once_per_process(tiny_store):
    path = str((tiny_store / "store.nc").resolve())
    assert load_store(path) is load_store(path)


def test_packed_store_is_decoded(packed_store, data_of):
    data = data_of(packed_store)
    assert data.n_star == 1200 and data.chunk_stars == 256
    with xr.open_dataset(packed_store / "store.nc", engine="h5netcdf") as ds:
        assert ds["flux_obs"].encoding["dtype"] == np.int16
        first = np.asarray(ds["flux_obs"].isel(star=0).values)
    np.testing.assert_allclose(data.ds["flux_obs"].isel(star=0).values, first)
    assert 0.5 < np.nanmedian(first) < 1.1  # normalised flux, not int16 counts


def test_candidates_csv_stands_in_for_an_empty_table(tmp_path):
    from gapviz.testing import stores as make_store

    store = make_store.write_store(tmp_path / "s", n_star=10, wavelength=make_store.sample_wavelength()[:60],
                                   n_line=5, n_candidate=0, chunk=5)
    pd.DataFrame({"wavelength": [15201.5], "attributed_label": ["teff"]}).to_csv(store / "candidates.csv",
                                                                              index=False)
    data = build_store_data(store)
    assert list(data.candidates["wavelength"]) == [15201.5] and data.candidates["attributed_label"][0] == "teff"


def test_a_store_without_star_spectra_is_refused_naming_the_file(tmp_path):
    f = tmp_path / "partial.nc"
    xr.Dataset({"flux_obs": (("star", "wavelength"), np.ones((2, 3)))},
               coords={"wavelength": np.arange(3.0)}).to_netcdf(f, engine="h5netcdf")
    with pytest.raises(GapvizError) as err:
        build_store_data(f)
    assert str(f) in str(err.value) and "flux_theory" in str(err.value) and "missing" in str(err.value)


def test_directory_means_its_store_file(tmp_path):
    with pytest.raises(GapvizError) as err:
        build_store_data(tmp_path)
    assert str(tmp_path / "store.nc") in str(err.value) and "no store here" in str(err.value)
