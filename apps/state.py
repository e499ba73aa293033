"""Store loading (cached per process) and the per-session state every view shares.

The explorer reads only the store (docs/ARCHITECTURE.md §6): ``STORE_DIR/store.nc`` opened lazily through
``gapviz.store.open_store``. ``load_store`` keeps the small pieces in memory (per-star labels, the
wavelength summaries, candidates, the line list); star × wavelength cubes stay on disk and are read a few
rows at a time (``read_rows``). ``ExplorerState`` is the one param object per browser session; its
URL-safe parameters are synced to the address bar so a link reopens the same view.
"""

from __future__ import annotations

import functools
import hashlib
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import panel as pn
import param
import xarray as xr
from bokeh.events import RangesUpdate
from bokeh.models import Range1d

from apps.links import format_stars, parse_stars
from gapviz.errors import GapvizError

STORE_FILE = "store.nc"
#: Variables without which the explorer has nothing to show.
REQUIRED = ("wavelength", "star_id", "flux_obs", "flux_theory", "flux_adapted", "residual_theory",
            "residual_adapted", "correction")
#: Star × wavelength cubes the residual map can show.
MAP_CUBES = ("residual_theory", "residual_adapted", "correction")
#: Per-star rows the wavelength browser reads for the selected stars.
BROWSER_VARS = ("flux_obs", "flux_err", "flux_theory", "flux_adapted", "flux_synthetic_counterpart")
MAX_MEAN_STARS = 32  # stars averaged when many are selected (read from as few storage chunks as possible)
MAX_READ_CHUNKS = 4  # storage chunks read per selection: each costs ~30 ms to decompress (256 stars x 6 vars)


def repo_root() -> Path:
    """The repository holding ``apps/`` (and ``data_samples/``)."""
    return Path(__file__).resolve().parent.parent


def default_store_dir() -> Path:
    """The shipped sample store: ``data_samples/store``."""
    return repo_root() / "data_samples" / "store"


def store_dir_from_argv(argv: list[str] | None = None) -> Path:
    """The store chosen at server start: ``panel serve apps/explorer.py --args STORE_DIR`` or the sample."""
    argv = sys.argv if argv is None else argv
    args = [a for a in argv[1:] if a.strip()]
    return Path(args[0]).expanduser() if args else default_store_dir()


def store_path(path: str | Path) -> Path:
    """``STORE_DIR/store.nc`` (a path ending in ``.nc`` is taken as the store file itself)."""
    p = Path(path)
    return p if p.suffix == ".nc" or p.is_file() else p / STORE_FILE


def open_store(path: str | Path) -> xr.Dataset:
    """Open a store lazily; GapvizError naming the file and what was expected when it is not one."""
    f = store_path(path)
    if not f.exists():
        raise GapvizError(f"{f}: no gapviz store here (expected STORE_DIR/store.nc written by 'gapviz analyze')")
    if f.suffix != ".nc":
        raise GapvizError(f"{f}: not a gapviz store: expected STORE_DIR (a directory holding store.nc) or a "
                          "store.nc file written by 'gapviz analyze'")
    try:
        from gapviz.store import open_store as _open
    except ImportError:  # the store package is optional for the explorer's own tests
        _open = None
    try:
        ds = _open(f) if _open else xr.open_dataset(f, engine="h5netcdf", chunks={})
    except GapvizError:
        raise
    except Exception as exc:  # noqa: BLE001 - any reader failure means "not a store"
        raise GapvizError(f"{f}: not a gapviz store: could not read it as netCDF4/HDF5 ({exc})") from None
    missing = [v for v in REQUIRED if v not in ds.variables]
    if missing and ds.attrs.get("method") == "baseline":
        raise GapvizError(f"{f}: a baseline store (method='baseline') holds no per-star spectra; the explorer "
                          "needs a store written from an adapted run (with the star x wavelength variables)")
    if missing:
        raise GapvizError(f"{f}: not a gapviz store: dataset(s) {missing} missing "
                          "(expected the star x wavelength variables of docs/ARCHITECTURE.md §6)")
    return ds


