"""apps.plotting: wavelength figures on the session's range, gap-aware lines, legends outside the data."""

from __future__ import annotations

import numpy as np
from bokeh.events import RangesUpdate
from bokeh.models import Span
from bokeh.plotting import figure

from apps.plotting import (
    DIVERGING,
    band_patches,
    centred_limits,
    distinct_colours,
    finite_runs,
    is_signed,
    outside_legend,
    palette_for,
    wavelength_figure,
    with_gaps,
    zero_line,
)
from apps.session import ExplorerState
from gapviz.io.grids import segments

from .conftest import MASKED_PIXEL, NAN_PIXEL


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


def test_a_masked_pixel_ends_a_run_and_a_band():
    x = np.arange(10.0)
    y = np.ones(10)
    y[4] = np.nan
    assert finite_runs(x, y) == [slice(0, 4), slice(5, 10)]
    band = band_patches(x, y - 0.1, y + 0.1)
    assert len(band["xs"]) == 2  # two polygons, none across x = 4
    assert all(not (xs.min() < 4 < xs.max()) for xs in band["xs"])
    assert finite_runs(x, np.full(10, np.nan)) == [] and band_patches(x, x, x + np.inf)["xs"] == []


def _at(cols, x0):
    i = int(np.flatnonzero(np.asarray(cols["x"]) == x0)[0])
    return {k: v[i] for k, v in cols.items() if k != "x"}


def test_no_curve_or_band_bridges_a_masked_pixel(masked_store, explorer_on):
    """Star 3 has a masked pixel (pixel_mask 0) and a NaN flux: every curve of the browser is NaN there and no
    polygon of the ±1σ band spans either pixel (Bokeh's varea would have joined the pixels on each side)."""
    app = explorer_on(masked_store)
    app.state.stars = [MASKED_PIXEL[0]]
    wl = app.state.data.wavelength
    cols = app.browser.flux_src.data
    masked = _at(cols, wl[MASKED_PIXEL[1]])
    assert all(np.isnan(v) for v in masked.values()), masked  # every curve: observed, models, residuals, band
    assert np.isnan(_at(cols, wl[NAN_PIXEL[1]])["obs"])
    for pix in (MASKED_PIXEL[1], NAN_PIXEL[1]):
        assert np.isfinite(_at(cols, wl[pix + 1])["obs"])  # the neighbours are drawn
        assert not any(xs.min() < wl[pix] < xs.max() for xs in app.browser.band_src.data["xs"])


def test_signed_quantities_get_a_diverging_map_centred_on_zero(app):
    assert is_signed("residual_theory") and is_signed("correction at candidate") and not is_signed("teff")
    assert palette_for("correction") == DIVERGING and palette_for("chi2nu_theory") != DIVERGING
    assert centred_limits(-0.01, 0.03) == (-0.03, 0.03)
    app.state.color_by = "correction at candidate"
    m = app.label_space.mapper
    assert tuple(m.palette) == DIVERGING and m.low == -m.high
    app.state.color_by = "teff"
    assert tuple(app.label_space.mapper.palette) != DIVERGING
    assert tuple(app.residual_map.mapper.palette) == DIVERGING
    assert app.residual_map.mapper.low == -app.residual_map.mapper.high


def test_eleven_labels_get_eleven_colours_and_a_wrapped_legend():
    colours = distinct_colours(11)
    assert len(set(colours)) == 11 and len(set(distinct_colours(25))) == 25
    fig = figure()
    for i, c in enumerate(colours):
        fig.line([0, 1], [0, i], color=c, legend_label=f"label{i}")
    outside_legend(fig)
    legend = fig.legend[0]
    assert len(legend.items) == 11 and legend.ncols == 2 and fig.right[-1] is legend  # beside the plot, 2 columns


def test_axes_drop_overlapping_tick_labels_and_the_kiel_diagram_says_inferred(app):
    from bokeh.models import NoOverlap

    figs = [app.browser.spectrum, app.browser.residual, app.residual_map.figure, app.corrections.mean_fig,
            app.corrections.resp_fig, app.corrections.shares_fig, app.label_space.kiel, app.label_space.metal]
    for fig in figs:
        assert all(isinstance(a.major_label_policy, NoOverlap) for a in (*fig.xaxis, *fig.yaxis)), fig.title.text
    kiel = app.label_space.kiel
    assert "inferred" in kiel.title.text and "inferred" in kiel.xaxis[0].axis_label
    names = app.state.data.response_labels
    assert app.corrections.shares_fig.height >= 24 * len(names)
