"""Plot helpers shared by the views: wavelength figures on the session's x-range, gap-aware line columns,
legends outside the data, a zero line."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from bokeh.models import Span
from bokeh.plotting import figure

if TYPE_CHECKING:
    from apps.session import ExplorerState

WAVELENGTH_TOOLS = "xpan,xwheel_zoom,box_zoom,reset,save"
#: A zoom or pan reaches the server (Bokeh's RangesUpdate) once the plot has been still this long (ms); Bokeh's
#: default, 500 ms (lod_timeout), was most of the time from a mouse-wheel zoom to the updated views.
SETTLE_MS = 100


def wavelength_figure(state: ExplorerState, **kw) -> figure:
    """A stretch-width Bokeh figure on the session's one wavelength range; its zooms move ``state``."""
    fig = figure(sizing_mode="stretch_width", x_range=state.x_range, tools=WAVELENGTH_TOOLS,
                 active_scroll="xwheel_zoom", lod_interval=SETTLE_MS, lod_timeout=SETTLE_MS, **kw)
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


def outside_legend(fig) -> None:
    """Move a Bokeh figure's legend above the plot, one row, small type (it never hides data)."""
    legend = fig.legend[0]
    legend.orientation = "horizontal"
    legend.label_text_font_size = "8pt"
    legend.spacing = 4
    legend.padding = 2
    legend.margin = 0
    fig.add_layout(legend, "above")
