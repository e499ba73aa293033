"""The explorer in real headless Chromium (Debian's /usr/bin/chromium, no network)."""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import numpy as np
import pandas as pd
import pytest

from .browser import ARGS, CHROMIUM, MARKS, wait_for

pytestmark = MARKS


def query(page) -> dict[str, list[str]]:
    """The address bar's query (Playwright's page.url misses history.replaceState updates)."""
    return parse_qs(urlparse(page.evaluate("() => window.location.href")).query)


def test_pick_candidate_export_and_reopen(served, tiny_store, tmp_path):
    from playwright.sync_api import sync_playwright

    url, sessions = served
    cand = pd.read_csv(tiny_store / "candidates.csv")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1500, "height": 1400}, accept_downloads=True)
        errors, outside = [], []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(
            ("http://localhost", "ws://localhost", "data:", "blob:")) else None)
        page.goto(url)
        page.wait_for_selector(".tabulator-row", timeout=120_000)
        assert wait_for(lambda: len(sessions) == 1)
        state = sessions[0].state
        start = (state.x_start, state.x_end)

        # a new visitor sees the top candidate in the showcase star, and its dip: at the candidate the observed
        # flux the page draws lies below the theory by more than its error
        from apps.session import showcase_star

        top = cand.iloc[0]  # the CSV is in rank order
        assert state.shown_stars() == [showcase_star(state.data)]
        assert state.x_start < top["wavelength"] < state.x_end
        drawn = sessions[0].browser.flux_src.data
        near = np.abs(np.asarray(drawn["x"], float) - top["wavelength"]) < 0.3
        dip = np.asarray(drawn["obs"], float)[near] - np.asarray(drawn["theory"], float)[near]
        half_band = (np.asarray(drawn["band_hi"], float) - np.asarray(drawn["band_lo"], float))[near] / 2
        assert np.nanmin(dip + half_band) < 0

        # a mouse-wheel zoom on the spectrum reaches the server once it settles (map, markers, URL follow)
        box = page.locator("canvas").first.bounding_box()  # the spectrum plot comes first on the page
        page.mouse.move(box["x"] + box["width"] * 0.55, box["y"] + box["height"] * 0.6)
        page.mouse.wheel(0, -500)
        assert wait_for(lambda: state.x_end - state.x_start < 0.9 * (start[1] - start[0]), 30)
        assert wait_for(lambda: abs(sessions[0].residual_map.source.data["x"][0] - state.x_start) < 1e-6, 30)
        assert wait_for(lambda: abs(float(query(page).get("x0", ["nan"])[0]) - state.x_start) < 0.01, 30)
        start = (state.x_start, state.x_end)

        # the page opened on the top-ranked candidate; pick the second, then the top one again: the table shows
        # the store's rank order, so it is the first row
        assert state.candidate == 0
        page.locator(".tabulator-row").nth(1).click()
        assert wait_for(lambda: state.candidate == 1), state.candidate
        assert wait_for(lambda: query(page).get("cand") == ["2"])
        row = 0
        page.locator(".tabulator-row").first.click()
        assert wait_for(lambda: state.candidate == row), state.candidate
        w = float(cand["wavelength"][row])
        assert wait_for(lambda: abs(state.x_start - (w - 3)) < 0.01)
        assert (state.x_start, state.x_end) != start
        assert state.x_start == pytest.approx(w - 3, abs=0.01) and state.x_end == pytest.approx(w + 3, abs=0.01)
        # the browser's own plot range followed (read back from Bokeh in the page)
        js = """() => { const out = [];
            for (const doc of Bokeh.documents) for (const m of doc.all_models)
                if (m.type === 'Range1d' && m.bounds != null) out.push([m.start, m.end]);
            return out; }"""
        assert wait_for(lambda: any(abs(r[0] - (w - 3)) < 0.01 for r in page.evaluate(js)), 30), page.evaluate(js)
        # the address bar carries the view
        assert wait_for(lambda: query(page).get("cand") == [str(row + 1)])  # its 1-based rank, as the table shows
        assert float(query(page)["x0"][0]) == pytest.approx(w - 3, abs=0.01)

        with page.expect_download() as dl:
            page.get_by_text("Candidates (CSV)").click()
        saved = tmp_path / "candidates.csv"
        dl.value.save_as(saved)
        np.testing.assert_allclose(pd.read_csv(saved)["wavelength"], cand["wavelength"])
        with page.expect_download(timeout=120_000) as dl:
            page.get_by_text("Current view (PNG)").click()
        png = tmp_path / "view.png"
        dl.value.save_as(png)
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

        shot = tmp_path / "explorer.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 50_000

        # a shared link reopens the same view in a new session
        link = page.evaluate("() => window.location.href")
        other = browser.new_page(viewport={"width": 1500, "height": 1400})
        other.goto(link)
        other.wait_for_selector(".tabulator-row", timeout=120_000)
        assert wait_for(lambda: len(sessions) == 2)
        again = sessions[1].state
        assert wait_for(lambda: again.candidate == row)
        assert again.x_start == pytest.approx(state.x_start) and again.x_end == pytest.approx(state.x_end)
        assert query(other)["store"] == [state.data.key]

        # a link made on another store keeps the wavelength range but not its star positions or candidate
        foreign = link.replace(f"store={state.data.key}", "store=g0badc0de")
        assert foreign != link
        third = browser.new_page(viewport={"width": 1500, "height": 1400})
        third.goto(foreign.replace("stars=", "stars=0-2,") if "stars=" in foreign else foreign + "&stars=0-2")
        third.wait_for_selector(".tabulator-row", timeout=120_000)
        assert wait_for(lambda: len(sessions) == 3)
        moved = sessions[2].state
        assert wait_for(lambda: moved.x_start == pytest.approx(state.x_start))
        assert moved.stars == [] and moved.candidate == -1
        assert wait_for(lambda: query(third).get("store") == [state.data.key])
        time.sleep(1.0)
        assert moved.stars == [] and moved.candidate == -1  # and they stay so once the address bar is rewritten
        assert query(third).get("stars", [""]) == [""]

        # ?cand=3 opens the candidate of rank 3 (row 2)
        fourth = browser.new_page(viewport={"width": 1500, "height": 1400})
        fourth.goto(f"{url}?cand=3")
        fourth.wait_for_selector(".tabulator-row", timeout=120_000)
        assert wait_for(lambda: len(sessions) == 4)
        assert wait_for(lambda: sessions[3].state.candidate == 2)
        assert wait_for(lambda: fourth.locator(".tabulator-row.tabulator-selected").count() == 1, 30)
        assert f"{cand['wavelength'][2]:.3f}" in fourth.locator(".tabulator-row.tabulator-selected").first.inner_text()
        browser.close()
    assert not errors, errors
    assert not outside, outside
    print("screenshot:", shot)


