"""Label space: the Kiel diagram (teff–logg, both axes inverted) and [Fe/H] against logg, all stars.

Points are coloured by a chosen quantity (χ²ν before/after, the correction at the selected candidate's
wavelength, a label). Box or lasso selection sets ``state.stars``, which the other views follow.

A store of more than ``MAX_POINTS`` stars is drawn as a fixed random sample of ``MAX_POINTS`` of them (each
redraw of 100,000 markers cost the page seconds, and every colouring sent them all); a box or lasso then selects
every star of the store inside it, on the server, from the selection's geometry (``select_geometry``).
"""

from __future__ import annotations

import numpy as np
import panel as pn
import param
from bokeh.events import SelectionGeometry
from bokeh.models import ColumnDataSource, LinearColorMapper
from bokeh.plotting import figure

from apps.batching import batched, select_for
from apps.plotting import (
    centred_limits,
    colour_bar,
    is_signed,
    palette_for,
    readable_axes,
)
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


MAX_POINTS = 10_000  # stars drawn at most (a fixed random sample of a bigger store)
KIEL_TITLE = "Kiel diagram (inferred labels)"


def shown_points(n_star: int, max_points: int = MAX_POINTS) -> np.ndarray:
    """Store positions drawn in the diagrams: all stars, or a fixed random sample of ``max_points`` (sorted)."""
    if n_star <= max_points:
        return np.arange(n_star)
    return np.sort(np.random.default_rng(0).choice(n_star, max_points, replace=False))


