"""What ``gapviz info`` prints about each kind of file (``gapviz.io.readers.detect_kind``)."""

from __future__ import annotations

import os
from pathlib import Path

import h5py
import numpy as np

from gapviz.discover.rank import absent_absorption
from gapviz.errors import GapvizError
from gapviz.io import apogee, cyclestarnet
from gapviz.io.grids import aspcap_wavelength, sample_wavelength
from gapviz.io.linelist import read_linelist
from gapviz.io.readers import detect_kind, read_any
from gapviz.io.spectra import Spectra, SpectraFile, _open_h5
from gapviz.io.text import read_text_spectrum
from gapviz.stats import median_snr

CHUNK_ROWS = 1024  # stars read at once when summarising a large file



class _SpectraStats:
    """Accumulates per-star S/N and usable-pixel counts over chunks of stars."""

    def __init__(self) -> None:
        self.snr: list[np.ndarray] = []
        self.n_usable = 0
        self.n_pixel = 0
        self.has_err = False

    def add(self, s: Spectra) -> None:
        ok = s.usable()
        self.n_usable += int(ok.sum())
        self.n_pixel += ok.size
        if s.flux_err is not None:
            self.has_err = True
            self.snr.append(median_snr(s.flux, s.flux_err))


def _grid_line(wavelength: np.ndarray) -> str:
    step = np.median(np.diff(wavelength))
    note = ""
    grids = (("the ASPCAP grid", aspcap_wavelength()), ("the shipped sample grid", sample_wavelength()),
             ("the apStar native grid", apogee.apstar_wavelength()))
    for name, grid in grids:
        if grid.shape == wavelength.shape and np.allclose(grid, wavelength, rtol=1e-7, atol=0):
            note = f", = {name}"
    return (f"grid: {wavelength.size} px, {wavelength[0]:.2f}-{wavelength[-1]:.2f} Å (vacuum), "
            f"median step {step:.4f} Å{note}")


def _labels_lines(labels: dict[str, np.ndarray]) -> list[str]:
    if not labels:
        return ["labels: none"]
    out = [f"labels ({len(labels)}):      min     median        max"]
    for name, v in labels.items():
        v = np.asarray(v, dtype=np.float64)
        fin = v[np.isfinite(v)]
        if fin.size == 0:
            out.append(f"  {name:8s} all non-finite")
        else:
            out.append(f"  {name:8s} {fin.min():10.3f} {np.median(fin):10.3f} {fin.max():10.3f}")
    return out


def _spectra_lines(kind: str, n_star: int, wavelength: np.ndarray, labels: dict, stats: _SpectraStats,
                   domain: str | None, extra: list[str] = ()) -> list[str]:
    lines = [f"kind: {kind}" + (f", domain {domain}" if domain else ""), f"stars: {n_star}", _grid_line(wavelength)]
    lines += _labels_lines(labels)
    if stats.has_err and stats.snr:
        snr = np.concatenate(stats.snr)
        if snr.size == 1:
            lines.append(f"S/N (median flux/flux_err): {snr[0]:.1f}")
        p = np.nanpercentile(snr, [5, 16, 50, 84, 95]) if np.isfinite(snr).any() else [np.nan] * 5
        if snr.size > 1:
            lines.append("S/N per star (median flux/flux_err) percentiles 5/16/50/84/95: "
                         + " / ".join(f"{x:.1f}" for x in p))
    else:
        lines.append("S/N: no flux_err in the file")
    frac = 1.0 - stats.n_usable / max(stats.n_pixel, 1)
    lines.append(f"bad pixels: {100 * frac:.2f} % (non-finite flux or no positive flux_err)")
    return lines + list(extra)


def _describe_spectra_file(path: Path) -> list[str]:
    stats = _SpectraStats()
    with SpectraFile(path) as f:
        for start in range(0, f.n_star, CHUNK_ROWS):
            stats.add(f.read(slice(start, min(start + CHUNK_ROWS, f.n_star))))
        return _spectra_lines("gapviz spectra (HDF5)", f.n_star, f.wavelength, f.labels, stats, f.domain)


def _describe_in_memory(kind: str, s: Spectra, extra: list[str] = ()) -> list[str]:
    stats = _SpectraStats()
    stats.add(s)
    ids = [] if s.star_id is None else [f"star_id: {', '.join(s.star_id[:5])}" + (" ..." if s.n_star > 5 else "")]
    return _spectra_lines(kind, s.n_star, s.wavelength, s.labels, stats, s.domain, ids + list(extra))


def _describe_cyclestarnet(path: Path) -> list[str]:
    with _open_h5(path) as f:
        lines = ["kind: Cycle-StarNet HDF5 (no wavelength grid stored; read with read_cyclestarnet(path, wavelength))"]
        lines.append(f"splits: {cyclestarnet.splits(f) or ['(none)']}")
        lines += _hdf5_tree(f)
    return lines


def _hdf5_tree(f: h5py.File, limit: int = 60) -> list[str]:
    out: list[str] = []

    def visit(name, obj):
        if len(out) >= limit:
            return
        if isinstance(obj, h5py.Dataset):
            out.append(f"  /{name}  {obj.shape} {obj.dtype}")
        else:
            out.append(f"  /{name}/")

    try:
        f.visititems(visit)
    except (OSError, RuntimeError, KeyError) as exc:
        raise GapvizError(f"{f.filename}: HDF5 structure cannot be read (truncated file?): {exc}") from None
    attrs = {k: f.attrs[k] for k in list(f.attrs.keys())[:12] if not k.startswith("_")}
    head = ["attributes: " + ", ".join(f"{k}={_short(v)}" for k, v in attrs.items())] if attrs else []
    return head + ["contents:"] + out + (["  ..."] if len(out) >= limit else [])


