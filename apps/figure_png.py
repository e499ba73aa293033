"""The current view as a publication-ready PNG, drawn on the server with Pillow (no browser, works offline).

Top: the shown star(s) over the visible range, each drawn curve (as the browser shows them) with its legend
entry, the flux axis ticked and labelled ("normalised flux"), its range the browser's rule (``y_limits``) kept
within ``FLUX_LIMITS`` so one bad pixel cannot flatten the figure; a masked pixel leaves a gap
(``apps.plotting.finite_runs``). Bottom: the residual map of the same range (rows: stars sorted by a label,
ticked with its values), the diverging colour map of the page with its colour bar and units. The shared x axis
is ticked and labelled "vacuum wavelength (Å)". The header names the store, the stars (wrapped) and, for one
star, its labels.
"""

from __future__ import annotations

import io
import textwrap

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from apps.plotting import DIVERGING, finite_runs
from apps.residual_map import CUBE_MEANING, cube_digest, digest_limit, raster
from apps.rows import read_shown
from apps.session import ExplorerState
from apps.wavelength_browser import SERIES, star_summary, y_limits

WIDTH = 1400
SPECTRUM_HEIGHT, MAP_HEIGHT = 380, 260  # plot areas, pixels
LEFT, RIGHT = 90, 200  # margins: the y axis and its label; the legend and the colour bar
FLUX_LIMITS = (-0.05, 1.6)  # the flux axis never goes beyond these (continuum-normalised flux)
WRAP = 150  # characters per header line
FONT_FILE = "DejaVuSans.ttf"  # has Å, λ, σ and −; Pillow's own font has not (ASCII fallback)


def _font(size: int):
    try:
        return ImageFont.truetype(FONT_FILE, size), True
    except OSError:
        return ImageFont.load_default(size=size), False


def _ascii(text: str) -> str:
    return (text.replace("Å", "A").replace("−", "-").replace("σ", "sigma").replace("λ", "lambda")
            .replace("χ²ν", "chi2nu").replace("—", "-").replace("–", "-").replace("±", "+/-"))


class _Canvas:
    """A white RGB image with text in one font (unicode when DejaVu Sans is found, else ASCII)."""

    def __init__(self, width: int, height: int):
        self.image = Image.new("RGB", (width, height), "white")
        self.draw = ImageDraw.Draw(self.image)
        self.font, self.unicode = _font(13)
        self.small, _ = _font(11)

    def text(self, xy, text: str, small: bool = False, anchor: str = "la", fill="black") -> None:
        self.draw.text(xy, text if self.unicode else _ascii(text), font=self.small if small else self.font,
                       anchor=anchor, fill=fill)

    def vertical_text(self, centre, text: str) -> None:
        text = text if self.unicode else _ascii(text)
        w, h = int(self.draw.textlength(text, font=self.font)) + 4, 18
        tile = Image.new("RGB", (w, h), "white")
        ImageDraw.Draw(tile).text((2, 2), text, font=self.font, fill="black")
        tile = tile.rotate(90, expand=True)
        self.image.paste(tile, (int(centre[0] - tile.width / 2), int(centre[1] - tile.height / 2)))


def nice_ticks(lo: float, hi: float, n: int = 6) -> np.ndarray:
    """About ``n`` round tick values inside [lo, hi] (steps of 1, 2 or 5 × 10^k)."""
    if not hi > lo:
        return np.array([lo])
    raw = (hi - lo) / max(n - 1, 1)
    mag = 10.0 ** np.floor(np.log10(raw))
    step = min((s * mag for s in (1, 2, 5, 10)), key=lambda st: abs((hi - lo) / st + 1 - n))
    return np.arange(np.ceil(lo / step) * step, hi + step * 1e-9, step)


def _tick_text(values: np.ndarray) -> list[str]:
    step = float(np.min(np.diff(values))) if values.size > 1 else 1.0
    dec = max(0, int(-np.floor(np.log10(step)))) if step > 0 else 2
    return [f"{v:.{dec}f}" for v in values]


def flux_limits(x: np.ndarray, curves: list[np.ndarray], x0: float, x1: float) -> tuple[float, float]:
    """The flux axis: the browser's ``y_limits`` of the drawn curves in [x0, x1], kept within ``FLUX_LIMITS``."""
    lim = y_limits(x, curves, x0, x1) or (0.0, 1.2)
    lo, hi = max(lim[0], FLUX_LIMITS[0]), min(lim[1], FLUX_LIMITS[1])
    return (lo, hi) if hi > lo else FLUX_LIMITS


