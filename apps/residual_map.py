"""Residual map: a stars × wavelength image of residual_theory / residual_adapted / correction.

Rows are the stars sorted by a chosen label. The cube is read once per process, streaming star blocks
(``cube_digest``): each sort key keeps at most ``MAX_ROWS`` rows, each the mean of consecutive stars in
that order, plus the cube's column at every candidate's pixel (for colouring the label space). A zoom
then only slices the visible x-range of that digest and rasterizes it with datashader (``raster``).
"""

from __future__ import annotations

import threading
from collections import defaultdict
from dataclasses import dataclass

import datashader as dsh
import numpy as np
import panel as pn
import param
import scipy.sparse as sp
import xarray as xr
from bokeh.models import ColumnDataSource, FixedTicker, LinearColorMapper

from apps.batching import select_for
from apps.plotting import DIVERGING as PALETTE
from apps.plotting import colour_bar, wavelength_figure
from apps.session import ExplorerState
from apps.store_data import StoreData, load_store

MAX_ROWS = 1000  # rows kept per sort key; a 100,000-star store averages 100 stars per row
BLOCK_STARS = 4096  # stars read per step of the streaming pass
CANVAS = (900, 300)  # datashader raster (width, height) in pixels
NAN_COLOR = "#dddddd"
#: what each map quantity is, for colour bars (all in continuum-normalised flux)
CUBE_MEANING = {"residual_theory": "obs − theory", "residual_adapted": "obs − adapted",
                "correction": "adapted − theory"}
LEVELS = 255  # the image goes to the page as uint8 codes 0..254 over [-limit, limit]; NAN_CODE marks no data
NAN_CODE = 255


@dataclass
class CubeDigest:
    """rows: sort key -> (n_rows, npix) float32 mean of the cube over consecutive sorted stars;
    row_values: sort key -> (n_rows,) median of the key in each row; columns: (n_star, ncand) float32."""

    cube: str
    rows: dict[str, np.ndarray]
    row_values: dict[str, np.ndarray]
    columns: np.ndarray
    stars_per_row: float


