"""Learned corrections: what the adaptation added to the theory, and the label a picked feature follows.

Top: the mean correction ± its star-to-star scatter, the part of it the finder removed as systematic (line-spread
function, wavelength shift, population abundance offsets) and the mean in bins of teff / logg / fe_h; middle: the
response difference (d flux_adapted/d label − d flux_theory/d label) per label, scaled to one population
standard deviation of the label so K and dex compare; right: that response difference near the feature in view,
one bar per label. The label a candidate follows is the store's attribution (``apps.attribution``), never
re-derived from these bars: its bar is the one highlighted.
"""

from __future__ import annotations

import numpy as np
import panel as pn
import param
from bokeh.models import ColumnDataSource
from bokeh.palettes import Viridis256
from bokeh.plotting import figure

from apps.attribution import stored_attribution
from apps.live_text import LiveMarkdown
from apps.plotting import (
    band_patches,
    distinct_colours,
    outside_legend,
    readable_axes,
    wavelength_figure,
    with_gaps,
    zero_line,
)
from apps.session import ExplorerState
from apps.store_data import StoreData

FEATURE_HALF_WIDTH = 1.0  # Å around a selected candidate over which its response difference is summed
ATTRIBUTED_COLOR = "#9467bd"  # the stored attributed label's bar
OTHER_COLOR = "#c7c7c7"


def label_spreads(data: StoreData) -> np.ndarray:
    """(nlabel,) population standard deviation of each response label (1 when unknown)."""
    if "label_spread" in data.ds.variables:
        return np.asarray(data.ds["label_spread"].values, dtype=np.float64)
    return np.array([float(np.nanstd(data.stars[n])) if n in data.stars else 1.0 for n in data.response_labels])


def response_shares(data: StoreData, x0: float, x1: float) -> dict[str, float]:
    """Share of each label in the mean |response difference| (per label σ) over pixels in [x0, x1] Å.

    A picture of the stored response curves, not an attribution: the store's attribution of a candidate may
    weigh other evidence and name another label (``apps.attribution.stored_attribution``)."""
    diff = data.response.get("response_difference")
    if diff is None or not data.response_labels:
        return {}
    sel = (data.wavelength >= x0) & (data.wavelength <= x1)
    if not sel.any():
        return {}
    mag = np.nanmean(np.abs(diff[:, sel] * label_spreads(data)[:, None]), axis=1)
    total = np.nansum(mag)
    return {n: float(m / total) if total > 0 else 0.0 for n, m in zip(data.response_labels, mag)}


