"""The explorer's latency as the browser sees it: real headless Chromium, end to end.

Serves ``apps/explorer.py`` on a generated store (from a thread of this process, as ``panel serve`` would), opens
it in Debian's headless Chromium (Playwright) and times, per interaction, from the action in the page (a click,
a mouse-wheel zoom, a changed select or selection) to

* **last msg**: the last websocket frame the server sends back (after which nothing more arrives), and
* **idle**: the page idle again (the last frame handled, one animation frame painted, no long task running),

with the bytes the server sent and its number of document patches, beside **srv CPU**: the CPU time of the
server's thread over the same span (the Python callbacks, the document patches, the websocket writes). Per
session: time to the first plot and to an idle, fully drawn page from the page's request, the bytes of the
initial document, and the server's cost of building one session (the app function) and of serving it.

    python benchmarks/bench_explorer_browser.py                  # 2,000 and 100,000 stars (~3 min)
    python benchmarks/bench_explorer_browser.py --n-star 2000 --repeat 5
    python benchmarks/bench_explorer_browser.py --store data_samples/store

The 100,000-star store is /tmp/gapviz_bench_store (as ``bench_explorer.py``; generated if missing, ~1 GB, a few
minutes). Exit status 1 when a target is missed: every interaction <= 300 ms to the last message at 2,000 stars
(500 ms at 100,000), first plot <= 3 s (6 s).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_explorer import ensure_store  # noqa: E402

from gapviz.testing.browser import ARGS, CHROMIUM, serve_in_thread  # noqa: E402

QUIET_S = 0.8  # no frame for this long after a document patch: the server is done with the interaction

#: Recorded in the page before any script of the app runs: every websocket frame (time, size, first bytes),
#: when the page was next idle after it (a painted animation frame, then a macrotask), and long tasks.
INSTRUMENT = """
(() => {
  const rec = {frames: [], sent: [], long: []};
  window.__bench = rec;
  try {
    new PerformanceObserver(list => { for (const e of list.getEntries())
        rec.long.push([e.startTime, e.startTime + e.duration]); }).observe({entryTypes: ['longtask']});
  } catch (e) {}
  const size = d => typeof d === 'string' ? d.length : (d.byteLength ?? d.size ?? 0);
  const Orig = window.WebSocket;
  class Recorded extends Orig {
    constructor(...args) {
      super(...args);
      this.addEventListener('message', ev => {
        const f = {t: performance.now(), n: size(ev.data), idle: null,
                   head: typeof ev.data === 'string' ? ev.data.slice(0, 400) : ''};
        rec.frames.push(f);
        requestAnimationFrame(() => setTimeout(() => { f.idle = performance.now(); }, 0));
      });
    }
    send(d) { rec.sent.push({t: performance.now(), n: size(d)}); return super.send(d); }
  }
  window.WebSocket = Recorded;
})();
"""


def thread_cpu(thread: threading.Thread) -> float:
    """CPU seconds used so far by ``thread`` (Linux: its pthread CPU clock)."""
    return time.clock_gettime(time.pthread_getcpuclockid(thread.ident))


class Server:
    """The explorer served from a thread of this process on a free port; times each session's app function."""

    def __init__(self, store: Path):
        from apps.explorer import build_app

        self.sessions: list = []
        self.build_ms: list[float] = []

        def app():
            t = time.perf_counter()
            page = build_app(store, self.sessions)
            self.build_ms.append(1e3 * (time.perf_counter() - t))
            return page

        before = set(threading.enumerate())
        self.url, self.server = serve_in_thread("explorer", app, timeout=30.0)
        self.thread = next(t for t in threading.enumerate() if t not in before)

    def cpu(self) -> float:
        return thread_cpu(self.thread)

    def stop(self) -> None:
        self.server.stop()


def frames_since(page, t0: float) -> list[dict]:
    return page.evaluate("t0 => window.__bench.frames.filter(f => f.t >= t0)", t0)


