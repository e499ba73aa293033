"""apps.rows: reading a few star rows of the cubes, from as few storage chunks as possible."""

from __future__ import annotations

import shutil

import h5py
import numpy as np

from apps.rows import BROWSER_VARS, MAX_MEAN_STARS, pick_for_mean, read_rows, read_shown
from apps.store_data import build_store_data


def test_rows_across_chunks_are_the_stored_rows(tiny_store, data_of, raw):
    data = data_of(tiny_store)
    stars = np.array([0, 3, 15, 16, 40, 49])  # four storage chunks of 16 stars
    rows = read_rows(data, stars)
    assert set(rows) == set(BROWSER_VARS)
    for name in BROWSER_VARS:
        assert rows[name].shape == (6, 300) and rows[name].dtype == np.float64
        np.testing.assert_allclose(rows[name], raw(name)[stars], rtol=1e-6)


def test_masked_pixels_read_as_nan(tiny_store, tmp_path):
    store = tmp_path / "masked"
    shutil.copytree(tiny_store, store)
    with h5py.File(store / "store.nc", "r+") as f:
        f["pixel_mask"][5, 10:20] = 0
    rows = read_rows(build_store_data(store), np.array([4, 5]), names=("flux_obs", "flux_theory"))
    assert np.isnan(rows["flux_obs"][1, 10:20]).all() and np.isnan(rows["flux_theory"][1, 10:20]).all()
    assert np.isfinite(rows["flux_obs"][1, :10]).all() and np.isfinite(rows["flux_obs"][0]).all()


def test_unknown_names_are_skipped(tiny_store, data_of):
    assert set(read_rows(data_of(tiny_store), np.array([1]), names=("flux_obs", "no_such_cube"))) == {"flux_obs"}


def test_large_or_scattered_selections_are_sampled_from_few_chunks():
    stars = list(range(0, 1200, 3))  # 400 stars over 5 chunks of 256
    picked = pick_for_mean(stars, 256)
    assert picked.size == MAX_MEAN_STARS and np.unique(picked // 256).size == 1  # one storage chunk read
    assert set(picked.tolist()) <= set(stars) and (np.diff(picked) > 0).all()
    scattered = [5, 300, 301, 600, 900, 1100]  # 5 chunks: the 4 fullest are read, the 2-star one first
    picked = pick_for_mean(scattered, 256)
    assert picked.size == 5 and {300, 301} <= set(picked.tolist())
    assert pick_for_mean([3, 1, 2, 2], 256).tolist() == [1, 2, 3]  # a small selection is read whole


def test_read_shown_reads_the_sample_it_names(packed_store, data_of):
    data = data_of(packed_store)
    idx, rows = read_shown(data, list(range(0, 1200, 3)))
    assert idx.size == MAX_MEAN_STARS and rows["flux_obs"].shape == (MAX_MEAN_STARS, 300)
    np.testing.assert_allclose(rows["flux_obs"], data.ds["flux_obs"].isel(star=idx).values, rtol=1e-6)