def test_flux_axis_follows_a_zoom_in_the_page(served, tiny_store):
    """Opened on a 1 Å window around a candidate, the page's flux axis spans the data there (a 3 % feature fills
    the plot), and zooming out in the page widens it again."""
    from playwright.sync_api import sync_playwright

    url, sessions = served
    w = float(pd.read_csv(tiny_store / "candidates.csv")["wavelength"][0])
    js = """() => { for (const doc of Bokeh.documents) for (const m of doc.all_models)
                if (m.name === 'flux_y') return [m.start, m.end]; return null; }"""
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1500, "height": 1400})
        page.goto(f"{url}?x0={w - 0.5:.2f}&x1={w + 0.5:.2f}")
        page.wait_for_selector(".tabulator-row", timeout=120_000)
        assert wait_for(lambda: len(sessions) == 1)
        b, st = sessions[0].browser, sessions[0].state
        assert wait_for(lambda: st.x_end - st.x_start == pytest.approx(1.0, abs=0.02), 30)
        x = st.data.wavelength
        sel = (x >= st.x_start) & (x <= st.x_end)
        lo = float(np.nanmin([b._ys[k][sel] for k in ("band_lo", *b.visible)]))
        hi = float(np.nanmax([b._ys[k][sel] for k in ("band_hi", *b.visible)]))
        assert wait_for(lambda: page.evaluate(js) is not None and abs(page.evaluate(js)[0] - b.spectrum.y_range.start)
                        < 1e-9, 30), (page.evaluate(js), b.spectrum.y_range.start)
        y0, y1 = page.evaluate(js)
        assert y0 <= lo and y1 >= hi and y1 - y0 <= 1.25 * max(hi - lo, 1e-3), (y0, y1, lo, hi)
        # a mouse-wheel zoom out in the page: the axis follows once the server has the new range
        box = page.locator("canvas").first.bounding_box()
        page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.6)
        page.mouse.wheel(0, 800)
        assert wait_for(lambda: st.x_end - st.x_start > 1.5, 30)
        assert wait_for(lambda: page.evaluate(js)[1] - page.evaluate(js)[0] > y1 - y0, 30)
        browser.close()