class Corrections(pn.viewable.Viewer):
    """Mean and binned corrections, per-label response difference, attribution of the feature in view."""

    state = param.ClassSelector(class_=ExplorerState)
    binned_by = param.Selector(default="teff", objects=["teff"], doc="label whose bins are drawn")

    def __init__(self, **params):
        super().__init__(**params)
        data = self.state.data
        self.param["binned_by"].objects = list(data.by_label) or ["teff"]
        self.binned_by = self.param["binned_by"].objects[0]
        self.mean_fig = wavelength_figure(self.state, height=230, title="learned correction (adapted − theory)",
                                          y_axis_label="Δ flux")
        self.resp_fig = wavelength_figure(self.state, height=200, title="response difference per 1σ of each label",
                                          x_axis_label="vacuum wavelength (Å)", y_axis_label="Δ d flux / d label")
        zero_line(self.mean_fig)
        zero_line(self.resp_fig)
        prof = data.profiles
        mean = prof.get("correction_mean", np.full(data.wavelength.size, np.nan))
        std = prof.get("correction_std", np.zeros_like(mean))
        cols = with_gaps(data.wavelength, {"mean": mean}, data.segments)
        src = ColumnDataSource(cols)
        band = ColumnDataSource(band_patches(data.wavelength, mean - std, mean + std))
        self.mean_fig.patches("xs", "ys", source=band, fill_color="#1f77b4", fill_alpha=0.2, line_color=None,
                              legend_label="± scatter")
        self.mean_fig.line("x", "mean", source=src, color="#1f77b4", line_width=2, legend_label="mean")
        if "correction_systematic" in prof:
            sys_cols = with_gaps(data.wavelength, {"y": prof["correction_systematic"]}, data.segments)
            self.mean_fig.line(sys_cols["x"], sys_cols["y"], color="#d62728", line_dash="dashed", line_width=1.5,
                               legend_label="systematic (removed)")
        self.bins_src = ColumnDataSource({"xs": [], "ys": [], "color": [], "name": []})
        self.mean_fig.multi_line("xs", "ys", source=self.bins_src, color="color", line_width=1, alpha=0.8,
                                 legend_field="name")
        n_bins = max((len(c) for c, _ in data.by_label.values()), default=0)
        outside_legend(self.mean_fig, n_entries=len(self.mean_fig.legend[0].items) - 1 + n_bins)
        spreads = label_spreads(data)
        diff = data.response.get("response_difference")
        if diff is not None:
            colours = distinct_colours(len(data.response_labels))  # one each, however many labels
            for i, name in enumerate(data.response_labels):
                c = with_gaps(data.wavelength, {"y": diff[i] * spreads[i]}, data.segments)
                self.resp_fig.line(c["x"], c["y"], color=colours[i], legend_label=name)
            outside_legend(self.resp_fig)
            self.resp_fig.legend.click_policy = "hide"
        names = data.response_labels or ["(none)"]
        self._share_names = names
        self.shares_src = ColumnDataSource({"label": names, "share": [0.0] * len(names),
                                            "color": [OTHER_COLOR] * len(names)})
        # one bar per label, 24 px each, so no label name is dropped for overlapping its neighbour
        self.shares_fig = figure(height=max(230, 24 * len(names) + 100), width=260, y_range=names, x_range=(0, 1),
                                 title="response difference", x_axis_label="share of |response difference|",
                                 tools="save")
        readable_axes(self.shares_fig)
        self.shares_fig.title.text_font_size = "9pt"
        self.shares_fig.hbar(y="label", right="share", height=0.7, source=self.shares_src, color="color")
        self.attr_text = LiveMarkdown("", width=260, height=190)
        self._draw_bins()
        self._show_attribution()

    @param.depends("binned_by", watch=True)
    def _draw_bins(self) -> None:
        data = self.state.data
        if self.binned_by not in data.by_label:
            return
        centres, rows = data.by_label[self.binned_by]
        xs, ys = [], []
        for r in rows:
            c = with_gaps(data.wavelength, {"y": r}, data.segments)
            xs.append(c["x"])
            ys.append(c["y"])
        idx = np.linspace(0, 255, max(len(rows), 1)).astype(int)
        self.bins_src.data = {"xs": xs, "ys": ys, "color": [Viridis256[i] for i in idx][:len(rows)],
                              "name": [f"{self.binned_by} {c:.4g}" for c in centres]}

    @param.depends("state.x_start", "state.x_end", "state.candidate", watch=True)
    def _show_attribution(self) -> None:
        """The stored attribution of the candidate in view (its bar highlighted), else the visible range's
        response difference with no label singled out."""
        st = self.state
        data = st.data
        c = st.candidate_in_view()
        attributed = stored_attribution(data.candidates, c) if c >= 0 else None
        if c >= 0:
            w = float(data.candidates["wavelength"].iloc[c])
            shares = response_shares(data, w - FEATURE_HALF_WIDTH, w + FEATURE_HALF_WIDTH)
            said = (f"{attributed.follows()}, as the store attributes it" if attributed
                    else "has no attribution in the store")
            text = (f"**Candidate {c + 1}** at {w:.2f} Å {said}. The bars: how the adapted model's response differs "
                    f"from the theory's within ±{FEATURE_HALF_WIDTH:g} Å"
                    + (" (highlighted: the attributed label)." if attributed else "."))
            title = f"response difference at candidate {c + 1}"  # its rank
        else:
            shares = response_shares(data, st.x_start, st.x_end)
            text = (f"Response difference over the visible range {st.x_start:.1f}–{st.x_end:.1f} Å. Pick a "
                    "candidate to see the label the store attributes it to.")
            title = "response difference in view"
        names = self._share_names
        label = attributed.label if attributed else None
        self.shares_src.data = {"label": names, "share": [shares.get(n, 0.0) for n in names],
                                "color": [ATTRIBUTED_COLOR if n == label else OTHER_COLOR for n in names]}
        self.shares_fig.title.text = title
        self.attr_text.object = text

    def __panel__(self):
        sel = pn.widgets.RadioButtonGroup.from_param(self.param.binned_by, label="bins of", color="light")
        return pn.Row(pn.Column(pn.Row(pn.pane.Markdown("mean correction in bins of"), sel),
                                pn.pane.Bokeh(self.mean_fig, sizing_mode="stretch_width"),
                                pn.pane.Bokeh(self.resp_fig, sizing_mode="stretch_width"),
                                sizing_mode="stretch_width"),
                      pn.Column(pn.pane.Bokeh(self.shares_fig), self.attr_text), sizing_mode="stretch_width")