def settle(page, t0: float, timeout: float = 30.0) -> dict:
    """Wait until the server has sent a document patch after ``t0`` (in-page ms) and then nothing for QUIET_S, and
    the page is idle; return {last, idle, bytes, patches, frames} in ms after t0."""
    end = time.time() + timeout
    seen, changed = -1, time.time()
    count = """t0 => { const f = window.__bench.frames.filter(f => f.t >= t0);
        return [f.length, f.some(x => x.head.includes('"PATCH-DOC"'))]; }"""
    while time.time() < end:
        n, patched = page.evaluate(count, t0)
        if n != seen:
            seen, changed = n, time.time()
        elif patched and time.time() - changed >= QUIET_S:
            break
        time.sleep(0.05)
    page.wait_for_function("t0 => window.__bench.frames.filter(f => f.t >= t0).every(f => f.idle !== null)",
                           arg=t0, timeout=30_000)
    frames = frames_since(page, t0)
    long_end = page.evaluate("t0 => Math.max(0, ...window.__bench.long.filter(l => l[1] >= t0).map(l => l[1]))", t0)
    if not frames:
        return {"last": float("nan"), "idle": float("nan"), "bytes": 0, "patches": 0, "frames": []}
    last = max(f["t"] for f in frames)
    idle = max(max(f["idle"] for f in frames), long_end)
    return {"last": last - t0, "idle": idle - t0, "bytes": sum(f["n"] for f in frames),
            "patches": sum('"PATCH-DOC"' in f["head"] for f in frames), "frames": frames}


def now(page) -> float:
    return page.evaluate("performance.now()")


SET_SELECT_JS = """([title, value]) => { for (const doc of Bokeh.documents) for (const m of doc.all_models)
    if (m.title === title && m.options !== undefined) { m.value = value; return m.value; } return null; }"""

OPTIONS_JS = """title => { for (const doc of Bokeh.documents) for (const m of doc.all_models)
    if (m.title === title && m.options !== undefined)
        return [m.value, m.options.map(o => Array.isArray(o) ? o[0] : o)]; return null; }"""

#: the data frame of the plot whose title starts with ... (viewport pixels), scrolled into view; box select on
FRAME_JS = """prefix => { let found = null;
    const walk = v => { if (found || !v) return;
        if (v.model && v.model.type === 'Figure' && (v.model.title?.text ?? '').startsWith(prefix)) { found = v; return; }
        for (const c of (v.child_views ?? [])) walk(c); };
    for (const v of Object.values(Bokeh.index)) walk(v);
    if (!found) return null;
    for (const t of found.model.toolbar.tools) if (t.type === 'BoxSelectTool') t.active = true;  // its toolbar button
    found.el.scrollIntoView({block: 'center'});
    const r = found.el.getBoundingClientRect(), f = found.frame.bbox;
    return {x: r.x + f.x0, y: r.y + f.y0, w: f.width, h: f.height}; }"""


