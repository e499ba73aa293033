"""apps.corrections: learned corrections, and the label a picked feature follows: the stored one, always."""

from __future__ import annotations

import numpy as np
import pytest

from apps.corrections import (
    ATTRIBUTED_COLOR,
    FEATURE_HALF_WIDTH,
    label_spreads,
    response_shares,
)


def top_response_label(data, row: int) -> str:
    w = float(data.candidates["wavelength"].iloc[row])
    shares = response_shares(data, w - FEATURE_HALF_WIDTH, w + FEATURE_HALF_WIDTH)
    return max(shares, key=shares.get)


def highlighted(view) -> list[str]:
    d = view.shares_src.data
    return [lab for lab, c in zip(d["label"], d["color"]) if c == ATTRIBUTED_COLOR]


def test_response_shares_show_the_label_the_depth_follows(app, raw):
    # in the generated store the response difference is built from the labels the depths follow
    data = app.state.data
    wl = raw("candidate_wavelength")
    shares = response_shares(data, wl[0] - 0.5, wl[0] + 0.5)
    assert max(shares, key=shares.get) == str(raw("candidate_attributed_label")[0])
    assert sum(shares.values()) == pytest.approx(1.0)
    assert response_shares(data, 1.0, 2.0) == {}  # no pixel there
    np.testing.assert_allclose(label_spreads(data), np.nanstd(data.stars[data.response_labels], axis=0), rtol=1e-6)


def test_views_name_the_stored_attribution_not_their_own(misattributed_store, explorer_on):
    """The store's attribution is deliberately not the label the response difference points at: every view
    must name (and highlight) the stored one."""
    app = explorer_on(misattributed_store)
    data = app.state.data
    cands = data.candidates
    for row in range(len(cands)):
        stored = cands["attributed_label"].iloc[row]
        assert top_response_label(data, row) != stored  # the old rule would have named another label
        app.state.select_candidate(row)
        assert f"follows **{stored}**" in app.corrections.attr_text.object
        assert f"follows **{top_response_label(data, row)}**" not in app.corrections.attr_text.object
        assert highlighted(app.corrections) == [stored]
        assert f"follows **{stored}**" in app.candidates.detail.object
        assert app.browser.cand_src.data["label"][row] == stored  # the marker's hover
        species = cands["attributed_species"].iloc[row]
        assert f"like a {species} line" in app.corrections.attr_text.object


def test_tour_sorts_the_map_by_the_stored_label(misattributed_store, explorer_on):
    app = explorer_on(misattributed_store)
    app.tour.go(2)  # jumps to the top candidate
    app.tour.go(5)  # the residual map, rows sorted by the label the feature follows
    assert app.state.sort_by == app.state.data.candidates["attributed_label"].iloc[app.state.candidate]


def test_without_a_candidate_in_view_no_label_is_named(app, raw):
    app.state.candidate = -1  # the session opens on the top candidate; here nothing is picked
    assert highlighted(app.corrections) == []
    assert "follows" not in app.corrections.attr_text.object
    assert "visible range" in app.corrections.attr_text.object
    app.state.select_candidate(1)
    assert highlighted(app.corrections) == [str(raw("candidate_attributed_label")[1])]
    app.state.set_range(app.state.x_end + 1, app.state.x_end + 5)  # the candidate scrolled out of view
    assert highlighted(app.corrections) == [] and "follows" not in app.corrections.attr_text.object


def test_bars_share_the_response_difference(app):
    app.state.select_candidate(0)
    d = app.corrections.shares_src.data
    assert d["label"] == app.state.data.response_labels and sum(d["share"]) == pytest.approx(1.0)
    assert app.corrections.shares_fig.title.text == "response difference at candidate 1"  # rank 1


def test_mean_correction_and_bins(app, raw):
    c = app.corrections
    data = app.state.data
    assert c.param["binned_by"].objects == ["teff", "logg", "fe_h"] and c.binned_by == "teff"
    assert len(c.bins_src.data["xs"]) == 5 and c.bins_src.data["name"][0].startswith("teff ")
    c.binned_by = "fe_h"
    bins, rows = data.by_label["fe_h"]
    assert c.bins_src.data["name"] == [f"fe_h {b:.4g}" for b in bins]
    ys = np.asarray(c.bins_src.data["ys"][2])
    np.testing.assert_allclose(ys[np.isfinite(ys)], rows[2], rtol=1e-6)
    assert np.isnan(ys).sum() == 1  # one gap, no line across it
