"""gapviz.store.aggregate: the streamed aggregates equal the same statistics computed from the whole cube."""

from __future__ import annotations

import numpy as np

from gapviz.store import open_store
from gapviz.store.schema import STEP


def test_cube_mean_matches_streamed_aggregate(toy_store):
    ds = open_store(toy_store[0] / "store")
    mask = ds["pixel_mask"].values == 1
    direct = np.where(mask, ds["correction"].values, 0).sum(0) / mask.sum(0)
    np.testing.assert_allclose(ds["correction_mean"].values, direct, atol=STEP / 2)  # packing error only
