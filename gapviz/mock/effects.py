"""Observing effects the theory lacks: continuum-normalisation error, photon noise, bad pixels.

(The fourth effect, a different line-spread function, is made by building the observed set's LineModel at
the observed resolution; see ``gapviz.mock.experiment``.) Each function is pure given its
``numpy.random.Generator``; flux arrays are ``(nstar, npix)`` continuum-normalised.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.polynomial import legendre

from gapviz.io.grids import chip_of


@dataclass(frozen=True)
class ObservingEffects:
    """Which effects the observed set gets (all on by default) and their sizes.

    resolution_observed: resolving power λ/Δλ of the observed LSF (used when ``lsf`` is on);
    snr_range: per-star continuum S/N drawn uniformly in [lo, hi] (used for flux_err even when ``noise`` is off);
    continuum_amplitude: peak |fractional| continuum error per chip drawn uniformly in this range;
    continuum_degree: Legendre degree of the continuum error per chip;
    bad_pixels: inclusive range of the number of bad pixels per star.
    """

    lsf: bool = True
    continuum: bool = True
    noise: bool = True
    bad_pixels: bool = True
    resolution_observed: float = 20000.0
    snr_range: tuple[float, float] = (50.0, 200.0)
    continuum_amplitude: tuple[float, float] = (0.005, 0.01)
    continuum_degree: int = 3
    n_bad_pixels: tuple[int, int] = (1, 5)


def continuum_error(wavelength: np.ndarray, n_star: int, rng: np.random.Generator,
                    amplitude: tuple[float, float] = (0.005, 0.01), degree: int = 3) -> np.ndarray:
    """(n_star, npix) multiplicative factors 1 + p(λ): a smooth mis-normalisation, one polynomial per chip.

    Each chip (``gapviz.io.grids.chip_of``; pixels outside the chips form one more group) gets its own
    random Legendre polynomial of ``degree`` in λ scaled to [-1, 1], rescaled so its peak |p| over that chip
    is drawn uniformly in ``amplitude`` (fractions, e.g. 0.005-0.01 = 0.5-1 %).
    """
    wavelength = np.asarray(wavelength, dtype=np.float64)
    factor = np.ones((n_star, wavelength.size))
    chips = chip_of(wavelength)
    for chip in np.unique(chips):
        pix = np.flatnonzero(chips == chip)
        lam = wavelength[pix]
        x = np.zeros_like(lam) if lam.size < 2 else 2.0 * (lam - lam[0]) / (lam[-1] - lam[0]) - 1.0
        coef = rng.normal(size=(n_star, degree + 1))
        poly = legendre.legval(x, coef.T)  # (n_star, npix_chip)
        peak = np.abs(poly).max(axis=1, keepdims=True)
        peak[peak == 0] = 1.0
        size = rng.uniform(*amplitude, size=(n_star, 1))
        factor[:, pix] += poly / peak * size
    return factor


def draw_snr(n_star: int, rng: np.random.Generator, snr_range: tuple[float, float] = (50.0, 200.0)) -> np.ndarray:
    """(n_star,) continuum signal-to-noise ratios drawn uniformly in ``snr_range``."""
    return rng.uniform(snr_range[0], snr_range[1], size=n_star)


def photon_sigma(flux: np.ndarray, snr: np.ndarray) -> np.ndarray:
    """(nstar, npix) 1σ photon noise: sqrt(flux) / S/N (so S/N holds in the continuum, less in lines)."""
    return np.sqrt(np.clip(flux, 1e-3, None)) / np.asarray(snr)[:, None]


def add_noise(flux: np.ndarray, sigma: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``flux`` plus Gaussian noise of standard deviation ``sigma`` (same shapes)."""
    return flux + sigma * rng.standard_normal(flux.shape)


def bad_pixel_mask(shape: tuple[int, int], rng: np.random.Generator, n_range: tuple[int, int] = (1, 5)) -> np.ndarray:
    """(nstar, npix) bool: a few bad pixels per star (count uniform in ``n_range``, inclusive), never all."""
    n_star, n_pix = shape
    mask = np.zeros(shape, dtype=bool)
    counts = rng.integers(n_range[0], n_range[1] + 1, size=n_star)
    counts = np.minimum(counts, n_pix - 1)
    for i, k in enumerate(counts):
        mask[i, rng.choice(n_pix, size=k, replace=False)] = True
    return mask


def corrupt_bad_pixels(flux: np.ndarray, flux_err: np.ndarray, mask: np.ndarray,
                       rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Mark ``mask`` pixels unusable (flux_err = inf) and give them a cosmic-ray-like spike in flux.

    The flux stays finite so careless averaging shows up as spikes rather than NaN; users must honour flux_err.
    """
    flux = flux.copy()
    flux_err = flux_err.copy()
    flux[mask] += rng.uniform(0.3, 1.5, size=int(mask.sum()))
    flux_err[mask] = np.inf
    return flux, flux_err


def observe(clean_flux: np.ndarray, wavelength: np.ndarray, effects: ObservingEffects,
            rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Apply the switched-on effects to noiseless model flux (already at the observed LSF).

    Returns ``(flux, flux_err, snr)``: (nstar, npix), (nstar, npix) true 1σ (inf on bad pixels), (nstar,).
    Random numbers are drawn in a fixed order whatever is switched off, so turning one effect off leaves
    the others' draws unchanged.
    """
    n_star = clean_flux.shape[0]
    cont = continuum_error(wavelength, n_star, rng, effects.continuum_amplitude, effects.continuum_degree)
    snr = draw_snr(n_star, rng, effects.snr_range)
    flux = clean_flux * cont if effects.continuum else clean_flux.astype(np.float64)
    sigma = photon_sigma(flux, snr)
    noisy = add_noise(flux, sigma, rng)
    if effects.noise:
        flux = noisy
    mask = bad_pixel_mask(flux.shape, rng, effects.n_bad_pixels)
    if effects.bad_pixels:
        flux, sigma = corrupt_bad_pixels(flux, sigma, mask, rng)
    return flux, sigma, snr
