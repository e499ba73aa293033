"""apps.session: the per-session ExplorerState every view reads and writes."""

from __future__ import annotations

import numpy as np
import pytest
from bokeh.events import RangesUpdate
from bokeh.plotting import figure

from apps.session import ExplorerState


@pytest.fixture()
def state(tiny_store, data_of) -> ExplorerState:
    return ExplorerState(data_of(tiny_store))


def test_starts_on_the_first_window(state):
    wl, seg = state.data.wavelength, state.data.segments[0]
    assert state.x_range.start == pytest.approx(wl[seg.start] - 0.5)
    assert state.x_range.end == pytest.approx(wl[seg.stop - 1] + 0.5)
    assert state.x_range.bounds == pytest.approx((wl[0] - 5, wl[-1] + 5))
    assert (state.x_start, state.x_end) == (round(state.x_range.start, 2), round(state.x_range.end, 2))
    assert state.stars == [] and state.candidate == -1 and state.store_key == state.data.key
    assert state.param["color_by"].objects == ["chi2nu_theory", "chi2nu_adapted", "correction at candidate",
                                               "teff", "logg", "fe_h", "mg_fe", "snr"]
    assert state.param["sort_by"].objects == state.data.sort_keys and state.sort_by == "teff"


def test_parameters_given_at_start_win(tiny_store, data_of):
    st = ExplorerState(data_of(tiny_store), color_by="fe_h", x_start=15210.0, x_end=15220.0)
    assert st.color_by == "fe_h" and (st.x_range.start, st.x_range.end) == (15210.0, 15220.0)


def test_range_moves_the_shared_x_range(state):
    state.set_range(15210.123, 15215.456)
    assert (state.x_start, state.x_end) == (15210.12, 15215.46)  # 0.01 Å, as the URL keeps it
    assert (state.x_range.start, state.x_range.end) == (15210.12, 15215.46)
    state.set_range(15220.0, 15219.0)  # an empty range is ignored
    assert (state.x_start, state.x_end) == (15210.12, 15215.46)
    state.centre_on(15300.0, 2.0)
    assert (state.x_start, state.x_end) == (15298.0, 15302.0)


def test_a_zoom_in_a_followed_figure_moves_the_state(state):
    fig = figure(x_range=state.x_range)
    state.follow_zoom(fig)
    fig._trigger_event(RangesUpdate(fig, x0=15230.0, x1=15234.5, y0=0, y1=1))
    assert (state.x_start, state.x_end) == (15230.0, 15234.5)


def test_candidate_selection_centres_and_is_checked(state, raw):
    w = raw("candidate_wavelength")
    state.select_candidate(4)
    assert state.candidate == 4 and (state.x_start, state.x_end) == pytest.approx((w[4] - 3, w[4] + 3), abs=0.01)
    assert state.candidate_in_view() == 4
    state.set_range(w[4] + 5, w[4] + 9)
    assert state.candidate == 4 and state.candidate_in_view() == -1
    before = (state.x_start, state.x_end)
    state.select_candidate(99)  # no such row: nothing moves
    assert state.candidate == 4 and (state.x_start, state.x_end) == before


def test_stars_and_their_compact_form_follow_each_other(state):
    state.stars = [7, 1, 2, 3]
    assert state.stars_url == "1-3,7"
    state.stars_url = "1-3,999"  # positions outside the store are dropped
    assert state.stars == [1, 2, 3]


def deepest_good_snr_star(state, raw) -> int:
    """By hand: the good-S/N (>= median) star with the most negative correction at the top candidate."""
    corr = raw("correction")[:, state.data.pixel(float(raw("candidate_wavelength")[0]))].astype(float)
    snr = raw("snr")
    corr[snr < np.median(snr)] = np.inf
    return int(np.argmin(corr))


def test_shown_stars_default_to_the_deepest_good_snr_star(state, raw):
    assert raw("candidate_depth")[0] > 0  # an absorption: deepest is the most negative correction
    assert state.shown_stars() == [deepest_good_snr_star(state, raw)]
    state.stars = [4, 9]
    assert state.shown_stars() == [4, 9]


def test_choices_are_validated(state):
    with pytest.raises(ValueError):
        state.color_by = "/etc/passwd"
    with pytest.raises(ValueError):
        state.cube = "flux_obs"
