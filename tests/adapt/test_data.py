"""gapviz.adapt.data: streamed batches (same order cached or streamed, exact replay from a position), shards,
splits, and the usable-pixel rules."""

import dataclasses

import numpy as np

from gapviz.adapt.config import DataConfig
from gapviz.adapt.data import RowStream, prepare_arrays, shard, split_rows
from gapviz.io.spectra import read_spectra


def _stream(path, rows, cache_mb, **kw):
    cfg = dataclasses.replace(DataConfig(), cache_mb=cache_mb, block_rows=7, buffer_blocks=3)
    return RowStream(path, rows, 10, seed=3, stream_id=0, label_names=["teff", "logg", "fe_h"], cfg=cfg, **kw)


def test_streamed_equals_cached_and_covers_each_row_once_per_epoch(tiny_sets):
    syn_path, _ = tiny_sets
    rows = np.arange(5, 85)  # 80 rows, not a multiple of the block or batch size
    cached, streamed = _stream(syn_path, rows, 1e9), _stream(syn_path, rows, 0.0)
    assert cached.cached and not streamed.cached
    teff = read_spectra(syn_path).labels["teff"]
    served = []
    for _ in range(8):  # exactly one epoch: 8 × 10 = 80 rows
        a, b = cached.next_batch(), streamed.next_batch()
        assert np.array_equal(a.flux.numpy(), b.flux.numpy())
        assert np.array_equal(a.labels.numpy(), b.labels.numpy())
        served += a.labels[:, 0].tolist()
    assert np.allclose(np.sort(served), np.sort(teff[rows].astype(np.float32)))
    assert len(streamed._buffers) <= 2  # never more than two buffers of rows in memory
    # the next epoch is a different order
    assert not np.array_equal(cached.next_batch().labels.numpy(), _stream(syn_path, rows, 1e9).next_batch().labels.numpy())


def test_position_replays_exactly(tiny_sets):
    syn_path, _ = tiny_sets
    rows = np.arange(90)
    a = _stream(syn_path, rows, 0.0)
    for _ in range(13):
        a.next_batch()
    state = a.state_dict()
    expected = [a.next_batch().flux.numpy() for _ in range(5)]
    b = _stream(syn_path, rows, 0.0)
    b.load_state_dict(state)
    for e in expected:
        assert np.array_equal(b.next_batch().flux.numpy(), e)


def test_split_and_shard_are_disjoint():
    train, val = split_rows(100, 0.1, 256, seed=0)
    assert val.size == 10 and np.intersect1d(train, val).size == 0 and train.size + val.size == 100
    assert split_rows(100, 0.1, 4, seed=0)[1].size == 4
    parts = [shard(train, r, 3) for r in range(3)]
    assert np.array_equal(np.concatenate(parts), train)


def test_prepare_arrays_marks_unusable_pixels_and_floors_sigma():
    flux = np.array([[1.0, np.nan, 0.9, 0.8, 0.7, 0.6]])
    err = np.array([[0.01, 0.01, np.inf, 0.0, 0.1, 0.001]])  # NaN flux, ∞ σ, σ = 0, σ > max, σ < floor
    out = prepare_arrays(flux, err, sigma_floor=0.005, sigma_max=0.05)
    assert out["mask"].tolist() == [[1, 0, 0, 0, 0, 1]]
    assert np.allclose(out["flux"], [[1.0, 1.0, 1.0, 1.0, 1.0, 0.6]])  # unusable → 1 (weight 0)
    assert np.allclose(out["sigma"], [[0.01, 1, 1, 1, 1, 0.005]])
    assert all(v.dtype == np.float32 for v in out.values())
    no_err = prepare_arrays(flux[:, [0, 2]], None, 0.005, 0.05)
    assert np.allclose(no_err["sigma"], 0.005) and no_err["mask"].all()
