"""What one browser session is looking at: ``ExplorerState``, the one param object every view reads and writes.

Its URL-safe parameters are mirrored in the address bar by ``apps.url_sync`` so a link reopens the same view.
"""

from __future__ import annotations

import numpy as np
import param
from bokeh.events import RangesUpdate
from bokeh.models import Range1d

from apps.batching import batched
from apps.links import format_stars, parse_stars
from apps.store_data import MAP_CUBES, StoreData

CANDIDATE_HALF_WIDTH = 3.0  # Å either side of a picked candidate


class ExplorerState(param.Parameterized):
    """What one session is looking at; every view reads and writes it, the URL mirrors it."""

    x_start = param.Number(default=0.0, doc="left edge of the wavelength view, Å vacuum")
    x_end = param.Number(default=1.0, doc="right edge of the wavelength view, Å vacuum")
    stars = param.List(default=[], item_type=int, doc="selected star positions in the store")
    stars_url = param.String(default="", doc="compact form of ``stars`` for the address bar")
    candidate = param.Integer(default=-1, doc="selected candidate row (-1: none)")
    color_by = param.Selector(default="chi2nu_theory", objects=["chi2nu_theory"])
    cube = param.Selector(default="residual_theory", objects=list(MAP_CUBES))
    sort_by = param.Selector(default="teff", objects=["teff"])
    store_key = param.String(default="", doc="fingerprint of the store the stars and candidate refer to")

    def __init__(self, data: StoreData, **params):
        super().__init__()
        self.data = data
        self.store_key = data.key
        colors = [c for c in ("chi2nu_theory", "chi2nu_adapted") if c in data.stars]
        colors += ["correction at candidate", *data.label_names, *(["snr"] if "snr" in data.stars else [])]
        self.param["color_by"].objects = colors
        sorts = data.sort_keys
        self.param["sort_by"].objects = sorts
        seg = data.segments[0]
        lo, hi = float(data.wavelength[0]), float(data.wavelength[-1])
        #: the one x-range every wavelength plot of this session uses (same Bokeh object)
        self.x_range = Range1d(float(data.wavelength[seg.start]) - 0.5, float(data.wavelength[seg.stop - 1]) + 0.5,
                               bounds=(lo - 5.0, hi + 5.0))
        defaults = {"color_by": colors[0], "sort_by": sorts[0], "x_start": round(self.x_range.start, 2),
                    "x_end": round(self.x_range.end, 2)}
        self.param.update(**{**defaults, **params})

    @param.depends("x_start", "x_end", watch=True)
    def _push_range(self) -> None:
        # a zoom in the page already moved the range; don't echo back its 0.01 Å rounding
        if abs(self.x_range.start - self.x_start) > 0.01 or abs(self.x_range.end - self.x_end) > 0.01:
            self.x_range.update(start=self.x_start, end=self.x_end)

    def follow_zoom(self, fig) -> None:
        """Make a zoom or pan in ``fig`` (a Bokeh figure on ``x_range``) move the state, once it settles."""
        fig.on_event(RangesUpdate, batched(lambda event: self.set_range(event.x0, event.x1)))

    @param.depends("stars", watch=True)
    def _stars_to_url(self) -> None:
        text = format_stars(self.stars)
        if text != self.stars_url:
            self.stars_url = text

    @param.depends("stars_url", watch=True)
    def _stars_from_url(self) -> None:
        if format_stars(self.stars) != self.stars_url:
            self.stars = parse_stars(self.stars_url, self.data.n_star)

    def set_range(self, start: float, end: float) -> None:
        """Move the wavelength view to [start, end] Å (rounded to 0.01 Å, as the URL keeps it)."""
        if end > start:
            self.param.update(x_start=round(float(start), 2), x_end=round(float(end), 2))

    def centre_on(self, wavelength: float, half_width: float = CANDIDATE_HALF_WIDTH) -> None:
        """Centre every wavelength view on ``wavelength`` Å, ± ``half_width`` Å."""
        self.set_range(wavelength - half_width, wavelength + half_width)

    def select_candidate(self, row: int) -> None:
        """Pick candidate ``row`` and centre the views on it (±3 Å)."""
        if 0 <= row < len(self.data.candidates):
            self.candidate = int(row)
            self.centre_on(float(self.data.candidates["wavelength"].iloc[row]))

    def candidate_in_view(self) -> int:
        """The selected candidate's row when its wavelength is inside the visible range, else -1."""
        c, cands = self.candidate, self.data.candidates
        if 0 <= c < len(cands) and self.x_start <= float(cands["wavelength"].iloc[c]) <= self.x_end:
            return c
        return -1

    def shown_stars(self) -> list[int]:
        """The stars the browser shows: the selection, or by default the star with the highest S/N."""
        if self.stars:
            return self.stars
        if "snr" in self.data.stars:
            return [int(np.nanargmax(self.data.stars["snr"].to_numpy()))]
        return [0]
