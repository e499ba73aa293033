"""Export: the candidates (CSV), the current star selection (CSV) and the current view (PNG).

The PNG is drawn on the server with datashader and Pillow (no browser or webdriver needed, works
offline): the shown star(s) against theory and adapted model over the visible range, above the residual
map of the same range. Every Bokeh plot also carries the SaveTool for a pixel-exact screenshot.
"""

from __future__ import annotations

import io

import datashader as dsh
import datashader.transfer_functions as tf
import numpy as np
import pandas as pd
import panel as pn
import param
import xarray as xr
from PIL import Image, ImageDraw

from apps.residual_map import cube_digest, raster, robust_limit
from apps.rows import read_shown
from apps.session import ExplorerState
from apps.wavelength_browser import SERIES, star_summary

PNG_SIZE = (1200, 360, 260)  # width, spectrum height, map height (pixels)
MARGIN = 40


def candidates_csv(state: ExplorerState) -> io.StringIO:
    """All candidates of the store in rank order, with their 1-based ``rank`` as the table shows it."""
    table = state.data.candidates
    if "rank" not in table:
        table = table.assign(rank=np.arange(1, len(table) + 1))
    return io.StringIO(table.to_csv(index=False))


def selection_csv(state: ExplorerState) -> io.StringIO:
    """star_id, position in the store and labels (with errors) of the selected (or shown) stars."""
    stars = state.shown_stars()
    table = state.data.stars.iloc[stars].copy()
    table.insert(1, "star_index", stars)
    return io.StringIO(table.to_csv(index=False))


def _spectrum_image(state: ExplorerState, width: int, height: int) -> tuple[Image.Image, tuple[float, float]]:
    data = state.data
    s = star_summary(read_shown(data, state.shown_stars())[1])
    sel = (data.wavelength >= state.x_start) & (data.wavelength <= state.x_end)
    ys = np.concatenate([s[v][sel] for v, *_ in SERIES.values() if v in s]) if sel.any() else np.array([0, 1])
    lo, hi = (np.nanmin(ys), np.nanmax(ys)) if np.isfinite(ys).any() else (0.0, 1.2)
    pad = 0.05 * (hi - lo or 1.0)
    cvs = dsh.Canvas(plot_width=width, plot_height=height, x_range=(state.x_start, state.x_end),
                     y_range=(lo - pad, hi + pad))
    layers = []
    for var, color, _ in SERIES.values():
        if var not in s:
            continue
        for seg in data.segments:  # one line per window: nothing drawn across a gap
            df = pd.DataFrame({"x": data.wavelength[seg], "y": s[var][seg]}).dropna()
            if len(df) > 1:
                layers.append(tf.spread(tf.shade(cvs.line(df, "x", "y", agg=dsh.any()), cmap=[color]), px=1))
    img = tf.stack(*layers).to_pil() if layers else Image.new("RGBA", (width, height))
    return img, (lo - pad, hi + pad)


def _map_image(state: ExplorerState, width: int, height: int) -> Image.Image:
    digest = cube_digest(str(state.data.path), state.cube)
    agg = raster(state.data, digest, state.sort_by, state.x_start, state.x_end, size=(width, height))
    lim = robust_limit(digest)
    da = xr.DataArray(np.clip(agg, -lim, lim), dims=("y", "x"))
    img = tf.shade(da, cmap=["#2166ac", "#f7f7f7", "#b2182b"], how="linear", span=(-lim, lim)).to_pil()
    return img.resize((width, height), Image.NEAREST)


def view_png(state: ExplorerState) -> io.BytesIO:
    """PNG of the current view: spectra over the visible range above the residual map."""
    w, h1, h2 = PNG_SIZE
    spec, (ylo, yhi) = _spectrum_image(state, w - 2 * MARGIN, h1)
    rmap = _map_image(state, w - 2 * MARGIN, h2)
    canvas = Image.new("RGB", (w, h1 + h2 + 3 * MARGIN), "white")
    canvas.paste(spec, (MARGIN, MARGIN), spec)
    canvas.paste(rmap, (MARGIN, h1 + 2 * MARGIN), rmap)
    draw = ImageDraw.Draw(canvas)
    data = state.data
    # Pillow's built-in font is ASCII only: no Å or dashes
    draw.text((MARGIN, 8), f"gapviz | {data.attrs.get('title', data.path)} | "
              f"stars {state.stars_url or state.shown_stars()[0]} | {state.cube}, rows sorted by {state.sort_by}",
              fill="black")
    names = {"#222222": "black", "#1f77b4": "blue", "#d62728": "red", "#2ca02c": "green"}
    legend = ", ".join(f"{lab} ({names.get(c, c)})" for _, c, lab in SERIES.values())
    draw.text((MARGIN, MARGIN + h1 + 4), f"flux {ylo:.2f} to {yhi:.2f}; {legend}", fill="black")
    for t in np.linspace(state.x_start, state.x_end, 6):
        x = MARGIN + (t - state.x_start) / (state.x_end - state.x_start) * (w - 2 * MARGIN)
        draw.line([(x, h1 + h2 + 2 * MARGIN), (x, h1 + h2 + 2 * MARGIN + 6)], fill="black")
        draw.text((x - 25, h1 + h2 + 2 * MARGIN + 10), f"{t:.2f} A", fill="black")
    out = io.BytesIO()
    canvas.save(out, format="PNG")
    out.seek(0)
    return out


class Export(pn.viewable.Viewer):
    """Three download buttons; files are built on click, from the session's state."""

    state = param.ClassSelector(class_=ExplorerState)

    def __init__(self, **params):
        super().__init__(**params)
        st = self.state
        self.candidates_button = pn.widgets.FileDownload(callback=lambda: candidates_csv(st),
                                                         filename="gapviz_candidates.csv",
                                                         label="Candidates (CSV)", color="primary")
        self.selection_button = pn.widgets.FileDownload(callback=lambda: selection_csv(st),
                                                        filename="gapviz_selection.csv",
                                                        label="Star selection (CSV)", color="primary")
        self.png_button = pn.widgets.FileDownload(callback=lambda: view_png(st), filename="gapviz_view.png",
                                                  label="Current view (PNG)", color="primary")

    def __panel__(self):
        return pn.Column("### Export", self.candidates_button, self.selection_button, self.png_button)
