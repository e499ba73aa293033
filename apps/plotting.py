"""Plot helpers shared by the views: wavelength figures on the session's x-range, gap-aware line columns and
bands (a masked or non-finite pixel leaves a gap, never a bridge), legends outside the data, a zero line, the
colour rules (a diverging map centred on 0 for signed quantities, distinct colours per label) and colour bars.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from bokeh.models import BasicTicker, ColorBar, NoOverlap, Span
from bokeh.palettes import Category10_10, Category20_20, RdBu11, Turbo256, Viridis256
from bokeh.plotting import figure

if TYPE_CHECKING:
    from apps.session import ExplorerState

WAVELENGTH_TOOLS = "xpan,xwheel_zoom,box_zoom,reset,save"
#: A zoom or pan reaches the server (Bokeh's RangesUpdate) once the plot has been still this long (ms); Bokeh's
#: default, 500 ms (lod_timeout), was most of the time from a mouse-wheel zoom to the updated views.
SETTLE_MS = 100


#: signed quantities (0 means "no difference") are drawn with a diverging map centred on 0: blue below, red above
DIVERGING = tuple(RdBu11)
SEQUENTIAL = Viridis256
#: name prefixes of the signed quantities (residuals, corrections, response differences)
SIGNED_PREFIXES = ("residual", "correction", "response", "delta")
#: legend entries per row above a plot (more go on further rows: a half-page plot fits three)
LEGEND_COLUMNS = 3
#: a legend with more entries goes right of the plot, in two columns
LEGEND_ABOVE = 6


def is_signed(name: str) -> bool:
    """True for a signed quantity (residual, correction, response difference), whose colour map is centred on 0."""
    return str(name).strip().lower().startswith(SIGNED_PREFIXES)


def palette_for(name: str) -> tuple[str, ...]:
    """The colour map of quantity ``name``: ``DIVERGING`` for a signed one, ``SEQUENTIAL`` otherwise."""
    return DIVERGING if is_signed(name) else tuple(SEQUENTIAL)


def centred_limits(lo: float, hi: float) -> tuple[float, float]:
    """(-m, m), m = max(|lo|, |hi|): a diverging map's limits, so 0 is its middle colour."""
    m = max(abs(lo), abs(hi)) or 1.0
    return -m, m


def distinct_colours(n: int) -> list[str]:
    """``n`` colours no two alike: Category10 up to 10, Category20 up to 20, Turbo beyond."""
    if n <= 10:
        return list(Category10_10[:n])
    if n <= 20:
        return list(Category20_20[:n])
    return [Turbo256[int(i)] for i in np.linspace(0, 255, n)]


def readable_axes(fig) -> None:
    """Tick labels never overlap (Bokeh drops those that would collide) and keep a small type."""
    for axis in (*fig.xaxis, *fig.yaxis):
        axis.major_label_policy = NoOverlap()
        axis.major_label_text_font_size = "9pt"


def colour_bar(mapper, title: str = "") -> ColorBar:
    """A slim colour bar for the right side of a plot: its title above the bar, its tick labels beside it,
    both small and clear of the plot's own axis."""
    return ColorBar(color_mapper=mapper, width=10, title=title, padding=6, label_standoff=4, title_standoff=6,
                    ticker=BasicTicker(desired_num_ticks=5), major_label_text_font_size="8pt",
                    title_text_font_size="8pt", major_label_policy=NoOverlap())


def wavelength_figure(state: ExplorerState, **kw) -> figure:
    """A stretch-width Bokeh figure on the session's one wavelength range; its zooms move ``state``."""
    fig = figure(sizing_mode="stretch_width", x_range=state.x_range, tools=WAVELENGTH_TOOLS,
                 active_scroll="xwheel_zoom", lod_interval=SETTLE_MS, lod_timeout=SETTLE_MS, **kw)
    readable_axes(fig)
    state.follow_zoom(fig)
    return fig


def zero_line(fig) -> None:
    """A dashed grey horizontal line at y = 0."""
    fig.add_layout(Span(location=0, dimension="width", line_color="#888888", line_dash="dashed"))


def with_gaps(x: np.ndarray, ys: dict[str, np.ndarray], segments: list[slice]) -> dict[str, np.ndarray]:
    """Columns for a Bokeh line with a NaN between windows so no line is drawn across a gap."""
    cols: dict[str, list[np.ndarray]] = {"x": [], **{k: [] for k in ys}}
    for s in segments:
        cols["x"] += [x[s], [np.nan]]
        for k, y in ys.items():
            cols[k] += [y[s], [np.nan]]
    return {k: np.concatenate(v)[:-1] for k, v in cols.items()}


def finite_runs(x: np.ndarray, *ys: np.ndarray) -> list[slice]:
    """Slices of the runs of consecutive pixels where ``x`` and every ``ys`` are finite (a masked pixel, NaN,
    ends a run): draw each run on its own and nothing bridges a masked pixel."""
    ok = np.isfinite(x)
    for y in ys:
        ok &= np.isfinite(y)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], ok.astype(np.int8), [0]])))
    return [slice(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2])]


def band_patches(x: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> dict[str, list[np.ndarray]]:
    """{"xs", "ys"} of one polygon per finite run between ``lo`` and ``hi`` (for ``figure.patches``): a band
    with a gap at every masked pixel and window gap (Bokeh's ``varea`` would join the pixels either side)."""
    xs, ys = [], []
    for r in finite_runs(x, lo, hi):
        xs.append(np.concatenate([x[r], x[r][::-1]]))
        ys.append(np.concatenate([lo[r], hi[r][::-1]]))
    return {"xs": xs, "ys": ys}


def outside_legend(fig, n_entries: int | None = None) -> None:
    """Move a Bokeh figure's legend out of the data: above the plot, ``LEGEND_COLUMNS`` entries a row, when it has
    at most ``LEGEND_ABOVE`` entries; else right of the plot in two columns (a dozen labels above a short plot
    would leave no room for the data). ``n_entries``: the entries the page will show, when an item grouped by a
    column (``legend_field``) makes several."""
    legend = fig.legend[0]
    many = (n_entries if n_entries is not None else len(legend.items)) > LEGEND_ABOVE
    legend.orientation = "vertical" if many else "horizontal"
    legend.ncols = 2 if many else min(len(legend.items), LEGEND_COLUMNS) or "auto"
    legend.label_text_font_size = "8pt"
    legend.spacing = 4
    legend.padding = 2
    legend.margin = 0
    fig.add_layout(legend, "right" if many else "above")