def inside_polygon(x: np.ndarray, y: np.ndarray, px, py) -> np.ndarray:
    """Boolean mask of the points (x, y) inside the polygon (px, py) (even-odd rule)."""
    px, py = np.asarray(px, dtype=np.float64), np.asarray(py, dtype=np.float64)
    inside = np.zeros(x.shape, dtype=bool)
    for i in range(px.size):
        x0, y0, x1, y1 = px[i - 1], py[i - 1], px[i], py[i]
        if y0 == y1:
            continue
        crosses = (y0 > y) != (y1 > y)
        with np.errstate(invalid="ignore", divide="ignore"):
            at = x0 + (y - y0) * (x1 - x0) / (y1 - y0)
        inside ^= crosses & (x < at)
    return inside


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
        #: store positions of the points drawn (all stars up to MAX_POINTS)
        self.shown = shown_points(data.n_star)
        self.sampled = self.shown.size < data.n_star
        # float32 and no per-star strings: this source goes to every session's page
        cols = {k: data.stars[k].to_numpy(dtype=np.float32)[self.shown] for k in ("teff", "logg", "fe_h")
                if k in data.stars}
        cols["color"] = np.zeros(self.shown.size, dtype=np.float32)
        self.source = ColumnDataSource(cols)
        self.mapper = LinearColorMapper(palette=palette_for(self.state.color_by), low=0, high=1, nan_color="#bbbbbb")
        size = 3 if self.shown.size > 5000 else 6
        tools = "box_select,lasso_select,pan,wheel_zoom,reset,save,tap"
        kw = dict(height=300, sizing_mode="stretch_width", tools=tools, output_backend="canvas")
        # the labels are the run's inferred ones (the adapted model's label fit), not spectroscopic measurements
        self.kiel = figure(title=KIEL_TITLE, x_axis_label="teff (K, inferred)", y_axis_label="logg (dex, inferred)",
                           **kw)
        self.kiel.x_range.flipped = True
        self.kiel.y_range.flipped = True
        self.metal = figure(title="[Fe/H]–logg (inferred)", x_axis_label="fe_h (dex, inferred)",
                            y_axis_label="logg (dex, inferred)", y_range=self.kiel.y_range, **kw)
        readable_axes(self.kiel)
        readable_axes(self.metal)
        style = dict(source=self.source, size=size, color={"field": "color", "transform": self.mapper},
                     line_color=None, selection_line_color="black", nonselection_alpha=0.15)
        if {"teff", "logg"} <= set(cols):
            self.kiel.scatter("teff", "logg", **style)
        if {"fe_h", "logg"} <= set(cols):
            self.metal.scatter("fe_h", "logg", **style)
        self.colorbar = colour_bar(self.mapper)
        self.metal.add_layout(self.colorbar, "right")
        self.source.selected.on_change("indices", self._on_select)
        if self.sampled:
            self.kiel.on_event(SelectionGeometry, lambda e: self._on_geometry("teff", "logg", e))
            self.metal.on_event(SelectionGeometry, lambda e: self._on_geometry("fe_h", "logg", e))
            self.kiel.title.text += f" ({self.shown.size:,} of {data.n_star:,} stars drawn)"
        self._recolor()
        self._show_selection()

    @batched
    def _on_select(self, attr, old, new) -> None:
        if self.sampled:  # the selection's geometry follows (SelectionGeometry) and selects every star
            return
        stars = sorted(int(i) for i in new)
        if stars != self.state.stars:
            self.state.stars = stars

    @batched
    def _on_geometry(self, x: str, y: str, event) -> None:
        if event.final:
            self.select_geometry(x, y, event.geometry)

    def select_geometry(self, x: str, y: str, geometry: dict) -> None:
        """Select every star of the store inside a box (``type`` "rect": x0, x1, y0, y1) or lasso ("poly": x, y)
        drawn in the diagram of label ``x`` against ``y``; a tap ("point") selects the tapped point drawn."""
        kind = geometry.get("type")
        stars = self.state.data.stars
        if kind == "rect":
            xs, ys = stars[x].to_numpy(), stars[y].to_numpy()
            x0, x1 = sorted((geometry["x0"], geometry["x1"]))
            y0, y1 = sorted((geometry["y0"], geometry["y1"]))
            picked = np.flatnonzero((xs >= x0) & (xs <= x1) & (ys >= y0) & (ys <= y1))
        elif kind == "poly":
            picked = np.flatnonzero(inside_polygon(stars[x].to_numpy(), stars[y].to_numpy(), geometry["x"],
                                                   geometry["y"]))
        else:
            picked = self.shown[np.asarray(self.source.selected.indices, dtype=np.int64)]
        stars_list = [int(i) for i in picked]
        if stars_list != self.state.stars:
            self.state.stars = stars_list

    @param.depends("state.stars", watch=True)
    def _show_selection(self) -> None:
        stars = np.asarray(self.state.stars, dtype=np.int64)
        if self.shown.size == 0:
            return
        pos = np.searchsorted(self.shown, stars)
        drawn = pos[(pos < self.shown.size) & (self.shown[np.minimum(pos, self.shown.size - 1)] == stars)]
        if sorted(self.source.selected.indices) != drawn.tolist():
            self.source.selected.indices = drawn.tolist()

    @param.depends("state.color_by", "state.candidate", watch=True)
    def _recolor(self) -> None:
        st = self.state
        key = (st.color_by, st.candidate if st.color_by == "correction at candidate" else None)
        if key != getattr(self, "_colored", None):
            self._colored = key
            values = color_values(st.data, st.color_by, st.candidate)
            self.source.data["color"] = values[self.shown].astype(np.float32)
            lo, hi = color_limits(values)
            if is_signed(st.color_by):  # a diverging map, 0 in its middle
                lo, hi = centred_limits(lo, hi)
            self.mapper.update(low=lo, high=hi, palette=palette_for(st.color_by))
            self.colorbar.title = st.color_by if st.color_by != "correction at candidate" else (
                f"correction at candidate {st.candidate + 1}" if st.candidate >= 0 else "pick a candidate")  # rank

    def controls(self) -> pn.widgets.Select:
        return select_for(self.state, "color_by", "colour stars by")

    def __panel__(self):
        return pn.Column(self.controls(), pn.Row(pn.pane.Bokeh(self.kiel, sizing_mode="stretch_width"),
                                                 pn.pane.Bokeh(self.metal, sizing_mode="stretch_width"),
                                                 sizing_mode="stretch_width"), sizing_mode="stretch_width")
