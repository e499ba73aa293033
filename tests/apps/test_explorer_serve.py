"""The explorer served from one process: 20 concurrent sessions render and stay independent."""

from __future__ import annotations

import re
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from bokeh.client import pull_session
from bokeh.models import Title
from bokeh.util.token import get_session_id


@pytest.mark.e2e
def test_twenty_concurrent_sessions_render(served):
    url, sessions = served

    def open_page(i: int) -> tuple[str, float]:
        t = time.perf_counter()
        html = urllib.request.urlopen(url, timeout=300).read().decode()  # creates the session server-side
        return html, time.perf_counter() - t

    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=20) as pool:  # 20 visitors at once
        pages = list(pool.map(open_page, range(20)))
    wall = time.perf_counter() - t0
    assert len(sessions) == 20 and len({id(s.state) for s in sessions}) == 20
    for html, _ in pages:
        assert "<title>gapviz explorer</title>" in html
        assert not re.search(r"https?://(?!localhost|www\.w3\.org)", html), "page refers to an outside resource"
        # connect to that page's session as its JS would and check the document holds the views
        sid = get_session_id(re.search(r'"token":"([^"]+)"', html).group(1))
        session = pull_session(session_id=sid, url=url)
        try:
            titles = {m.text for r in session.document.roots for m in r.select({"type": Title}) if m.text}
        finally:
            session.close()
        assert any(t.startswith("Kiel diagram") for t in titles) and any(t.startswith("star ") for t in titles), titles
    assert len(sessions) == 20  # the same 20 sessions answered (none was rebuilt)
    # sessions are independent: moving one leaves the others where they were
    first, other = sessions[0], sessions[1]
    before = (other.state.x_start, other.state.x_end)
    doc = first.browser.spectrum.document  # change a live session on its own event loop, as a click would
    doc.add_next_tick_callback(lambda: first.state.select_candidate(1))  # each opens on the top one (row 0)
    end = time.time() + 30
    # the click sets the candidate, then centres the views on it: wait for both (the session's own thread)
    while (first.state.candidate != 1 or (first.state.x_start, first.state.x_end) == before) and time.time() < end:
        time.sleep(0.1)
    assert first.state.candidate == 1 and (first.state.x_start, first.state.x_end) != before
    assert (other.state.x_start, other.state.x_end) == before and other.state.candidate == 0
    assert first.state.x_range is not other.state.x_range
    print(f"20 sessions opened concurrently in {wall:.1f} s (slowest page {max(p[1] for p in pages):.1f} s)")
