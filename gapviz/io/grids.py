"""Wavelength grids shipped with the package (no network at run time)."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

import numpy as np


def _load(name: str, key: str) -> np.ndarray:
    with resources.files("gapviz.data").joinpath(name).open("rb") as fh:
        return np.load(fh)[key]


@lru_cache(maxsize=None)
def aspcap_wavelength() -> np.ndarray:
    """The 7214-pixel ASPCAP grid (three APOGEE chips, 15168.13-16936.75 Å, vacuum), as used by The Payne."""
    return _load("aspcap_wavelength.npz", "wavelength").astype(np.float64)


@lru_cache(maxsize=None)
def aspcap_payne_mask() -> np.ndarray:
    """(7214,) bool: True where tuned Kurucz models deviate > 2 % from the Sun/Arcturus (Ting et al. 2019)."""
    return _load("aspcap_payne_mask.npz", "apogee_mask").astype(bool)


@lru_cache(maxsize=None)
def aspcap_continuum_pixels() -> np.ndarray:
    """(7214,) bool: continuum pixels chosen by The Cannon on the ASPCAP grid."""
    return _load("aspcap_continuum_pixels.npz", "pixels_cannon").astype(bool)


#: APOGEE chip edges in vacuum Å (blue, green, red), with a little margin.
APOGEE_CHIPS: tuple[tuple[float, float], ...] = ((15050.0, 15835.0), (15840.0, 16450.0), (16455.0, 17000.0))


def chip_of(wavelength: np.ndarray) -> np.ndarray:
    """Chip index (0 blue, 1 green, 2 red; -1 outside) of each vacuum wavelength in Å."""
    out = np.full(np.shape(wavelength), -1, dtype=int)
    for i, (lo, hi) in enumerate(APOGEE_CHIPS):
        out[(wavelength >= lo) & (wavelength <= hi)] = i
    return out


#: A pixel step larger than this many median steps separates two stretches of a grid (a chip or window gap).
GAP_FACTOR = 5.0


def segments(wavelength: np.ndarray) -> list[slice]:
    """The contiguous stretches of a grid (Å) as slices, split where a step exceeds ``GAP_FACTOR`` × the
    median step (chip gaps, window edges); one slice for a grid without gaps."""
    step = np.diff(np.asarray(wavelength, dtype=np.float64))
    if step.size == 0:
        return [slice(0, np.size(wavelength))]
    breaks = np.flatnonzero(step > GAP_FACTOR * np.median(step)) + 1
    edges = [0, *breaks.tolist(), np.size(wavelength)]
    return [slice(a, b) for a, b in zip(edges[:-1], edges[1:])]


#: The shipped sample's windows: (first vacuum Å, number of pixels) cut from the ASPCAP grid. Chosen to hold
#: Mn I + OH (blue), Ti I + Mg I (blue), Ca I + the CO 4-1 band head (green), Al I + Fe I + CN (red).
SAMPLE_WINDOWS: tuple[tuple[float, int], ...] = ((15200.0, 256), (15700.0, 256), (16150.0, 256), (16700.0, 256))


def window_pixels(windows: tuple[tuple[float, int], ...] = SAMPLE_WINDOWS) -> np.ndarray:
    """Indices into the ASPCAP grid of the pixels inside ``windows`` (sorted, unique)."""
    grid = aspcap_wavelength()
    idx = [np.arange(n) + int(np.searchsorted(grid, start)) for start, n in windows]
    return np.unique(np.concatenate(idx))


def sample_wavelength() -> np.ndarray:
    """The shipped sample's grid: 4 windows x 256 pixels of the ASPCAP grid (vacuum Å)."""
    return aspcap_wavelength()[window_pixels()]