def header_lines(state: ExplorerState, shown: list[int], read: list[int]) -> list[str]:
    """The header: store title, the stars drawn (``read`` of the ``shown``; wrapped) and, for one star, its
    labels."""
    data = state.data
    title = str(data.attrs.get("title", "") or data.path.parent.name)
    lines = [f"gapviz — {title} — {state.x_start:.2f}–{state.x_end:.2f} Å"]
    if len(shown) == 1:
        row = data.stars.iloc[shown[0]]
        labs = ", ".join(f"{n} {row[n]:.4g}" for n in data.label_names)
        lines += textwrap.wrap(f"star {row['star_id']} (#{shown[0]}): {labs}", WRAP)
    else:
        ids = ", ".join(data.stars["star_id"].iloc[read].astype(str))
        of = f" of {len(shown):,} selected" if len(read) < len(shown) else ""
        lines += textwrap.wrap(f"mean of {len(read):,}{of} stars: {ids}", WRAP, max_lines=8, placeholder=" …")
    return lines


def _x_pixel(w: np.ndarray, x0: float, x1: float, left: int, width: int) -> np.ndarray:
    return left + (np.asarray(w, dtype=float) - x0) / (x1 - x0) * width


def _frame(c: _Canvas, box, yticks, ylabels, ylabel: str) -> None:
    left, top, right, bottom = box
    c.draw.rectangle(box, outline="black")
    for t, lab in zip(yticks, ylabels):
        c.draw.line([(left - 5, t), (left, t)], fill="black")
        c.text((left - 8, t), lab, small=True, anchor="rm")
    c.vertical_text((22, (top + bottom) / 2), ylabel)


def _spectrum(c: _Canvas, state: ExplorerState, s: dict, visible: list[str], box, n_star: int) -> None:
    data, (left, top, right, bottom) = state.data, box
    x0, x1, w = state.x_start, state.x_end, data.wavelength
    keys = [k for k in SERIES if k in visible and SERIES[k][0] in s]
    curves = [s[SERIES[k][0]] for k in keys]
    if "obs" in keys:
        curves += [s["flux_obs"] - s["band"], s["flux_obs"] + s["band"]]
    lo, hi = flux_limits(w, curves or [s["flux_obs"]], x0, x1)
    to_y = lambda y: bottom - (np.asarray(y, dtype=float) - lo) / (hi - lo) * (bottom - top)  # noqa: E731
    plot = Image.new("RGB", (right - left, bottom - top), "white")
    pdraw = ImageDraw.Draw(plot)
    px = _x_pixel(w, x0, x1, 0, right - left)
    if "obs" in keys:  # the ±1σ band, one polygon per unmasked run
        blo, bhi = s["flux_obs"] - s["band"], s["flux_obs"] + s["band"]
        for r in finite_runs(px, blo, bhi):
            pts = list(zip(px[r], to_y(bhi[r]) - top)) + list(zip(px[r][::-1], to_y(blo[r][::-1]) - top))
            if len(pts) > 2:
                pdraw.polygon(pts, fill="#d9d9d9")
    for k in keys:  # the observed flux last, on top
        y = to_y(s[SERIES[k][0]]) - top
        for r in finite_runs(px, y):
            if r.stop - r.start > 1:
                pdraw.line(list(zip(px[r], y[r])), fill=SERIES[k][1], width=3 if k == "obs" else 2)
    c.image.paste(plot, (left, top))
    yt = nice_ticks(lo, hi, 6)
    _frame(c, box, to_y(yt), _tick_text(yt), "normalised flux")
    for i, k in enumerate(reversed(keys)):  # legend, right of the plot
        y = top + 10 + 20 * i
        c.draw.line([(right + 12, y), (right + 36, y)], fill=SERIES[k][1], width=3)
        c.text((right + 42, y), SERIES[k][2], small=True, anchor="lm")
    if "obs" in keys:
        y = top + 10 + 20 * len(keys)
        c.draw.rectangle([(right + 12, y - 5), (right + 36, y + 5)], fill="#d9d9d9")
        c.text((right + 42, y), "observed ±1σ" if n_star == 1 else "star-to-star scatter", small=True, anchor="lm")


