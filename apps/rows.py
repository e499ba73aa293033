"""The row reader: a few stars' rows of the store's star × wavelength cubes, read without dask.

Reading one row costs decompressing its whole storage chunk (``StoreData.chunk_stars`` stars), so a large or
scattered selection is sampled from as few chunks as possible (``pick_for_mean``) and the rows are read as
one contiguous slab per chunk touched (``read_rows``).
"""

from __future__ import annotations

import threading

import numpy as np

from apps.store_data import StoreData

#: Per-star rows the wavelength browser reads for the selected stars.
BROWSER_VARS = ("flux_obs", "flux_err", "flux_theory", "flux_adapted", "flux_synthetic_counterpart")
MAX_MEAN_STARS = 32  # stars averaged when many are selected (read from as few storage chunks as possible)
MAX_READ_CHUNKS = 4  # storage chunks read per selection: each costs ~30 ms to decompress (256 stars x 6 vars)


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
            for n, part in parts.items():
                part.append(np.asarray(slab[n].values)[group - a])
    out = {n: np.concatenate(parts[n]).astype(np.float64) for n in names}
    if with_mask:
        bad = np.concatenate(parts["pixel_mask"]) == 0
        for n in names:
            out[n][bad] = np.nan
    return out


def read_shown(data: StoreData, stars: list[int]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """(positions read, ``read_rows`` of them) for the shown ``stars``: all of them, or a sample to average."""
    idx = pick_for_mean(stars, data.chunk_stars)
    return idx, read_rows(data, idx)