def segments_of(wavelength: np.ndarray) -> list[slice]:
    """Contiguous pixel runs of ``wavelength`` (Å): a step > 5 median steps is a window or chip gap."""
    step = np.diff(wavelength)
    if step.size == 0:
        return [slice(0, wavelength.size)]
    breaks = np.flatnonzero(step > 5 * np.median(step)) + 1
    edges = [0, *breaks.tolist(), wavelength.size]
    return [slice(a, b) for a, b in zip(edges[:-1], edges[1:])]


def with_gaps(x: np.ndarray, ys: dict[str, np.ndarray], segments: list[slice]) -> dict[str, np.ndarray]:
    """Columns for a Bokeh line with a NaN between windows so no line is drawn across a gap."""
    cols: dict[str, list[np.ndarray]] = {"x": [], **{k: [] for k in ys}}
    for s in segments:
        cols["x"] += [x[s], [np.nan]]
        for k, y in ys.items():
            cols[k] += [y[s], [np.nan]]
    return {k: np.concatenate(v)[:-1] for k, v in cols.items()}


def outside_legend(fig) -> None:
    """Move a Bokeh figure's legend above the plot, one row, small type (it never hides data)."""
    legend = fig.legend[0]
    legend.orientation = "horizontal"
    legend.label_text_font_size = "8pt"
    legend.spacing = 4
    legend.padding = 2
    legend.margin = 0
    fig.add_layout(legend, "above")


def _values(ds: xr.Dataset, name: str) -> np.ndarray:
    return np.asarray(ds[name].values)


@dataclass
class StoreData:
    """The store's in-memory part. wavelength (npix,) Å vacuum; stars one row per star (index = position)."""

    path: Path
    ds: xr.Dataset
    wavelength: np.ndarray
    segments: list[slice]
    label_names: list[str]
    stars: pd.DataFrame
    candidates: pd.DataFrame
    lines: pd.DataFrame
    profiles: dict[str, np.ndarray] = field(default_factory=dict)  # name -> (npix,)
    by_label: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)  # label -> (bins, (nbin, npix))
    response: dict[str, np.ndarray] = field(default_factory=dict)  # name -> (nlabel, npix)
    response_labels: list[str] = field(default_factory=list)
    attrs: dict = field(default_factory=dict)
    chunk_stars: int = 1
    rows: xr.Dataset | None = None  # the same file without dask, for reading a few rows (read_rows)

    @property
    def n_star(self) -> int:
        return len(self.stars)

    def pixel(self, wavelength: float) -> int:
        """Index of the pixel nearest ``wavelength`` (Å)."""
        return int(np.argmin(np.abs(self.wavelength - wavelength)))

    @functools.cached_property
    def key(self) -> str:
        """A short fingerprint of the store's stars and candidates, for shared links ("g" + 8 hex digits).

        Links keep star positions and a candidate row, which mean other stars in another store (or a rerun
        of the same one): a link whose fingerprint differs keeps only its wavelength range and views.
        """
        h = hashlib.sha1(str(self.n_star).encode())
        h.update("\n".join(self.stars["star_id"].astype(str)).encode() if "star_id" in self.stars else b"")
        if "wavelength" in self.candidates:
            h.update(np.ascontiguousarray(self.candidates["wavelength"].to_numpy(np.float64)).tobytes())
        return "g" + h.hexdigest()[:8]  # a letter first: the URL parser would turn digits into a number


def _label_names(ds: xr.Dataset) -> list[str]:
    if "label" in ds.variables:
        names = [str(n) for n in _values(ds, "label")]
        return [n for n in names if n in ds.variables and ds[n].dims == ("star",)]
    from gapviz.labels import LABELS
    return [n for n in LABELS if n in ds.variables and ds[n].dims == ("star",)]


def _candidates(ds: xr.Dataset, path: Path) -> pd.DataFrame:
    try:
        from gapviz.store import store_candidates
        table = store_candidates(ds)
    except ImportError:
        table = pd.DataFrame({n.removeprefix("candidate_"): _values(ds, n) for n in ds.data_vars
                              if n.startswith("candidate_") and ds[n].dims == ("candidate",)})
    if table.empty and (path.parent / "candidates.csv").exists():
        table = pd.read_csv(path.parent / "candidates.csv")
    if not table.empty and "wavelength" not in table:
        raise GapvizError(f"{path}: candidate table has no 'candidate_wavelength' (docs/ARCHITECTURE.md §6)")
    for col in ("nearest_species", "attributed_label", "attributed_species", "identification"):
        if col in table:
            table[col] = table[col].astype(str)
    return table.reset_index(drop=True)


