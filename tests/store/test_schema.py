"""gapviz.store.schema: the store's cubes and the CF int16 packing they are written with."""

from __future__ import annotations

import numpy as np

from gapviz.store.schema import CUBES, INT16_FILL, STEP, Packing, pack, packable


def test_the_cubes_are_the_documented_nine():
    assert set(CUBES) == {"flux_obs", "flux_err", "flux_theory", "flux_synthetic_counterpart", "flux_adapted",
                          "residual_theory", "residual_adapted", "correction", "pixel_mask"}
    assert all(spec.dims == ("star", "wavelength") for spec in CUBES.values())


def test_pack_inverts_within_half_a_step_and_fills_what_does_not_fit():
    packing = Packing(STEP, 1.0 - 200 * STEP)
    values = np.array([0.0, 0.5, 1.0, 1.2345, packing.lo, packing.hi, packing.hi + STEP, np.nan, np.inf])
    packed = pack(values, packing)
    assert packed.dtype == np.int16
    ok = packable(values, packing)
    assert ok.tolist() == [True] * 6 + [False] * 3
    assert (packed[~ok] == INT16_FILL).all() and (packed[ok] != INT16_FILL).all()
    decoded = packed[ok] * np.float32(STEP) + np.float32(packing.add_offset)  # as a CF reader unpacks
    np.testing.assert_allclose(decoded, values[ok], atol=STEP / 2 + 1e-6, rtol=0)