def _short(value) -> str:
    if isinstance(value, bytes):
        value = value.decode(errors="replace")
    text = str(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _describe_hdf5(path: Path, kind: str) -> list[str]:
    title = "netCDF4 (e.g. a gapviz store)" if kind == "netcdf" else "HDF5 (not a spectra file; e.g. a mock truth.h5)"
    with _open_h5(path) as f:
        return [f"kind: {title}"] + _hdf5_tree(f)


def _describe_linelist(path: Path) -> list[str]:
    table = read_linelist(path)
    lines = ["kind: line list", f"lines: {len(table)}"]
    if len(table):
        wl = np.asarray(table["wavelength"], dtype=np.float64)
        lines.append(f"wavelength: {np.nanmin(wl):.2f}-{np.nanmax(wl):.2f} Å (vacuum)")
        counts = table["species"].value_counts()
        lines.append("species: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    return lines


def _describe_candidates(path: Path) -> list[str]:
    """A `gapviz analyze` candidates.csv: how many, how many absent from the line list, the top ranked."""
    import pandas as pd

    table = pd.read_csv(path)

    absent = 0
    if "in_linelist" in table:  # a table without depths: every candidate the list lacks
        absent = int(absent_absorption(table).sum() if "depth" in table else (~table["in_linelist"].astype(bool)).sum())
    lines = ["kind: candidate missing-line table (gapviz analyze)",
             f"candidates: {len(table)} ({absent} absorption features absent from the line list)"]
    order = table.sort_values("rank") if "rank" in table else table.sort_values("score", ascending=False)
    for _, row in order.head(5).iterrows():
        label = row.get("attributed_label", "")
        lines.append(f"  {row['wavelength']:.2f} Å  depth {row.get('depth', float('nan')):.3f}  "
                     f"significance {row['significance']:.1f}  follows {label}")
    return lines


def _describe_score(path: Path) -> list[str]:
    """A `gapviz score` score.json: precision, recall, F1 and attribution of each method."""
    import json

    try:
        methods = json.loads(path.read_text())["methods"]
    except (ValueError, KeyError, TypeError):
        raise GapvizError(f"{path}: not a gapviz score.json (expected a JSON object with 'methods')") from None
    lines = ["kind: score against a mock's truth (gapviz score)"]
    for name, m in methods.items():
        lines.append(f"{name}: precision {m.get('precision')}, recall {m.get('recall')}, f1 {m.get('f1')}, "
                     f"attribution {m.get('attribution_accuracy')}")
    return lines


def _describe_torch(path: Path) -> list[str]:
    """A .pt file gapviz wrote: its format, labels and grid (run model, emulator, a store's theory.pt)."""
    import torch

    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling error means "not ours"
        raise GapvizError(f"{path}: not a readable torch file written by gapviz ({exc})") from None
    if not isinstance(payload, dict):
        raise GapvizError(f"{path}: a torch file, but not one gapviz writes (expected a dict with 'format')")
    emulator = payload.get("emulator") if isinstance(payload.get("emulator"), dict) else payload
    lines = [f"kind: {payload.get('format', 'a torch file without a gapviz format')} (torch file)"]
    names = payload.get("label_names") or emulator.get("label_names")
    if names:
        lines.append(f"labels: {', '.join(map(str, names))}")
    state = emulator.get("state_dict", {})
    grid = state.get("wavelength_") if isinstance(state, dict) else None
    if grid is not None:
        wl = np.asarray(grid, dtype=np.float64)
        lines.append(f"grid: {wl.size} px, {wl[0]:.2f}-{wl[-1]:.2f} Å (vacuum)")
    if "sigma_max" in payload:
        lines.append(f"pixel rules: flux_err floor {payload['sigma_floor']:g}, unusable above {payload['sigma_max']:g}")
    return lines


def describe(path: str | os.PathLike) -> str:
    """A multi-line human summary of ``path`` (kind, stars, grid, labels, S/N, bad pixels, or file structure)."""
    path = Path(path)
    try:
        return _describe(path)
    except (OSError, KeyError, RuntimeError) as exc:  # h5py/astropy on damaged files
        raise GapvizError(f"{path}: cannot be read (truncated or corrupt file?): {exc}") from None


def _describe(path: Path) -> str:
    kind = detect_kind(path)
    simple = {"spectra": _describe_spectra_file, "cyclestarnet": _describe_cyclestarnet,
              "linelist": _describe_linelist, "candidates": _describe_candidates, "score": _describe_score,
              "torch": _describe_torch}
    if kind in simple:
        lines = simple[kind](path)
    elif kind in ("netcdf", "hdf5"):
        lines = _describe_hdf5(path, kind)
    elif kind in ("apstar", "apvisit"):
        s = read_any(path)
        grid = "row 0 = combined, native grid" if kind == "apstar" else "3 chips, rest frame, ASPCAP grid"
        head = apogee.apogee_header_labels(path)
        extra = ["header Doppler labels (coarse, not ASPCAP): "
                 + (", ".join(f"{k}={v:.2f}" for k, v in head.items()) or "none")]
        lines = _describe_in_memory(f"APOGEE {kind} FITS ({grid}, continuum-normalised)", s, extra)
    else:
        lines = _describe_in_memory("text spectrum", read_text_spectrum(path))
    return "\n".join([f"{path}"] + ["  " + line for line in lines])