def build_store_data(path: Path) -> StoreData:
    """Read the small parts of the store at ``path`` (STORE_DIR or store.nc) into memory."""
    ds = open_store(path)
    f = store_path(path)
    wl = _values(ds, "wavelength").astype(np.float64)
    labels = _label_names(ds)
    cols = {"star_id": _values(ds, "star_id").astype(str)}
    for name in [*labels, *(f"{n}_err" for n in labels), "snr", "chi2nu_theory", "chi2nu_adapted"]:
        if name in ds.variables and ds[name].dims == ("star",):
            cols[name] = _values(ds, name).astype(np.float64)
    stars = pd.DataFrame(cols)
    lines = pd.DataFrame({k: _values(ds, f"line_{k}") for k in ("wavelength", "species", "loggf", "elow_ev")
                          if f"line_{k}" in ds.variables})
    if "species" in lines:
        lines["species"] = lines["species"].astype(str)
    profiles = {n: _values(ds, n).astype(np.float64) for n in
                ("correction_mean", "correction_std", "residual_theory_mean", "residual_adapted_mean",
                 "correction_systematic")
                if n in ds.variables}
    by_label = {}
    for name in ("teff", "logg", "fe_h"):
        var, dim = f"correction_by_{name}", f"{name}_bin"
        if var in ds.variables and dim in ds.variables:
            by_label[name] = (_values(ds, dim).astype(np.float64), _values(ds, var).astype(np.float64))
    response = {n: _values(ds, n).astype(np.float64) for n in ("response_adapted", "response_theory",
                                                                "response_difference") if n in ds.variables}
    resp_labels = [str(n) for n in _values(ds, "label")] if "label" in ds.variables else []
    enc = ds["flux_obs"].encoding.get("chunksizes") or (None,)
    chunk = int(enc[0]) if enc[0] else int(ds["flux_obs"].chunks[0][0]) if ds["flux_obs"].chunks else 1
    return StoreData(path=f, ds=ds, wavelength=wl, segments=segments_of(wl), label_names=labels, stars=stars,
                     candidates=_candidates(ds, f), lines=lines, profiles=profiles, by_label=by_label,
                     response=response, response_labels=resp_labels, attrs=dict(ds.attrs), chunk_stars=chunk,
                     rows=xr.open_dataset(f, engine="h5netcdf"))


@pn.cache(max_items=4)
def load_store(path: str) -> StoreData:
    """``build_store_data`` cached once per process for all sessions (keyed by the resolved path)."""
    return build_store_data(Path(path))


def pick_for_mean(stars: list[int], chunk_stars: int, n_max: int = MAX_MEAN_STARS,
                  max_chunks: int = MAX_READ_CHUNKS) -> np.ndarray:
    """Up to ``n_max`` of ``stars`` from at most ``max_chunks`` storage chunks, the fullest first (reading a
    row costs decompressing its whole chunk, so a scattered selection is sampled, not read in full)."""
    stars = np.unique(np.asarray(stars, dtype=np.int64))
    chunk = stars // max(chunk_stars, 1)
    ids, counts = np.unique(chunk, return_counts=True)
    if stars.size <= n_max and ids.size <= max_chunks:
        return stars
    picked: list[np.ndarray] = []
    for cid in ids[np.argsort(-counts, kind="stable")][:max_chunks]:
        picked.append(stars[chunk == cid])
        if sum(p.size for p in picked) >= n_max:
            break
    return np.sort(np.concatenate(picked)[:n_max])


_read_lock = threading.Lock()