def build_digest(data: StoreData, cube: str, max_rows: int = MAX_ROWS, block: int = BLOCK_STARS) -> CubeDigest:
    """One streaming pass over ``cube`` (never the whole cube in memory); see the module docstring."""
    n, npix = data.n_star, data.wavelength.size
    n_rows = max(1, min(n, max_rows))
    groups, values = {}, {}
    for key in data.sort_keys:
        v = data.stars[key].to_numpy()
        order = np.argsort(np.where(np.isfinite(v), v, np.inf), kind="stable")
        rank = np.empty(n, dtype=np.int64)
        rank[order] = np.arange(n)
        groups[key] = rank * n_rows // n
        values[key] = np.array([np.nanmedian(v[order[g * n // n_rows:(g + 1) * n // n_rows]]) if n else np.nan
                                for g in range(n_rows)])
    sums = {k: np.zeros((n_rows, npix)) for k in groups}
    counts = {k: np.zeros((n_rows, npix)) for k in groups}
    cand_pix = np.array([data.pixel(w) for w in data.candidates.get("wavelength", [])], dtype=np.int64)
    columns = np.full((n, cand_pix.size), np.nan, dtype=np.float32)
    block = max(block // max(data.chunk_stars, 1), 1) * max(data.chunk_stars, 1)
    has_mask = "pixel_mask" in data.ds.variables
    for a in range(0, n, block):
        b = min(a + block, n)
        vals = np.asarray(data.ds[cube].isel(star=slice(a, b)).values, dtype=np.float64)
        if has_mask:
            vals[np.asarray(data.ds["pixel_mask"].isel(star=slice(a, b)).values) == 0] = np.nan
        ok = np.isfinite(vals)
        filled = np.where(ok, vals, 0.0)
        columns[a:b] = vals[:, cand_pix]
        for key, g in groups.items():
            m = sp.csr_matrix((np.ones(b - a), (g[a:b], np.arange(b - a))), shape=(n_rows, b - a))
            sums[key] += m @ filled
            counts[key] += m @ ok
    with np.errstate(invalid="ignore", divide="ignore"):
        rows = {k: (sums[k] / counts[k]).astype(np.float32) for k in groups}
    return CubeDigest(cube, rows, values, columns, n / n_rows)


_locks: dict[tuple[str, str], threading.Lock] = defaultdict(threading.Lock)


@pn.cache(max_items=12)
def _cached_digest(path: str, cube: str) -> CubeDigest:
    return build_digest(load_store(path), cube)


def cube_digest(path: str, cube: str) -> CubeDigest:
    """``build_digest`` once per process and cube; concurrent sessions wait for the first to finish."""
    with _locks[(path, cube)]:
        return _cached_digest(path, cube)


def raster(data: StoreData, digest: CubeDigest, key: str, x0: float, x1: float,
           size: tuple[int, int] = CANVAS) -> np.ndarray:
    """(height <= rows, width) datashader mean raster of the digest rows over [x0, x1] Å; NaN in gaps."""
    rows = digest.rows[key]
    n_rows = rows.shape[0]
    size = (size[0], min(size[1], n_rows))  # never upsample rows: datashader would leave empty lines
    cvs = dsh.Canvas(plot_width=size[0], plot_height=size[1], x_range=(x0, x1), y_range=(-0.5, n_rows - 0.5))
    out = np.full((size[1], size[0]), np.nan, dtype=np.float64)
    y = np.arange(n_rows, dtype=np.float64)
    for seg in data.segments:
        wl = data.wavelength[seg]
        i0 = max(int(np.searchsorted(wl, x0)) - 1, 0)
        i1 = min(int(np.searchsorted(wl, x1)) + 1, wl.size)
        if i1 - i0 < 2:
            continue
        da = xr.DataArray(rows[:, seg.start + i0:seg.start + i1], dims=("row", "wavelength"),
                          coords={"row": y, "wavelength": wl[i0:i1]}, name="value")
        agg = np.asarray(cvs.quadmesh(da, x="wavelength", y="row", agg=dsh.mean("value")).values, dtype=np.float64)
        out = np.where(np.isnan(out), agg, out)
    return out


def encode(img: np.ndarray, limit: float) -> np.ndarray:
    """uint8 codes of ``img`` over [-limit, limit] (clipped; NaN -> NAN_CODE): a quarter of the float32 bytes."""
    codes = np.clip(np.round((img + limit) / (2 * limit) * (LEVELS - 1)), 0, LEVELS - 1)
    return np.where(np.isfinite(img), codes, NAN_CODE).astype(np.uint8)


def robust_limit(digest: CubeDigest) -> float:
    """Symmetric colour limit: the 99th percentile of |value| over the digest rows."""
    any_rows = next(iter(digest.rows.values()))
    finite = np.abs(any_rows[np.isfinite(any_rows)])
    return float(np.percentile(finite, 99)) if finite.size else 1.0


_limits: dict[int, tuple[CubeDigest, float]] = {}


def digest_limit(digest: CubeDigest) -> float:
    """``robust_limit`` once per digest (a percentile over every row: tens of ms on a big store)."""
    key = id(digest)
    if key not in _limits or _limits[key][0] is not digest:
        _limits[key] = (digest, robust_limit(digest))
    return _limits[key][1]


class ResidualMap(pn.viewable.Viewer):
    """Stars (sorted by ``state.sort_by``) × wavelength image of ``state.cube``; x-range shared."""

    state = param.ClassSelector(class_=ExplorerState)

    def __init__(self, **params):
        super().__init__(**params)
        st = self.state
        self.source = ColumnDataSource({"image": [np.full((1, 1), NAN_CODE, dtype=np.uint8)], "x": [st.x_start], "y": [-0.5],
                                        "dw": [1.0], "dh": [1.0]})
        #: the colour bar's scale, in the cube's units
        self.mapper = LinearColorMapper(palette=PALETTE, low=-0.05, high=0.05, nan_color=NAN_COLOR)
        # the image's: the same palette over the uint8 codes (``encode``); NAN_CODE is above ``high``
        self.code_mapper = LinearColorMapper(palette=PALETTE, low=-0.5, high=LEVELS - 0.5, high_color=NAN_COLOR,
                                             nan_color=NAN_COLOR)
        self.figure = wavelength_figure(st, height=280, x_axis_label="vacuum wavelength (Å)", title="residual map")
        self.figure.image(image="image", x="x", y="y", dw="dw", dh="dh", source=self.source,
                          color_mapper=self.code_mapper)
        self.colorbar = colour_bar(self.mapper)
        self.figure.add_layout(self.colorbar, "right")
        self.figure.yaxis.ticker = FixedTicker(ticks=[])
        self._update()

    @param.depends("state.x_start", "state.x_end", "state.cube", "state.sort_by", watch=True)
    def _update(self) -> None:
        st = self.state
        data = st.data
        digest = cube_digest(str(data.path), st.cube)
        img = raster(data, digest, st.sort_by, st.x_start, st.x_end)
        n_rows = digest.rows[st.sort_by].shape[0]
        lim = digest_limit(digest)
        self.source.data = {"image": [encode(img, lim)], "x": [st.x_start], "y": [-0.5],
                            "dw": [st.x_end - st.x_start], "dh": [float(n_rows)]}
        self.mapper.update(low=-lim, high=lim)
        ticks = np.linspace(0, n_rows - 1, 5).round().astype(int)
        vals = digest.row_values[st.sort_by]
        self.figure.yaxis.ticker.ticks = ticks.tolist()  # in place: a new ticker would be a new model to send
        self.figure.yaxis.major_label_overrides = {int(t): f"{vals[t]:.4g}" for t in ticks}
        self.figure.yaxis.axis_label = f"stars sorted by {st.sort_by}"
        self.colorbar.title = f"{CUBE_MEANING.get(st.cube, st.cube)} (flux)"
        self.figure.title.text = (f"{st.cube} — {data.n_star:,} stars, "
                                  f"{digest.stars_per_row:.3g} per row")

    def __panel__(self):
        controls = pn.Row(select_for(self.state, "cube", "map quantity", width=180),
                          select_for(self.state, "sort_by", "sort rows by", width=180))
        return pn.Column(controls, pn.pane.Bokeh(self.figure, sizing_mode="stretch_width"),
                         sizing_mode="stretch_width")
