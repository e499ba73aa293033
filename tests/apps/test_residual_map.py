"""apps.residual_map: the stars × wavelength image, rows sorted by a label, from a once-per-process digest."""

from __future__ import annotations

import numpy as np
import pytest

from apps.residual_map import build_digest, cube_digest, raster, robust_limit


def test_rows_follow_the_sorting_label(app, raw):
    data = app.state.data
    order = np.argsort(raw("fe_h"), kind="stable")
    digest = build_digest(data, "residual_theory")
    np.testing.assert_allclose(digest.rows["fe_h"], raw("residual_theory")[order], rtol=1e-6)
    np.testing.assert_allclose(digest.row_values["fe_h"], raw("fe_h")[order], rtol=1e-6)
    agg = build_digest(data, "residual_theory", max_rows=10, block=16)
    cube = raw("residual_theory")[order]
    np.testing.assert_allclose(agg.rows["fe_h"][0], cube[:5].mean(0), rtol=1e-5, atol=1e-7)
    assert agg.stars_per_row == 5


def test_digest_keeps_every_star_at_every_candidate(app, raw):
    digest = build_digest(app.state.data, "correction")
    wl = raw("wavelength")
    pix = [int(np.argmin(np.abs(wl - w))) for w in raw("candidate_wavelength")]
    np.testing.assert_allclose(digest.columns, raw("correction")[:, pix], rtol=1e-6)


def test_packed_store_aggregates_rows(packed_store, data_of):
    digest = build_digest(data_of(packed_store), "correction")
    assert digest.rows["teff"].shape == (1000, 300)
    assert digest.stars_per_row == pytest.approx(1.2)
    assert np.isfinite(digest.rows["teff"]).all()


def test_raster_leaves_the_gap_empty(app):
    data = app.state.data
    digest = cube_digest(str(data.path), "correction")
    left, right = data.wavelength[149], data.wavelength[150]
    img = raster(data, digest, "teff", left - 10, right + 10, size=(400, 50))
    assert img.shape == (50, 400)  # never more rows than the digest holds
    cols = np.linspace(left - 10, right + 10, 400)
    gap = (cols > left + 1) & (cols < right - 1)
    assert np.isnan(img[:, gap]).all()
    assert np.isfinite(img[:, cols < left - 1]).all()


def test_map_follows_range_sorting_and_quantity(app):
    rm = app.residual_map
    app.state.set_range(15205.0, 15215.0)
    assert rm.source.data["x"][0] == 15205.0 and rm.source.data["dw"][0] == pytest.approx(10.0)
    app.state.sort_by = "logg"
    assert rm.figure.yaxis.axis_label == "stars sorted by logg"
    app.state.cube = "correction"
    assert rm.figure.title.text.startswith("correction — 50 stars")
    lim = robust_limit(cube_digest(str(app.state.data.path), "correction"))
    assert (rm.mapper.low, rm.mapper.high) == (-lim, lim) and lim > 0
