"""Screenshots of the explorer for the README: the opening view and a candidate view, in headless Chromium.

    python scripts/screenshots.py [--store data_samples/store] [--repair REPAIR_DIR] [--out docs/screenshots]

Serves ``apps/explorer.py`` on the store from a thread (no network: Panel serves its own JS/CSS), opens it in
Debian's Chromium (``/usr/bin/chromium``) through Playwright, and writes ``opening.png`` (the page as a new
visitor sees it: the top-ranked candidate in the showcase star) and ``candidate.png`` (the first molecular
candidate picked in the table, the line markers showing its molecule's lines; with a repair, the theory drawn
with the repaired list). Each PNG is reduced to a 256-colour palette so it stays well under 300 KB.

The README's pictures were made with the sample's repair:
``gapviz repair data_samples/store --out /tmp/rep --verify none`` then ``--repair /tmp/rep``.

``--workbench-store STORE_DIR --workbench-repair REPAIR_DIR`` adds ``workbench.png``: the line-list workbench
(``apps/workbench.py``) on that store and repair, the added line of largest BIC gain among the table's first page
picked (``--only workbench`` makes only that one).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from gapviz.testing.browser import ARGS, CHROMIUM, serve_in_thread, wait_for  # noqa: E402

VIEWPORT = {"width": 1500, "height": 1100}
MOLECULES = ("CO", "CN", "OH")
MAX_BYTES = 300_000


def serve(name: str, build) -> tuple[str, list, object]:
    """(url, sessions, server): app ``name`` (``build(sessions)`` makes a session) from a thread on a free port."""
    sessions: list = []
    url, server = serve_in_thread(name, lambda: build(sessions))
    return url, sessions, server


def small_png(path: Path) -> int:
    """Rewrite the PNG at ``path`` as a 256-colour palette image; its size in bytes."""
    from PIL import Image

    with Image.open(path) as img:
        img.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)
    return path.stat().st_size


def molecular_candidate(data) -> int:
    """Row of the best-ranked candidate attributed to a molecule (CO, CN, OH), else the second candidate."""
    cands = data.candidates
    if "attributed_species" in cands:
        hits = [i for i, s in enumerate(cands["attributed_species"].astype(str)) if s in MOLECULES]
        if hits:
            return hits[0]
    return min(1, len(cands) - 1)


def workbench_shot(store: Path, repair: Path | None, out: Path) -> Path:
    """``out/workbench.png``: the workbench with the strongest added line of the table's first page picked
    (``repair`` None: STORE_DIR/repair)."""
    import pandas as pd
    from playwright.sync_api import sync_playwright

    from apps.workbench import build_app

    repair = repair or store / "repair"
    url, sessions, server = serve("workbench", lambda sessions: build_app(store, sessions, repair))
    changes = pd.read_csv(repair / "changes.csv").head(12)  # the table's first page
    added = changes[changes["choice"] == "added"]
    row = int(added["bic_gain"].idxmax()) if "bic_gain" in added and len(added) else 0
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = browser.new_page(viewport={"width": 1500, "height": 1480})
            page.goto(url)
            page.wait_for_selector(".tabulator-row", timeout=180_000)
            assert wait_for(lambda: len(sessions) == 1)
            page.locator(".tabulator-row").nth(row).click()
            assert wait_for(lambda: sessions[0].row == row, 60), "the change was not picked"
            page.get_by_text("reviewed list", exact=True).first.click()
            page.mouse.move(5, 1475)
            time.sleep(2.5)
            page.screenshot(path=str(out / "workbench.png"), full_page=True)
            browser.close()
    finally:
        server.stop()
    return out / "workbench.png"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--store", type=Path, default=ROOT / "data_samples" / "store")
    p.add_argument("--repair", type=Path, default=None, help="a REPAIR_DIR to show (default: STORE_DIR/repair/)")
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    p.add_argument("--workbench-store", type=Path, default=None, help="STORE_DIR for workbench.png")
    p.add_argument("--workbench-repair", type=Path, default=None, help="REPAIR_DIR for workbench.png")
    p.add_argument("--only", choices=("explorer", "workbench"), default=None, help="make only these shots")
    args = p.parse_args(argv)
    from playwright.sync_api import sync_playwright

    args.out.mkdir(parents=True, exist_ok=True)
    shots = {}
    if args.only == "workbench" and not args.workbench_store:
        p.error("--only workbench needs --workbench-store STORE_DIR")
    if args.workbench_store and args.only != "explorer":
        shots["workbench.png"] = workbench_shot(args.workbench_store, args.workbench_repair, args.out)
    if args.only == "workbench":
        return _shrink(args.out, shots)
    from apps.explorer import build_app

    url, sessions, server = serve("explorer", lambda sessions: build_app(args.store, sessions, args.repair))
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = browser.new_page(viewport=VIEWPORT)
            page.goto(url)
            page.wait_for_selector(".tabulator-row", timeout=180_000)
            assert wait_for(lambda: len(sessions) == 1)
            time.sleep(2.0)  # let the plots draw
            shots["opening.png"] = page
            page.screenshot(path=str(args.out / "opening.png"))
            state = sessions[0].state
            row = molecular_candidate(state.data)
            table = page.locator(".tabulator").first  # the candidates (a repair's changes are a second tab)
            table.locator(".tabulator-row").nth(row).click()  # the table shows rank order: row = rank - 1
            assert wait_for(lambda: state.candidate == row, 30), "the candidate was not picked"
            if sessions[0].browser.repair is not None:  # show the theory with the repaired list
                page.get_by_text("repaired list", exact=True).first.click()
                assert wait_for(lambda: sessions[0].browser.theory_list == "repaired list", 30)
            page.mouse.move(5, VIEWPORT["height"] - 5)  # no tooltip over the plots
            time.sleep(2.0)
            page.screenshot(path=str(args.out / "candidate.png"))
            shots["candidate.png"] = page
            browser.close()
    finally:
        server.stop()
    return _shrink(args.out, shots)


def _shrink(out: Path, shots: dict) -> int:
    for name in shots:
        size = small_png(out / name)
        print(f"{out / name}: {size / 1000:.0f} kB")
        if size > MAX_BYTES:
            print(f"  over {MAX_BYTES / 1000:.0f} kB", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
