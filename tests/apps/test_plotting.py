"""apps.plotting: wavelength figures on the session's range, gap-aware lines, legends outside the data."""

from __future__ import annotations

import numpy as np
from bokeh.events import RangesUpdate
from bokeh.models import Span
from bokeh.plotting import figure

from apps.plotting import outside_legend, wavelength_figure, with_gaps, zero_line
from apps.session import ExplorerState
from gapviz.io.grids import segments


def test_no_line_is_drawn_across_a_gap():
    wl = np.array([1.0, 1.1, 1.2, 5.0, 5.1])
    cols = with_gaps(wl, {"y": wl * 2}, segments(wl))
    assert cols["x"].size == cols["y"].size == 6
    assert np.isnan(cols["x"][3]) and np.isnan(cols["y"][3])
    np.testing.assert_array_equal(cols["y"][[0, 1, 2, 4, 5]], wl * 2)


def test_one_window_has_no_break():
    wl = np.linspace(15200, 15210, 50)
    cols = with_gaps(wl, {"y": wl}, segments(wl))
    assert np.isfinite(cols["x"]).all() and cols["x"].size == 50


def test_wavelength_figures_share_the_session_range_and_follow_zooms(tiny_store, data_of):
    st = ExplorerState(data_of(tiny_store))
    a, b = wavelength_figure(st, height=100), wavelength_figure(st, height=120, title="t")
    assert a.x_range is st.x_range and b.x_range is st.x_range and b.title.text == "t"
    b._trigger_event(RangesUpdate(b, x0=15220.0, x1=15221.0, y0=0, y1=1))
    assert (st.x_start, st.x_end) == (15220.0, 15221.0)


def test_legend_above_the_plot_and_zero_line():
    fig = figure()
    fig.line([0, 1], [0, 1], legend_label="a")
    zero_line(fig)
    outside_legend(fig)
    assert fig.above and fig.above[-1] is fig.legend[0] and fig.legend[0].orientation == "horizontal"
    assert any(isinstance(r, Span) and r.location == 0 for r in fig.center)
