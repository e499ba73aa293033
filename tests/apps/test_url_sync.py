"""apps.url_sync: the address bar mirrors the session, and a link reopens the same view (no browser)."""

from __future__ import annotations

import pytest
from panel.io.location import Location

from apps.session import ExplorerState
from apps.url_sync import sync_url


@pytest.fixture()
def state(tiny_store, data_of) -> ExplorerState:
    return ExplorerState(data_of(tiny_store))


def test_outside_a_server_session_nothing_is_synced(state):
    assert sync_url(state) is None


def test_the_state_is_written_to_the_address_bar(state):
    loc = sync_url(state, Location())
    q = loc.query_params
    assert q["store"] == state.data.key and q["x0"] == state.x_start and q["color"] == "chi2nu_theory"
    state.stars = [1, 2, 3, 8]
    state.select_candidate(2)
    q = loc.query_params
    assert q["stars"] == "1-3,8" and q["cand"] == 3 and q["x1"]  # the 1-based rank == state.x_end


def test_a_link_reopens_the_view(state):
    key = state.data.key
    sync_url(state, Location(search=f"?x0=15210.5&x1=15216.5&stars=0-2,7&cand=3&color=fe_h&cube=correction"
                                    f"&sort=logg&store={key}"))
    assert (state.x_start, state.x_end) == (15210.5, 15216.5)
    assert (state.x_range.start, state.x_range.end) == (15210.5, 15216.5)
    assert state.stars == [0, 1, 2, 7] and state.candidate == 2 and state.rank == 3  # cand= is the rank
    assert (state.color_by, state.cube, state.sort_by) == ("fe_h", "correction", "logg")


def test_a_link_from_another_store_keeps_only_range_and_views(state):
    loc = Location(search="?x0=15210.5&x1=15216.5&stars=0-2&cand=3&cube=correction&store=g0badc0de")
    sync_url(state, loc)
    assert (state.x_start, state.x_end) == (15210.5, 15216.5) and state.cube == "correction"
    assert state.stars == [] and state.candidate == -1 and state.store_key == state.data.key
    q = loc.query_params  # the address bar now names this store, with no stars nor candidate
    assert q["store"] == state.data.key and q.get("stars", "") == "" and q["cand"] == -1


def test_a_link_without_a_fingerprint_gets_one(state):
    loc = Location(search="?x0=15210.5&x1=15216.5")
    sync_url(state, loc)
    assert loc.query_params["store"] == state.data.key


def test_a_bad_value_leaves_the_state_as_it_was(state):
    before = state.param.values()
    sync_url(state, Location(search=f"?color=/etc/passwd&store={state.data.key}"))
    assert state.color_by == before["color_by"] == "chi2nu_theory"


def test_cand_is_the_rank_and_an_old_zero_based_link_still_opens(state):
    loc = sync_url(state, Location(search=f"?cand=1&store={state.data.key}"))
    assert state.candidate == 0 and loc.query_params["cand"] == 1
    other = ExplorerState(state.data)  # cand=0: only a link from when cand= was the row; it named the top one
    loc = sync_url(other, Location(search=f"?cand=0&store={state.data.key}"))
    assert other.candidate == 0 and loc.query_params["cand"] == 1
    third = ExplorerState(state.data)  # a rank the store lacks: nothing picked, and the address bar says so
    loc = sync_url(third, Location(search=f"?cand=99&store={state.data.key}"))
    assert third.candidate == -1 and loc.query_params["cand"] == -1
    third.candidate = 4
    assert loc.query_params["cand"] == 5


def test_a_link_with_one_star_reopens_it_and_its_range(state):
    """``stars=3`` reaches the state as the number 3 (Panel's query parser): the star and the range are kept."""
    key = state.data.key
    sync_url(state, Location(search=f"?x0=15210.5&x1=15216.5&stars=3&store={key}"))
    assert state.stars == [3] and (state.x_start, state.x_end) == (15210.5, 15216.5)
