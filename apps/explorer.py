"""The gapviz explorer: browse wavelength, label space and learned corrections of one store.

Serve it with ``panel serve apps/explorer.py --args STORE_DIR [--repair REPAIR_DIR]`` (or ``gapviz explore
STORE_DIR [--repair REPAIR_DIR]``); with no argument it opens the shipped sample ``data_samples/store``. A
repair (``gapviz repair``) is shown from REPAIR_DIR, or from ``STORE_DIR/repair/`` when that exists. Store and
repair are fixed at server start; nothing in the page or the URL can choose a server path.
"""

from __future__ import annotations

import sys
from pathlib import Path

_ROOT = str(Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:  # `panel serve apps/explorer.py` puts only apps/ on the path
    sys.path.insert(0, _ROOT)

import numpy as np  # noqa: E402
import panel as pn  # noqa: E402
import param  # noqa: E402

from apps import url_sync  # noqa: E402
from apps.candidates import CandidatesTable  # noqa: E402
from apps.corrections import Corrections  # noqa: E402
from apps.export import Export  # noqa: E402
from apps.label_space import LabelSpace  # noqa: E402
from apps.repair_data import RepairData, find_repair_dir, load_repair  # noqa: E402
from apps.repair_view import ChangesTable  # noqa: E402
from apps.residual_map import ResidualMap  # noqa: E402
from apps.session import ExplorerState  # noqa: E402
from apps.store_data import StoreData, load_store, server_args  # noqa: E402
from apps.tour import Tour  # noqa: E402
from apps.warm import warm_up  # noqa: E402
from apps.wavelength_browser import WavelengthBrowser  # noqa: E402
from gapviz.errors import GapvizError  # noqa: E402
from gapviz.store import store_file  # noqa: E402

TITLE = "gapviz explorer"


# The Fast design links Google Fonts (Open Sans); the page must load with no network, so drop that one
# stylesheet (a subclass would lose the design's bundled, server-served JS). Everything else Panel serves.
pn.theme.fast.Fast._resources = {k: v for k, v in pn.theme.fast.Fast._resources.items() if k != "font"}


def template(**params) -> pn.template.FastListTemplate:
    """A FastListTemplate that fetches nothing from outside the server.

    No busy indicator: Panel flips one process-wide spinner on every event of every session, two more document
    patches per interaction, the last one sent ~0.5 s after the views are updated (measured in Chromium)."""
    return pn.template.FastListTemplate(title=TITLE, font="sans-serif", busy_indicator=None, **params)


def shown_path(value: object, store_dir: Path) -> str:
    """A path from the store's attributes as the header shows it: never a developer-local or missing path.

    A relative path as the run wrote it (``data_samples/mock/observed.h5``); an absolute one (or one climbing out
    with ``..``) relative to the store's folder when it lies inside it, else just its name; "" when empty."""
    text = str(value or "").strip()
    if not text:
        return ""
    p = Path(text)
    if not p.is_absolute() and ".." not in p.parts:
        return p.as_posix()
    try:
        return (store_dir / p).resolve().relative_to(store_dir.resolve()).as_posix()
    except (ValueError, OSError):
        return p.name


def provenance(data: StoreData) -> str:
    """Markdown header line from the store's global attributes (parts the store does not record are left out)."""
    a = data.attrs
    store_dir = data.path.parent

    def num(key: str) -> str | None:
        try:
            value = float(a[key])
        except (KeyError, TypeError, ValueError):
            return None
        return f"{value:.3g}" if np.isfinite(value) else None

    def path(key: str) -> str:
        value = shown_path(a.get(key), store_dir)
        return f"`{value}`" if value else ""

    title = str(a.get("title", "")).strip() or store_dir.name
    parts = [f"**{title}**"]
    syn, obs, run = path("synthetic_path"), path("observed_path"), path("run_dir")
    source = " → ".join(f"{kind} {p}" for kind, p in (("synthetic", syn), ("observed", obs)) if p)
    files = ", ".join(x for x in (source, f"run {run}" if run else "") if x)
    if files:
        parts.append(files)
    parts.append(f"{data.n_star:,} stars × {data.wavelength.size:,} pixels")
    before, after = num("chi2nu_theory_median"), num("chi2nu_adapted_median")
    if before and after:
        parts.append(f"χ²ν median {before} (theory) → {after} (adapted)")
    parts.append(f"{a.get('n_candidates', len(data.candidates))} candidates")
    return " — ".join(parts)


def error_page(message: str) -> pn.template.FastListTemplate:
    """The page shown when the store cannot be opened: the reason, no traceback."""
    alert = pn.pane.Alert(f"**The explorer could not open its store.**\n\n{message}\n\nStart it with "
                          "`gapviz explore STORE_DIR` or `panel serve apps/explorer.py --args STORE_DIR`, where "
                          "STORE_DIR holds the `store.nc` written by `gapviz analyze`.", alert_type="danger")
    return template(main=[alert])


class Explorer(pn.viewable.Viewer):
    """All views of one session around one ExplorerState (kept as attributes for tests and benchmarks).

    ``Explorer(data)`` starts a new session state on ``data``; ``Explorer(state=...)`` shares one. With
    ``sync_url`` the state is mirrored in the session's address bar (``apps.url_sync``)."""

    state = param.ClassSelector(class_=ExplorerState, doc="what this session is looking at")

    def __init__(self, data: StoreData | None = None, sync_url: bool = True, repair: RepairData | None = None,
                 repair_error: str = "", **params):
        """``repair``: the line-list repair shown (before/after toggle, changes table); ``repair_error``: why the
        one asked for could not be read (said in the page)."""
        if data is not None and "state" not in params:
            params["state"] = ExplorerState(data)
            params["state"].open_on_the_gap()  # a link's view (``sync_url``, below) replaces it
        super().__init__(**params)
        self.browser = WavelengthBrowser(state=self.state, repair=repair)
        self.changes = ChangesTable(state=self.state, repair=repair, error=repair_error)
        self.label_space = LabelSpace(state=self.state)
        self.residual_map = ResidualMap(state=self.state)
        self.corrections = Corrections(state=self.state)
        self.candidates = CandidatesTable(state=self.state)
        self.export = Export(state=self.state, browser=self.browser)
        self.tour = Tour(state=self.state, browser=self.browser)
        if sync_url:
            url_sync.sync_url(self.state)

    def controls(self) -> pn.Column:
        """The sidebar: the guided tour, the browser's controls, the downloads."""
        return pn.Column(self.tour, pn.layout.Divider(), self.browser.controls(), pn.layout.Divider(),
                         self.export, sizing_mode="stretch_width")

    def views(self) -> pn.Column:
        """The main area: provenance header and every view (one root: fewer Bokeh document roots make a
        session much cheaper to build)."""
        header = pn.pane.Markdown(provenance(self.state.data), sizing_mode="stretch_width")
        problems = [pn.pane.Alert(f"**The repair could not be read.** {self.changes.error}", alert_type="warning",
                                  sizing_mode="stretch_width")] if self.changes.error else []
        return pn.Column(
            header, *problems,
            pn.Row(pn.Column("## Spectrum", self.browser, sizing_mode="stretch_width"),
                   pn.Column("## Label space", self.label_space, sizing_mode="stretch_width"),
                   sizing_mode="stretch_width"),
            self.candidate_views(),
            pn.Column("## Residual map", self.residual_map, sizing_mode="stretch_width"),
            pn.Column("## Learned corrections", self.corrections, sizing_mode="stretch_width"),
            sizing_mode="stretch_width")

    def candidate_views(self) -> pn.Column:
        """The candidates table, and beside it (a second tab) the repair's changes when a repair is shown."""
        if self.changes.repair is None:
            return pn.Column("## Candidate missing lines", self.candidates, sizing_mode="stretch_width")
        n = len(self.changes.repair.changes)
        return pn.Column("## Candidate missing lines and the repair's changes",
                         pn.Tabs(("candidates", self.candidates), (f"changes of the repair ({n})", self.changes),
                                 sizing_mode="stretch_width", dynamic=False), sizing_mode="stretch_width")

    def __panel__(self) -> pn.Row:
        """The whole explorer as one layout (controls beside the views), e.g. inside a notebook."""
        return pn.Row(pn.Column(self.controls(), width=330), self.views(), sizing_mode="stretch_width")

    def template(self) -> pn.template.FastListTemplate:
        """The served page: the controls in the sidebar, the views in the main area."""
        return template(sidebar=[self.controls()], main=[self.views()], sidebar_width=330)


def open_repair(store: Path, repair_dir: str | Path | None) -> tuple[RepairData | None, str]:
    """(the repair to show, "") or (None, why it cannot be read); (None, "") when there is none to show."""
    if repair_dir == "":
        return None, "--repair was given without a REPAIR_DIR (the folder gapviz repair --out wrote)"
    found = find_repair_dir(store, repair_dir)
    if found is None:
        return None, ""
    try:
        return load_repair(str(found.resolve()), str(store)), ""
    except GapvizError as exc:
        return None, str(exc)


def build_app(store_dir: str | Path | None = None, sessions: list | None = None,
              repair_dir: str | Path | None = None) -> pn.template.FastListTemplate:
    """The explorer page for the store (and repair) chosen at server start (an error page when it is not a store).

    ``sessions``, when given, collects each session's ``Explorer`` (tests and benchmarks inspect them)."""
    argv_store, argv_repair = server_args()
    try:
        path = store_file(store_dir if store_dir is not None else argv_store)
        data = load_store(str(path.resolve()))
    except GapvizError as exc:
        return error_page(str(exc))
    warm_up(data)
    repair, repair_error = open_repair(path.resolve(), repair_dir if store_dir is not None else argv_repair)
    explorer = Explorer(data, repair=repair, repair_error=repair_error)
    if sessions is not None:
        sessions.append(explorer)
    return explorer.template()


if __name__.startswith("bokeh"):
    build_app().servable(title=TITLE)