def test_repair_before_after_masked_gap_and_molecular_markers_in_the_page(serve_app, tmp_path):
    """A store with a masked pixel and a repair in STORE_DIR/repair/ (found by itself): in Chromium the changes
    tab is there, "repaired list" redraws the page's theory curve near the added line only, the observed curve has
    a gap (NaN) at the masked pixel, and a molecule chosen in the species filter is marked, all without errors."""
    import h5netcdf
    from playwright.sync_api import sync_playwright

    from gapviz.testing import stores as make_store

    from .conftest import MASKED_PIXEL, store_data, tiny_wavelength
    from .test_repair import ADDED_PIXEL, write_repair_dir

    store = make_store.write_store(tmp_path / "store", n_star=50, wavelength=tiny_wavelength(), n_line=80,
                                   n_candidate=6, chunk=16)
    with h5netcdf.File(store / "store.nc", "a") as f:
        f.variables["pixel_mask"][MASKED_PIXEL] = 0
    wl = tiny_wavelength()
    where = write_repair_dir(store / "repair", wl)
    url, sessions = serve_app(store)
    theory_js = """() => { for (const doc of Bokeh.documents) for (const m of doc.all_models)
        if (m.type === 'ColumnDataSource' && m.data.theory !== undefined && m.data.res_theory !== undefined)
            return [Array.from(m.data.x), Array.from(m.data.theory), Array.from(m.data.obs)]; return null; }"""
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1500, "height": 1400})
        errors = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        key = store_data(store).key  # a link made on this store keeps its stars
        page.goto(f"{url}?stars={MASKED_PIXEL[0]}&x0={wl[0]:.2f}&x1={wl[149]:.2f}&store={key}")
        page.wait_for_selector(".tabulator-row", timeout=120_000)
        assert wait_for(lambda: len(sessions) == 1)
        e = sessions[0]
        assert wait_for(lambda: e.state.stars == [MASKED_PIXEL[0]], 30), (e.state.stars, page.url)
        assert page.get_by_text("changes of the repair (2)").count() == 1
        assert wait_for(lambda: page.evaluate(theory_js) is not None, 30)
        x, before, obs = (np.array(v, dtype=float) for v in page.evaluate(theory_js))
        i = int(np.flatnonzero(x == wl[MASKED_PIXEL[1]])[0])
        assert np.isnan(obs[i]) and np.isfinite(obs[i - 1]) and np.isfinite(obs[i + 1])  # a gap, not a bridge
        page.get_by_text("repaired list", exact=True).first.click()
        assert wait_for(lambda: e.browser.theory_list == "repaired list", 30)
        assert wait_for(lambda: not np.allclose(np.array(page.evaluate(theory_js)[1], dtype=float), before,
                                                equal_nan=True), 30)
        after = np.array(page.evaluate(theory_js)[1], dtype=float)
        near = np.abs(x - where["added"]) < 0.4
        far = (np.abs(x - where["added"]) > 3) & (np.abs(x - where["recalibrated"]) > 3)
        assert np.nanmin(after[near] / before[near]) < 0.98 and np.allclose(after[far], before[far], equal_nan=True)
        assert x[np.nanargmin(after / before)] == pytest.approx(wl[ADDED_PIXEL], abs=0.5)
        # the species filter: a molecule of the line list, marked in the page
        mol = next(s for s in ("CO", "CN", "OH") if s in set(e.state.data.lines["species"]))
        doc = e.browser.spectrum.document
        doc.add_next_tick_callback(lambda: setattr(e.browser, "min_depth", 0.0))
        doc.add_next_tick_callback(lambda: setattr(e.browser, "species", [mol]))
        assert wait_for(lambda: set(e.browser.line_src.data["species"]) == {mol}, 30)
        browser.close()
    assert not errors, errors


def test_missing_store_message_in_page(serve_app, tmp_path):
    from playwright.sync_api import sync_playwright

    url, _ = serve_app(tmp_path / "nothing")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page()
        page.goto(url)
        page.wait_for_selector("text=could not open its store", timeout=60_000)
        assert page.locator("text=no store here").count() >= 1  # the reason, in the page (naming the file)
        assert page.get_by_text(str(tmp_path / "nothing" / "store.nc")).count() >= 1
        assert page.locator("text=Traceback").count() == 0
        browser.close()


#: 3 × the targets of benchmarks/bench_explorer_browser.py (300 ms to the last server message, first plot 3 s):
#: generous on a busy CI machine, but the causes measured before (a busy spinner patched ~0.5 s late, Markdown
#: panes re-sending their stylesheets, one patch per changed property, 1 MB float32 images) each broke it
LAST_MESSAGE_CEILING_MS = 900
FIRST_PLOT_CEILING_S = 9.0


def test_interactions_stay_fast(tiny_store):
    """Every measured interaction, once, in Chromium: ms from the action to the server's last message."""
    import sys

    from playwright.sync_api import sync_playwright

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    import bench_explorer_browser as bench

    from apps.store_data import load_store
    from apps.warm import warm_up

    warm_up(load_store(str((tiny_store / "store.nc").resolve())), background=False)
    server = bench.Server(tiny_store)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            session = bench.Session(browser, server)
            load = session.load()
            times = {}
            for name, method in bench.INTERACTIONS:
                r = session.timed(lambda m=method: getattr(session, m)(0))
                times[name] = (round(r["last"]), r["patches"])
            browser.close()
    finally:
        server.stop()
    print("first plot", round(load["first_plot"]), "ms; interactions (ms, patches):", times)
    assert not session.errors, session.errors
    assert load["first_plot"] <= 1e3 * FIRST_PLOT_CEILING_S, load
    slow = {k: v for k, v in times.items() if not v[0] <= LAST_MESSAGE_CEILING_MS}  # NaN: nothing came back
    assert not slow, times
    assert all(n <= 3 for _, n in times.values()), times  # one held patch per interaction (+ the URL's)
