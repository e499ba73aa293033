"""The workbench's figures: the population image of one feature, its mean residual in label bins with the
proposal drawn over it, the species fits as bars, and the spectrum with the original or the reviewed list.

All are plain Bokeh figures fed by ``ColumnDataSource``s that an update replaces in one patch: the images are
at most 1000 stars × ~20 pixels, far below what needs datashader (``benchmarks/bench_workbench.py`` measures
the HoloViews rasterize path against this one).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from bokeh.models import ColumnDataSource, LinearColorMapper, Range1d, Span
from bokeh.palettes import Viridis256
from bokeh.plotting import figure

from apps.plotting import DIVERGING

#: Label bins of the mean-residual plot (quantiles of the sort label over the displayed stars).
N_BINS = 5
#: Species shown in the bar chart (best first).
N_SPECIES = 10


def sorted_rows(values: np.ndarray) -> np.ndarray:
    """Star order for the image rows: by ``values`` ascending, non-finite last."""
    v = np.where(np.isfinite(values), values, np.inf)
    return np.argsort(v, kind="stable")


def residual(obs: np.ndarray, model: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """obs − model, NaN where a pixel is unusable (weight 0)."""
    return np.where(weight > 0, obs - model, np.nan)


def binned_means(values: np.ndarray, rows: dict[str, np.ndarray], n_bins: int = N_BINS
                 ) -> tuple[list[str], dict[str, np.ndarray]]:
    """(bin names, {name: (n_bins, P) mean over the stars of each quantile bin of ``values``})."""
    ok = np.isfinite(values)
    edges = np.unique(np.quantile(values[ok], np.linspace(0, 1, n_bins + 1))) if ok.any() else np.zeros(1)
    which = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, max(len(edges) - 2, 0))
    names = [f"{edges[i]:.4g} – {edges[i + 1]:.4g}" for i in range(max(len(edges) - 1, 0))]
    out = {}
    for key, arr in rows.items():
        with np.errstate(all="ignore"):
            out[key] = np.array([np.nanmean(np.where((which == b)[:, None] & ok[:, None], arr, np.nan), axis=0)
                                 for b in range(len(names))]).reshape(len(names), arr.shape[1])
    return names, out


class FeatureFigures:
    """The population images (before / with the proposal as edited), the binned means and the species bars."""

    def __init__(self, colour_limit: float = 0.05):
        self.mapper = LinearColorMapper(palette=DIVERGING, low=-colour_limit, high=colour_limit,
                                        nan_color="#d9d9d9")
        self.image_src = ColumnDataSource({"before": [], "after": [], "x": [], "y": [], "dw": [], "dh": []})
        self.y_range = Range1d(0, 1)
        self.x_range = Range1d(-2, 2)
        self.before = self._image("before", "obs − theory, original list")
        self.after = self._image("after", "obs − theory × the proposal (as edited)")
        self.line_at = [Span(location=0, dimension="height", line_color="black", line_dash="dashed", line_width=1)
                        for _ in range(2)]
        self.before.add_layout(self.line_at[0])
        self.after.add_layout(self.line_at[1])
        self.bins_src = ColumnDataSource({"xs": [], "ys": [], "colour": [], "name": []})
        self.model_src = ColumnDataSource({"xs": [], "ys": [], "colour": []})
        self.bins = figure(height=300, sizing_mode="stretch_width", x_range=self.x_range,
                           title="mean residual in label bins; dashed: the proposal",
                           x_axis_label="Δλ from the feature (Å)", y_axis_label="flux (obs − theory)",
                           tools="pan,wheel_zoom,reset,save")
        self.bins.multi_line("xs", "ys", source=self.bins_src, line_color="colour", line_width=2, legend_field="name")
        self.bins.multi_line("xs", "ys", source=self.model_src, line_color="colour", line_width=2,
                             line_dash="dashed")
        self.bins.add_layout(self.bins.legend[0], "right")
        self.bins.legend.label_text_font_size = "8pt"
        self.species_src = ColumnDataSource({"species": [], "delta_bic": [], "colour": [], "text": []})
        self.species = figure(height=300, sizing_mode="stretch_width", y_range=[], tools="save",
                              title="which species: ΔBIC of a line of each species against the best",
                              x_axis_label="ΔBIC (0: the best; above 10: strongly disfavoured)")
        self.species.hbar(y="species", right="delta_bic", height=0.7, source=self.species_src, fill_color="colour",
                          fill_alpha=0.45, line_color=None)
        self.species.text(x=0, y="species", text="text", source=self.species_src, text_font_size="8pt",
                          text_baseline="middle", x_offset=4)

    def _image(self, column: str, title: str):
        f = figure(height=420, sizing_mode="stretch_width", title=title, x_range=getattr(self, "x_range", None),
                   y_range=self.y_range, x_axis_label="Δλ from the feature (Å)", tools="pan,wheel_zoom,reset,save")
        f.image(image=column, x="x", y="y", dw="dw", dh="dh", source=self.image_src, color_mapper=self.mapper)
        return f

    def show_images(self, before: np.ndarray, after: np.ndarray, dx: np.ndarray, line_dx: float | None,
                    sort_label: str) -> None:
        """Rows already sorted; ``dx`` (P,) pixel offsets from the feature (Å); ``line_dx`` where the edited line
        lies (a dashed marker; None: no line)."""
        step = float(np.median(np.diff(dx))) if dx.size > 1 else 0.2
        x0, width = float(dx[0] - step / 2), float(dx[-1] - dx[0] + step)
        n = before.shape[0]
        with np.errstate(all="ignore"):
            limit = float(np.nanpercentile(np.abs(before), 98)) if np.isfinite(before).any() else 0.05
        self.mapper.update(low=-max(limit, 0.01), high=max(limit, 0.01))  # one scale for both images
        self.image_src.data = {"before": [before.astype(np.float32)], "after": [after.astype(np.float32)],
                               "x": [x0], "y": [0], "dw": [width], "dh": [n]}
        self.x_range.update(start=x0, end=x0 + width)
        self.y_range.update(start=0, end=n)
        for span in self.line_at:
            span.location = line_dx
        for f in (self.before, self.after):
            f.yaxis.axis_label = f"stars, sorted by {sort_label}"

    def show_bins(self, names: list[str], dx: np.ndarray, observed: np.ndarray, predicted: np.ndarray,
                  sort_label: str) -> None:
        """Solid: mean obs − theory per bin; dashed: what the proposal (as edited) predicts there."""
        colours = [Viridis256[int(i)] for i in np.linspace(0, 230, max(len(names), 1))]
        xs = [dx] * len(names)
        self.bins_src.data = {"xs": xs, "ys": [np.nan_to_num(a, nan=0.0) for a in observed],
                              "colour": colours[:len(names)], "name": [f"{sort_label} {n}" for n in names]}
        self.model_src.data = {"xs": xs, "ys": [np.nan_to_num(a, nan=0.0) for a in predicted],
                               "colour": colours[:len(names)]}

    def show_species(self, fits: pd.DataFrame, proposed: str) -> None:
        """Bars of ΔBIC per species (best N_SPECIES first, from the top), the proposal's species in red."""
        top = fits.head(N_SPECIES).iloc[::-1]
        colour = ["#d62728" if s == proposed else "#7f7f7f" for s in top["species"]]
        text = [f"{d:.1f}  (χ {e:.1f} eV, log gf {g:.2f}, Δχ² {c:.0f} against no line)"
                for d, e, g, c in zip(top["delta_bic"], top["elow_ev"], top["loggf"], top["delta_chi2"])]
        self.species.y_range.factors = list(top["species"].astype(str))
        self.species_src.data = {"species": list(top["species"].astype(str)),
                                 "delta_bic": top["delta_bic"].to_numpy(float), "colour": colour, "text": text}


class SpectrumFigure:
    """The mean observed spectrum of the displayed stars around the feature and the mean theory with the
    original or the reviewed list."""

    def __init__(self):
        self.src = ColumnDataSource({"x": [], "obs": [], "theory": []})
        self.fig = figure(height=260, sizing_mode="stretch_width", x_axis_label="wavelength (Å, vacuum)",
                          y_axis_label="normalised flux", tools="pan,wheel_zoom,box_zoom,reset,save",
                          title="mean of the displayed stars")
        self.fig.line("x", "obs", source=self.src, color="black", legend_label="observed", line_width=1.5)
        self.theory = self.fig.line("x", "theory", source=self.src, color="#1f77b4", line_width=1.5,
                                    legend_label="theory")
        self.fig.legend.location = "bottom_left"

    def show(self, x: np.ndarray, obs: np.ndarray, theory: np.ndarray, which: str) -> None:
        self.src.data = {"x": x, "obs": obs, "theory": theory}
        self.fig.legend.items[1].label = {"value": f"theory ({which})"}
        self.theory.glyph.line_dash = "solid" if which.startswith("original") else "dashed"