class Session:
    """One page on the served explorer, with the instrumentation."""

    def __init__(self, browser, server: Server):
        self.server = server
        self.page = browser.new_page(viewport={"width": 1500, "height": 1400})
        self.page.add_init_script(INSTRUMENT)
        self.errors: list[str] = []
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

    def load(self) -> dict:
        """Open the page; ms from the request to the first plot drawn and to an idle, complete page."""
        c0 = self.server.cpu()
        n0 = len(self.server.build_ms)
        self.page.goto(self.server.url, wait_until="commit")
        self.page.wait_for_selector("canvas", state="attached", timeout=120_000)
        first = now(self.page)  # performance.now() counts from the navigation's start
        self.page.wait_for_selector(".tabulator-row", timeout=120_000)
        s = settle(self.page, 0.0, timeout=120_000)
        build = self.server.build_ms[n0] if len(self.server.build_ms) > n0 else float("nan")
        return {"first_plot": first, "last": s["last"], "idle": s["idle"], "bytes": s["bytes"],
                "build_ms": build, "srv_cpu": 1e3 * (self.server.cpu() - c0)}

    def timed(self, action) -> dict:
        """Time ``action`` (which may return the in-page time its last step began, e.g. a mouse release)."""
        t0 = now(self.page)
        c0 = self.server.cpu()
        t0 = action() or t0
        s = settle(self.page, t0)
        s["srv_cpu"] = 1e3 * (self.server.cpu() - c0)
        return s

    # -- interactions (each takes the repetition number) ---------------------------------------------
    def pick_candidate(self, i: int) -> None:
        self.page.locator(".tabulator-row").nth((2 * i + 1) % 10).click()

    def box_select(self, i: int) -> None:
        """A box-select drag on the Kiel diagram (its default drag tool), a different box each time."""
        f = self.page.evaluate(FRAME_JS, "Kiel diagram")
        a, b = [(0.1, 0.1), (0.4, 0.3), (0.2, 0.4), (0.3, 0.1), (0.1, 0.3)][i % 5]
        m = self.page.mouse
        m.move(f["x"] + a * f["w"], f["y"] + b * f["h"])
        m.down()
        m.move(f["x"] + (a + 0.5) * f["w"], f["y"] + (b + 0.5) * f["h"], steps=4)
        t0 = now(self.page)  # the selection is made when the button is released
        m.up()
        return t0

    def colour_by(self, i: int) -> None:
        value, options = self.page.evaluate(OPTIONS_JS, "colour stars by")
        want = ["correction at candidate", "fe_h", "chi2nu_adapted", "teff", "logg"][i % 5]
        want = want if want in options and want != value else next(o for o in options if o != value)
        self.page.evaluate(SET_SELECT_JS, ["colour stars by", want])

    def sort_by(self, i: int) -> None:
        value, options = self.page.evaluate(OPTIONS_JS, "sort rows by")
        self.page.evaluate(SET_SELECT_JS, ["sort rows by", options[(options.index(value) + 1) % len(options)]])

    def zoom(self, i: int) -> None:
        box = self.page.locator("canvas").first.bounding_box()  # the spectrum plot comes first on the page
        self.page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.6)
        t0 = now(self.page)
        self.page.mouse.wheel(0, -300 if i % 2 == 0 else 300)
        return t0

    def tour_step(self, i: int) -> None:
        start = self.page.get_by_text("start the tour")
        (start if start.count() else self.page.get_by_text("next ▶")).first.click()


INTERACTIONS = [("pick a candidate", "pick_candidate"), ("box-select stars", "box_select"),
                ("colour stars by", "colour_by"), ("sort map rows by", "sort_by"), ("zoom (mouse wheel)", "zoom"),
                ("tour step", "tour_step")]


def patch_summary(frames: list[dict]) -> list[str]:
    """'attr@Model' of each event in the PATCH-DOC frames (first 400 characters of each)."""
    out = []
    for f in frames:
        head = f["head"]
        if head.startswith('{"events"'):
            try:
                events = json.loads(head)["events"]
            except ValueError:
                events = None
            if events is None:
                out.append(head[:120] + f"… ({f['n']:,} B)")
            else:
                out += [f"{e.get('kind')}:{e.get('attr', '')} ({f['n']:,} B)" for e in events]
    return out


