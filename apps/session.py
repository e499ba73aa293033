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


def row_of_rank(rank: int, n_candidate: int) -> int:
    """The candidate row (0-based) of a 1-based ``rank`` from a link; -1 for none or a rank the store lacks.

    ``cand=0`` can only come from a link made when ``cand=`` was the 0-based row: it opens row 0, the candidate
    that link named (the top-ranked one). Older links with ``cand=k >= 1`` open rank k, the neighbour in rank of
    the one they named; their wavelength range (``x0``, ``x1``) is kept as it was, so the view is the same."""
    row = rank - 1 if rank >= 1 else (0 if rank == 0 else -1)
    return row if row < n_candidate else -1


#: stars with an S/N at least this quantile of the store's are "good S/N" for the default star
GOOD_SNR_QUANTILE = 0.5
_showcase: dict[str, int] = {}


def showcase_star(data: StoreData) -> int:
    """The star shown when none is selected: the one whose learned correction at the top-ranked candidate's
    pixel is deepest (most negative for an absorption, most positive for an emission) among the stars with good
    S/N (at least the store's median); the highest-S/N star when the store has no candidate or no correction.

    Reads the correction digest's candidate column (built once per process, as the map and the label-space
    colouring use it), so it is worked out once per store and process."""
    key = str(data.path)
    if key not in _showcase:
        snr = data.stars["snr"].to_numpy(dtype=float) if "snr" in data.stars else np.ones(data.n_star)
        best = int(np.nanargmax(snr)) if np.isfinite(snr).any() else 0
        if len(data.candidates) and "correction" in data.ds.variables and "wavelength" in data.candidates:
            from apps.residual_map import cube_digest  # it imports this module

            corr = cube_digest(key, "correction").columns[:, 0].astype(float)
            depth = float(data.candidates["depth"].iloc[0]) if "depth" in data.candidates else 1.0
            deep = -np.sign(depth or 1.0) * corr  # larger: deeper in the feature's sense
            good = np.isfinite(deep) & (snr >= np.nanquantile(snr, GOOD_SNR_QUANTILE))
            if good.any():
                best = int(np.flatnonzero(good)[np.argmax(deep[good])])
        _showcase[key] = best
    return _showcase[key]


class StarsText(param.String):
    """The address bar's star selection: a String that the query parser may hand over as a number (``stars=3``
    reads as the int 3, which a plain String refuses, and with it the link's whole view)."""

    @classmethod
    def deserialize(cls, value):
        return None if value is None else str(value)


class ExplorerState(param.Parameterized):
    """What one session is looking at; every view reads and writes it, the URL mirrors it."""

    x_start = param.Number(default=0.0, doc="left edge of the wavelength view, Å vacuum")
    x_end = param.Number(default=1.0, doc="right edge of the wavelength view, Å vacuum")
    stars = param.List(default=[], item_type=int, doc="selected star positions in the store")
    stars_url = StarsText(default="", doc="compact form of ``stars`` for the address bar")
    candidate = param.Integer(default=-1, doc="selected candidate row (-1: none); its rank is row + 1")
    rank = param.Integer(default=-1, doc="1-based rank of the selected candidate, as the URL's ``cand=`` carries it "
                                         "(-1: none; 0, only in a link made when ``cand=`` was the 0-based row, opens "
                                         "the top-ranked candidate, the one that link named)")
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

    @param.depends("candidate", watch=True)
    def _candidate_to_rank(self) -> None:
        rank = self.candidate + 1 if self.candidate >= 0 else -1
        if rank != self.rank:
            self.rank = rank

    @param.depends("rank", watch=True)
    def _rank_from_url(self) -> None:
        row = row_of_rank(self.rank, len(self.data.candidates))
        if row != self.candidate:
            self.candidate = row
        elif self.rank != (row + 1 if row >= 0 else -1):  # an unknown rank (or the legacy 0): name what is shown
            self.rank = row + 1 if row >= 0 else -1

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

    def open_on_the_gap(self) -> None:
        """The first view of a new session: the top-ranked candidate, centred (its star: ``showcase_star``)."""
        if len(self.data.candidates) and "wavelength" in self.data.candidates:
            self.select_candidate(0)

    def shown_stars(self) -> list[int]:
        """The stars the browser shows: the selection, or by default the star in which the top-ranked candidate
        is deepest among those with good S/N (``showcase_star``)."""
        if self.stars:
            return self.stars
        return [showcase_star(self.data)]