def read_rows(data: StoreData, stars: np.ndarray, names=BROWSER_VARS) -> dict[str, np.ndarray]:
    """{name: (n, npix) float64} for the given (sorted, unique) star positions; NaN where masked.

    Reads one contiguous slab per storage chunk touched, through ``data.rows`` (a second, dask-free lazy
    handle: for a few rows dask's task overhead costs more than the read itself).
    """
    stars = np.asarray(stars, dtype=np.int64)
    names = [n for n in names if n in data.rows.variables]
    with_mask = "pixel_mask" in data.rows.variables
    parts: dict[str, list[np.ndarray]] = {n: [] for n in names + (["pixel_mask"] if with_mask else [])}
    chunk_of = stars // max(data.chunk_stars, 1)
    with _read_lock:  # one HDF5 reader at a time; h5py serialises anyway
        for c in np.unique(chunk_of):
            group = stars[chunk_of == c]
            a, b = int(group[0]), int(group[-1]) + 1
            slab = data.rows[list(parts)].isel(star=slice(a, b)).load()
            for n in parts:
                parts[n].append(np.asarray(slab[n].values)[group - a])
    out = {n: np.concatenate(parts[n]).astype(np.float64) for n in names}
    if with_mask:
        bad = np.concatenate(parts["pixel_mask"]) == 0
        for n in names:
            out[n][bad] = np.nan
    return out


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
        sorts = data.label_names + [c for c in ("chi2nu_theory", "snr") if c in data.stars]
        self.param["sort_by"].objects = sorts
        seg = data.segments[0]
        lo, hi = float(data.wavelength[0]), float(data.wavelength[-1])
        #: the one x-range every wavelength plot of this session uses (same Bokeh object)
        self.x_range = Range1d(float(data.wavelength[seg.start]) - 0.5, float(data.wavelength[seg.stop - 1]) + 0.5,
                               bounds=(lo - 5.0, hi + 5.0))
        defaults = dict(color_by=colors[0], sort_by=sorts[0], x_start=round(self.x_range.start, 2),
                        x_end=round(self.x_range.end, 2))
        self.param.update(**{**defaults, **params})

    @param.depends("x_start", "x_end", watch=True)
    def _push_range(self) -> None:
        # a zoom in the page already moved the range; don't echo back its 0.01 Å rounding
        if abs(self.x_range.start - self.x_start) > 0.01 or abs(self.x_range.end - self.x_end) > 0.01:
            self.x_range.update(start=self.x_start, end=self.x_end)

    def follow_zoom(self, fig) -> None:
        """Make a zoom or pan in ``fig`` (a Bokeh figure on ``x_range``) move the state, once it settles."""
        fig.on_event(RangesUpdate, lambda event: self.set_range(event.x0, event.x1))

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

    def centre_on(self, wavelength: float, half_width: float = 3.0) -> None:
        """Centre every wavelength view on ``wavelength`` Å, ± ``half_width`` Å."""
        self.set_range(wavelength - half_width, wavelength + half_width)

    def select_candidate(self, row: int) -> None:
        """Pick candidate ``row`` and centre the views on it (±3 Å)."""
        if 0 <= row < len(self.data.candidates):
            self.candidate = int(row)
            self.centre_on(float(self.data.candidates["wavelength"].iloc[row]))

    def shown_stars(self) -> list[int]:
        """The stars the browser shows: the selection, or by default the star with the highest S/N."""
        if self.stars:
            return self.stars
        if "snr" in self.data.stars:
            return [int(np.nanargmax(self.data.stars["snr"].to_numpy()))]
        return [0]

    def sync_url(self) -> None:
        """Mirror the URL-safe parameters in the address bar (no-op outside a server session).

        A link made on another store (``store`` differs from this store's ``key``) keeps its wavelength
        range and views but not its star positions and candidate row, which would name other stars.
        """
        if pn.state.location is None:
            return
        self.location = pn.state.location
        self.location.sync(self, {"x_start": "x0", "x_end": "x1", "stars_url": "stars", "candidate": "cand",
                                      "color_by": "color", "cube": "cube", "sort_by": "sort", "store_key": "store"},
                               on_error=lambda bad: None)
        self.location.param.watch(self._stamp_url, "search")
        self._stamp_url()

    def _stamp_url(self, *events) -> None:
        """Put this store's fingerprint in the address bar (with the state it refers to) when it is not there."""
        if str(self.location.query_params.get("store")) != self.store_key:
            self.location.update_query(store=self.store_key, stars=self.stars_url, cand=self.candidate)

    @param.depends("store_key", watch=True)
    def _foreign_link(self) -> None:
        if self.store_key != self.data.key:  # a link from another store: its stars and candidate mean nothing here
            self.param.update(stars=[], candidate=-1, store_key=self.data.key)
