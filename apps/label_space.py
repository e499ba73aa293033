"""Label space: the Kiel diagram (teff–logg, both axes inverted) and [Fe/H] against logg, all stars.

Points are coloured by a chosen quantity (χ²ν before/after, the correction at the selected candidate's
wavelength, a label). Box or lasso selection sets ``state.stars``, which the other views follow.
"""

from __future__ import annotations

import numpy as np
import panel as pn
import param
from bokeh.models import ColorBar, ColumnDataSource, LinearColorMapper
from bokeh.palettes import Viridis256
from bokeh.plotting import figure

from apps.residual_map import cube_digest
from apps.session import ExplorerState
from apps.store_data import StoreData


def color_values(data: StoreData, color_by: str, candidate: int) -> np.ndarray:
    """(n_star,) values of ``color_by``; "correction at candidate" reads the digest's candidate column."""
    if color_by == "correction at candidate":
        if candidate < 0 or "wavelength" not in data.candidates:
            return np.full(data.n_star, np.nan)
        return cube_digest(str(data.path), "correction").columns[:, candidate].astype(np.float64)
    return data.stars[color_by].to_numpy(dtype=np.float64)


def color_limits(values: np.ndarray) -> tuple[float, float]:
    """2nd–98th percentile of the finite values (a fallback span when there are none)."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return 0.0, 1.0
    lo, hi = np.percentile(finite, [2, 98])
    return (float(lo), float(hi)) if hi > lo else (float(lo) - 0.5, float(hi) + 0.5)


class LabelSpace(pn.viewable.Viewer):
    """Two scatter plots on one data source, so a selection in either shows in both."""

    state = param.ClassSelector(class_=ExplorerState)

    def __init__(self, **params):
        super().__init__(**params)
        data = self.state.data
        # float32 and no per-star strings: this source goes to every session's page (100,000 stars = 1.6 MB)
        cols = {k: data.stars[k].to_numpy(dtype=np.float32) for k in ("teff", "logg", "fe_h") if k in data.stars}
        cols["color"] = np.zeros(data.n_star, dtype=np.float32)
        self.source = ColumnDataSource(cols)
        self.mapper = LinearColorMapper(palette=Viridis256, low=0, high=1, nan_color="#bbbbbb")
        size = 3 if data.n_star > 5000 else 6
        tools = "box_select,lasso_select,pan,wheel_zoom,reset,save,tap"
        kw = dict(height=300, sizing_mode="stretch_width", tools=tools, output_backend="webgl")
        self.kiel = figure(title="Kiel diagram", x_axis_label="teff (K)", y_axis_label="logg (dex)", **kw)
        self.kiel.x_range.flipped = True
        self.kiel.y_range.flipped = True
        self.metal = figure(title="[Fe/H] against logg", x_axis_label="fe_h (dex)", y_axis_label="logg (dex)",
                            y_range=self.kiel.y_range, **kw)
        style = dict(source=self.source, size=size, color={"field": "color", "transform": self.mapper},
                     line_color=None, selection_line_color="black", nonselection_alpha=0.15)
        if {"teff", "logg"} <= set(cols):
            self.kiel.scatter("teff", "logg", **style)
        if {"fe_h", "logg"} <= set(cols):
            self.metal.scatter("fe_h", "logg", **style)
        self.colorbar = ColorBar(color_mapper=self.mapper, width=10, title="")
        self.metal.add_layout(self.colorbar, "right")
        self.source.selected.on_change("indices", self._on_select)
        self._recolor()
        self._show_selection()

    def _on_select(self, attr, old, new) -> None:
        stars = sorted(int(i) for i in new)
        if stars != self.state.stars:
            self.state.stars = stars

    @param.depends("state.stars", watch=True)
    def _show_selection(self) -> None:
        if sorted(self.source.selected.indices) != self.state.stars:
            self.source.selected.indices = list(self.state.stars)

    @param.depends("state.color_by", "state.candidate", watch=True)
    def _recolor(self) -> None:
        st = self.state
        key = (st.color_by, st.candidate if st.color_by == "correction at candidate" else None)
        if key != getattr(self, "_colored", None):
            self._colored = key
            values = color_values(st.data, st.color_by, st.candidate)
            self.source.data["color"] = values.astype(np.float32)
            lo, hi = color_limits(values)
            if st.color_by == "correction at candidate":
                lim = max(abs(lo), abs(hi))
                lo, hi = -lim, lim
            self.mapper.update(low=lo, high=hi)
            self.colorbar.title = st.color_by if st.color_by != "correction at candidate" else (
                f"correction at candidate {st.candidate}" if st.candidate >= 0 else "pick a candidate")

    def controls(self) -> pn.widgets.Select:
        return pn.widgets.Select.from_param(self.state.param.color_by, label="colour stars by")

    def __panel__(self):
        return pn.Column(self.controls(), pn.Row(pn.pane.Bokeh(self.kiel, sizing_mode="stretch_width"),
                                                 pn.pane.Bokeh(self.metal, sizing_mode="stretch_width"),
                                                 sizing_mode="stretch_width"), sizing_mode="stretch_width")