def run_store(store: Path, repeat: int, sessions: int, verbose: bool) -> dict:
    """All measurements on one store."""
    from playwright.sync_api import sync_playwright

    from apps.store_data import load_store
    from apps.warm import warm_up

    t = time.perf_counter()
    data = load_store(str((store / "store.nc").resolve()))
    load_s = time.perf_counter() - t
    t = time.perf_counter()
    warm_up(data, background=False)  # what every server process does once, in the background, at its first session
    warm_s = time.perf_counter() - t
    print(f"\n== {store}: {data.n_star:,} stars × {data.wavelength.size} px, {len(data.candidates)} candidates; "
          f"server start: store {load_s:.1f} s, map overviews + kernels {warm_s:.1f} s (once per process)")
    server = Server(store)
    out = {"n_star": data.n_star, "loads": [], "steps": {}}
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = None
            for k in range(sessions):
                s = Session(browser, server)
                out["loads"].append(s.load())
                if k < sessions - 1:
                    s.page.close()
                else:
                    page = s
            for name, method in INTERACTIONS:
                runs = []
                for i in range(repeat):
                    r = page.timed(lambda: getattr(page, method)(i))  # noqa: B023
                    runs.append(r)
                    if verbose:
                        print(f"  {name} #{i}: last {r['last']:.0f} ms, idle {r['idle']:.0f} ms, "
                              f"{r['bytes']:,} B, srv {r['srv_cpu']:.0f} ms")
                        for line in patch_summary(r["frames"]):
                            print("     ", line)
                out["steps"][name] = runs
            out["errors"] = page.errors
            browser.close()
    finally:
        server.stop()
    return out


def median(xs) -> float:
    return statistics.median(xs) if xs else float("nan")


def report(res: dict, budget_ms: float, first_plot_s: float) -> bool:
    """Print the tables; True when every target is met."""
    ok = True
    loads = res["loads"]
    print(f"\nsession (n={len(loads)}; the server process already warm): "
          f"first plot {median([x['first_plot'] for x in loads]) / 1e3:.2f} s "
          f"(worst {max(x['first_plot'] for x in loads) / 1e3:.2f} s, target {first_plot_s:g} s), "
          f"page idle {median([x['idle'] for x in loads]) / 1e3:.2f} s, "
          f"{median([x['bytes'] for x in loads]) / 1e6:.2f} MB sent; "
          f"server: app function {median([x['build_ms'] for x in loads]):.0f} ms, "
          f"CPU for the whole session start {median([x['srv_cpu'] for x in loads]):.0f} ms")
    ok &= max(x["first_plot"] for x in loads) <= 1e3 * first_plot_s
    print(f"\n{'interaction':<22}{'last msg ms':>12}{'worst':>8}{'idle ms':>10}{'worst':>8}{'srv CPU ms':>12}"
          f"{'kB sent':>10}{'patches':>9}   target {budget_ms:.0f} ms to the last message")
    for name, runs in res["steps"].items():
        last = [r["last"] for r in runs]
        idle = [r["idle"] for r in runs]
        ok &= max(last) <= budget_ms
        print(f"{name:<22}{median(last):>12.0f}{max(last):>8.0f}{median(idle):>10.0f}{max(idle):>8.0f}"
              f"{median([r['srv_cpu'] for r in runs]):>12.0f}{median([r['bytes'] for r in runs]) / 1e3:>10.1f}"
              f"{median([r['patches'] for r in runs]):>9.0f}")
    if res.get("errors"):
        print("page errors:", res["errors"])
    return ok


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-star", type=int, nargs="+", default=[2000, 100_000],
                    help="generated store sizes (default: 2000 100000)")
    ap.add_argument("--store", type=Path, help="an existing store instead of generated ones")
    ap.add_argument("--repeat", type=int, default=3, help="times each interaction is timed")
    ap.add_argument("--sessions", type=int, default=2, help="sessions opened (page loads timed)")
    ap.add_argument("-v", "--verbose", action="store_true", help="each run, with the patch events it sent")
    args = ap.parse_args(argv)
    if not Path(CHROMIUM).exists():
        print(f"needs Chromium at {CHROMIUM}")
        return 2
    stores = [args.store] if args.store else [
        ensure_store(Path("/tmp/gapviz_bench_store") if n == 100_000 else Path(f"/tmp/gapviz_bench_store_{n}"), n)
        for n in args.n_star]
    ok = True
    for store in stores:
        res = run_store(store, args.repeat, args.sessions, args.verbose)
        big = res["n_star"] > 10_000
        ok &= report(res, 500.0 if big else 300.0, 6.0 if big else 3.0)
    print("\nall targets met" if ok else "\nsome target missed")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