def _map(c: _Canvas, state: ExplorerState, box) -> None:
    data, (left, top, right, bottom) = state.data, box
    digest = cube_digest(str(data.path), state.cube)
    agg = raster(data, digest, state.sort_by, state.x_start, state.x_end, size=(right - left, bottom - top))
    lim = digest_limit(digest)
    palette = np.array([[int(h[i:i + 2], 16) for i in (1, 3, 5)] for h in DIVERGING], dtype=float)
    pos = np.clip((np.asarray(agg, dtype=float) + lim) / (2 * lim), 0, 1) * (len(palette) - 1)
    rgb = np.stack([np.interp(pos, np.arange(len(palette)), palette[:, j]) for j in range(3)], axis=-1)
    rgb[~np.isfinite(agg)] = 221  # no data: light grey
    img = Image.fromarray(rgb[::-1].astype(np.uint8)).resize((right - left, bottom - top), Image.NEAREST)
    c.image.paste(img, (left, top))  # row 0 (the lowest value of the sort label) at the bottom
    n_rows = digest.rows[state.sort_by].shape[0]
    rows = np.linspace(0, n_rows - 1, 5).round().astype(int)
    vals = digest.row_values[state.sort_by]
    _frame(c, box, bottom - (rows + 0.5) / n_rows * (bottom - top), [f"{vals[r]:.4g}" for r in rows],
           f"stars sorted by {state.sort_by}")
    # colour bar: the map's diverging scale, 0 in the middle
    bx = right + 20
    for i in range(bottom - top):
        frac = 1 - i / max(bottom - top - 1, 1)
        p = frac * (len(palette) - 1)
        col = tuple(int(np.interp(p, np.arange(len(palette)), palette[:, j])) for j in range(3))
        c.draw.line([(bx, top + i), (bx + 14, top + i)], fill=col)
    c.draw.rectangle([(bx, top), (bx + 14, bottom)], outline="black")
    for v in (-lim, 0.0, lim):
        y = top + (1 - (v + lim) / (2 * lim)) * (bottom - top)
        c.draw.line([(bx + 14, y), (bx + 18, y)], fill="black")
        c.text((bx + 21, y), f"{v:+.3f}" if v else "0", small=True, anchor="lm")
    c.vertical_text((bx + 90, (top + bottom) / 2), f"{CUBE_MEANING.get(state.cube, state.cube)} (flux)")


def boxes(n_header: int) -> tuple[tuple[int, int, int, int], tuple[int, int, int, int]]:
    """(left, top, right, bottom) pixels of the spectrum and the map plot areas below ``n_header`` header lines."""
    top = 16 + 18 * n_header + 10
    spec_box = (LEFT, top, WIDTH - RIGHT, top + SPECTRUM_HEIGHT)
    return spec_box, (LEFT, spec_box[3] + 24, WIDTH - RIGHT, spec_box[3] + 24 + MAP_HEIGHT)


def view_png(state: ExplorerState, visible: list[str] | None = None) -> io.BytesIO:
    """PNG of the current view (see the module docstring); ``visible``: the curves drawn (all by default)."""
    visible = list(SERIES) if visible is None else list(visible)
    shown = state.shown_stars()
    idx, rows = read_shown(state.data, shown)
    s = star_summary(rows)
    header = header_lines(state, shown, [int(i) for i in idx])
    spec_box, map_box = boxes(len(header))
    c = _Canvas(WIDTH, map_box[3] + 60)
    for i, line in enumerate(header):
        c.text((LEFT, 10 + 18 * i), line)
    _spectrum(c, state, s, visible, spec_box, len(idx))
    _map(c, state, map_box)
    xt = nice_ticks(state.x_start, state.x_end, 7)
    for t, lab in zip(_x_pixel(xt, state.x_start, state.x_end, LEFT, WIDTH - RIGHT - LEFT), _tick_text(xt)):
        for box in (spec_box, map_box):
            c.draw.line([(t, box[3]), (t, box[3] + 5)], fill="black")
        c.text((t, map_box[3] + 8), lab, small=True, anchor="ma")
    c.text(((LEFT + WIDTH - RIGHT) / 2, map_box[3] + 30), "vacuum wavelength (Å)", anchor="ma")
    out = io.BytesIO()
    c.image.save(out, format="PNG", optimize=True)
    out.seek(0)
    return out
