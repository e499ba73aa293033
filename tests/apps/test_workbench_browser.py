"""The line-list workbench in real headless Chromium (Debian's /usr/bin/chromium, no network)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from gapviz.io.linelist import read_linelist
from gapviz.repair.review import read_review
from gapviz.testing.browser import serve_in_thread

from .test_workbench import write_repair

from .browser import ARGS, CHROMIUM, MARKS, wait_for

pytestmark = MARKS


@pytest.fixture()
def served(tmp_path, tiny_store):
    """(url, sessions, STORE_DIR): the workbench on a copy of the tiny store with its repair, from a thread."""
    from apps.workbench import build_app

    store = tmp_path / "store"
    shutil.copytree(tiny_store, store)
    write_repair(store)
    sessions: list = []
    url, server = serve_in_thread("workbench", lambda: build_app(store, sessions))
    yield url, sessions, store
    server.stop()


def open_page(browser, url):
    page = browser.new_context(viewport={"width": 1500, "height": 1300}, accept_downloads=True).new_page()
    errors, outside = [], []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(
        ("http://localhost", "ws://localhost", "data:", "blob:")) else None)
    page.goto(url)
    page.wait_for_selector(".tabulator-row", timeout=120_000)
    return page, errors, outside


def test_edit_accept_download_reload(served, tmp_path):
    from playwright.sync_api import sync_playwright

    url, sessions, store = served
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page, errors, outside = open_page(browser, url)
        assert wait_for(lambda: len(sessions) == 1)
        s = sessions[0]
        # pick the CO line (third row), then change its log gf in the page: the residual image follows
        page.locator(".tabulator-row").nth(2).click()
        assert wait_for(lambda: s.row == 2 and s.species.value == "CO", 30)
        shown = s.figures.image_src.data["after"][0].copy()
        box = page.get_by_label("log gf")
        box.fill("-3.5")
        box.press("Enter")
        assert wait_for(lambda: s.loggf.value == pytest.approx(-3.5), 30)
        assert wait_for(lambda: np.nanmax(np.abs(s.figures.image_src.data["after"][0] - shown)) > 0.005, 30)
        # accept it: written to STORE_DIR/review.csv, and the table says so
        page.get_by_role("button", name="Save the edit").click()
        assert wait_for(lambda: (store / "review.csv").exists(), 30)
        review = read_review(store / "review.csv")
        assert list(review["decision"]) == ["edit"] and review["loggf"].iloc[0] == pytest.approx(-3.5)
        page.locator(".tabulator-row").first.click()
        assert wait_for(lambda: s.row == 0, 30)
        page.get_by_role("button", name="Accept as proposed").click()
        assert wait_for(lambda: len(read_review(store / "review.csv")) == 2, 30)
        assert wait_for(lambda: "accepted" in page.locator(".tabulator").first.inner_text(), 30)

        # download the reviewed list and read it back
        with page.expect_download() as dl:
            page.get_by_text("Reviewed list (CSV)").click()
        saved = tmp_path / "reviewed.csv"
        dl.value.save_as(saved)
        lines = read_linelist(saved).set_index("species")
        assert lines.at["CO", "loggf"] == pytest.approx(-3.5) and lines.at["Fe I", "loggf"] == pytest.approx(-0.2)
        with page.expect_download() as dl:
            page.get_by_text("Reviewed list (MOOG)").click()
        dl.value.save_as(tmp_path / "reviewed.moog")
        assert len(read_linelist(tmp_path / "reviewed.moog")) == 4

        # a reloaded page finds both decisions
        page.reload()
        page.wait_for_selector(".tabulator-row", timeout=120_000)
        assert wait_for(lambda: len(sessions) == 2)
        text = page.locator(".tabulator").first.inner_text()
        assert "accepted" in text and "edited" in text
        assert errors == [] and outside == []
        browser.close()


def test_two_sessions_deciding_at_once_both_survive(served):
    from playwright.sync_api import sync_playwright

    url, sessions, store = served
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        a, _, _ = open_page(browser, url)
        b, _, _ = open_page(browser, url + "?store=/etc&repair=/tmp")  # another visitor; the URL names no path
        assert wait_for(lambda: len(sessions) == 2)
        assert all(s.wb.data.path == (store / "store.nc").resolve() for s in sessions)
        a.locator(".tabulator-row").nth(0).click()
        b.locator(".tabulator-row").nth(1).click()
        assert wait_for(lambda: sorted(s.row for s in sessions) == [0, 1], 30)
        a.get_by_role("button", name="Accept as proposed").click()
        b.get_by_role("button", name="Reject (none of these)").click()
        assert wait_for(lambda: (store / "review.csv").exists() and len(read_review(store / "review.csv")) == 2, 30)
        review = read_review(store / "review.csv").set_index("species")
        assert review.at["Fe I", "decision"] == "accept" and review.at["Si I", "decision"] == "reject"
        # each page soon shows the other's decision too (it follows the review file)
        for page in (a, b):
            assert wait_for(lambda page=page: all(w in page.locator(".tabulator").first.inner_text()
                                                  for w in ("accepted", "rejected")), 30)
        browser.close()
