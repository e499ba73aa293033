"""The address bar mirrors a session's ``ExplorerState``, so a link reopens the same view.

``?x0=&x1=`` (Å), ``stars=`` (store positions as ranges, ``apps.links``), ``cand=`` (the selected candidate's
1-based rank, as the table shows it; ``apps.session.row_of_rank`` says how a link made when it was the 0-based
row opens), ``color=``, ``cube=``, ``sort=`` and ``store=``, the fingerprint of the store the stars and candidate
refer to. A link made on another store (or a rerun of this one) keeps its wavelength range and views but not its
star positions and candidate row, which would name other stars.
"""

from __future__ import annotations

import panel as pn
from panel.io.location import Location

from apps.session import ExplorerState

#: state parameter -> query parameter
QUERY = {"x_start": "x0", "x_end": "x1", "stars_url": "stars", "rank": "cand", "color_by": "color",
         "cube": "cube", "sort_by": "sort", "store_key": "store"}


def forget_foreign_link(state: ExplorerState) -> None:
    """Drop the stars and candidate of a link made on another store (``store_key`` not this store's key)."""
    if state.store_key != state.data.key:
        state.param.update(stars=[], candidate=-1, store_key=state.data.key)


def stamp_url(state: ExplorerState, location: Location) -> None:
    """Put this store's fingerprint in the address bar (with the state it refers to) when it is not there."""
    if str(location.query_params.get("store")) != state.store_key:
        location.update_query(store=state.store_key, stars=state.stars_url, cand=state.rank)


def sync_url(state: ExplorerState, location: Location | None = None) -> Location | None:
    """Mirror the URL-safe parameters of ``state`` in ``location`` (the session's address bar by default).

    Returns the location synced, or None outside a server session (nothing to sync). A query value the state
    rejects (an unknown colouring, say) leaves the state as it was.
    """
    location = pn.state.location if location is None else location
    if location is None:
        return None
    state.param.watch(lambda event: forget_foreign_link(state), "store_key")
    location.sync(state, QUERY, on_error=lambda bad: None)
    location.param.watch(lambda event: stamp_url(state, location), "search")
    stamp_url(state, location)
    return location
