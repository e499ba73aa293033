"""Continuum normalisation of APOGEE spectra, as The Payne does it.

Per APOGEE chip (``gapviz.io.grids.chip_of``) a low-order Chebyshev polynomial in wavelength is fitted by
weighted least squares (weights = ivar = 1/flux_err²) to the continuum pixels chosen by The Cannon
(``aspcap_continuum_pixels()`` on the 7214-pixel ASPCAP grid; on any other grid each of those pixels is mapped
to the nearest pixel of that grid). The fit is iterated, clipping pixels whose normalised residual
(flux - fit) / flux_err lies outside [-clip_low, +clip_high] robust standard deviations (1.4826 MAD), so that
weak lines and cosmic rays left in the continuum set do not pull it. The flux and its error are then divided by
the fitted continuum. Pixels outside the three chips, or in a chip with too few usable continuum pixels,
get NaN flux and an infinite error (unusable, per the spectra contract).
"""

from __future__ import annotations

import numpy as np

from gapviz.io.grids import aspcap_continuum_pixels, aspcap_wavelength, chip_of
from gapviz.stats import robust_sigma

#: Fewest usable continuum pixels a chip needs for its fit; below this the chip is marked unusable.
MIN_CONTINUUM_PIXELS = 20


def continuum_pixels(wavelength: np.ndarray) -> np.ndarray:
    """(npix,) bool: The Cannon's continuum pixels on ``wavelength`` (vacuum Å).

    On the ASPCAP grid itself this is ``aspcap_continuum_pixels()``; on another grid each ASPCAP continuum pixel
    is mapped to the nearest pixel of ``wavelength`` if that pixel lies within one ASPCAP pixel width of it.
    """
    wavelength = np.asarray(wavelength, dtype=np.float64)
    grid = aspcap_wavelength()
    cont = aspcap_continuum_pixels()
    if wavelength.shape == grid.shape and np.allclose(wavelength, grid, rtol=1e-9, atol=0):
        return cont.copy()
    targets = grid[cont]
    step = np.gradient(grid)[cont]
    idx = np.clip(np.searchsorted(wavelength, targets), 1, wavelength.size - 1)
    left, right = wavelength[idx - 1], wavelength[idx]
    nearest = np.where(np.abs(targets - left) <= np.abs(right - targets), idx - 1, idx)
    close = np.abs(wavelength[nearest] - targets) <= step
    out = np.zeros(wavelength.size, dtype=bool)
    out[nearest[close]] = True
    return out


def _fit_chip(x: np.ndarray, flux: np.ndarray, ivar: np.ndarray, use: np.ndarray, degree: int,
              n_iter: int, clip_low: float, clip_high: float) -> np.ndarray | None:
    """Chebyshev coefficients of the clipped weighted fit of ``flux`` at pixels ``use``; None if too few."""
    use = use.copy()
    coef = None
    for _ in range(max(1, n_iter)):
        if use.sum() < max(MIN_CONTINUUM_PIXELS, degree + 2):
            return coef
        w = np.sqrt(ivar[use])
        vander = np.polynomial.chebyshev.chebvander(x[use], degree) * w[:, None]
        coef, *_ = np.linalg.lstsq(vander, flux[use] * w, rcond=None)
        resid = (flux - np.polynomial.chebyshev.chebval(x, coef)) * np.sqrt(ivar)
        r = resid[use]
        scale = robust_sigma(r)
        if not np.isfinite(scale) or scale <= 0:
            break
        keep = use & (resid > -clip_low * scale) & (resid < clip_high * scale)
        if keep.sum() == use.sum():
            break
        use = keep
    return coef


def fit_continuum(wavelength: np.ndarray, flux: np.ndarray, flux_err: np.ndarray | None = None,
                  pixels: np.ndarray | None = None, degree: int = 2, n_iter: int = 5,
                  clip_low: float = 2.0, clip_high: float = 3.0) -> np.ndarray:
    """The continuum (same units and shape as ``flux``: (npix,) or (nstar, npix)); NaN where it cannot be fitted.

    wavelength: (npix,) vacuum Å; flux_err: 1σ like flux or None (equal weights); pixels: (npix,) bool
    continuum pixels (default ``continuum_pixels(wavelength)``).
    """
    wavelength = np.asarray(wavelength, dtype=np.float64)
    flux2 = np.atleast_2d(np.asarray(flux, dtype=np.float64))
    if flux_err is None:
        err2 = np.ones_like(flux2)
    else:
        err2 = np.atleast_2d(np.asarray(flux_err, dtype=np.float64))
    pixels = continuum_pixels(wavelength) if pixels is None else np.asarray(pixels, dtype=bool)
    with np.errstate(divide="ignore", invalid="ignore"):
        ivar = np.where(np.isfinite(err2) & (err2 > 0), 1.0 / err2**2, 0.0)
    good = np.isfinite(flux2) & (ivar > 0) & (flux2 != 0)
    ivar = np.where(good, ivar, 0.0)
    flux0 = np.where(good, flux2, 0.0)
    chips = chip_of(wavelength)
    cont = np.full(flux2.shape, np.nan)
    for chip in np.unique(chips[chips >= 0]):
        sel = chips == chip
        w = wavelength[sel]
        x = 2.0 * (w - w[0]) / (w[-1] - w[0]) - 1.0 if w.size > 1 else np.zeros(1)
        for i in range(flux2.shape[0]):
            use = pixels[sel] & good[i, sel]
            coef = _fit_chip(x, flux0[i, sel], ivar[i, sel], use, degree, n_iter, clip_low, clip_high)
            if coef is not None:
                cont[i, sel] = np.polynomial.chebyshev.chebval(x, coef)
    cont[~(cont > 0)] = np.nan
    return cont.reshape(np.shape(flux))


def normalise(wavelength: np.ndarray, flux: np.ndarray, flux_err: np.ndarray | None = None,
              pixels: np.ndarray | None = None, degree: int = 2, n_iter: int = 5,
              clip_low: float = 2.0, clip_high: float = 3.0) -> tuple[np.ndarray, np.ndarray | None]:
    """Continuum-normalised ``(flux_norm, err_norm)``, shapes as ``flux`` ((npix,) or (nstar, npix)).

    ``err_norm`` is None when ``flux_err`` is None; where the continuum cannot be fitted the flux is NaN and
    the error infinite. Arguments as ``fit_continuum``.
    """
    cont = fit_continuum(wavelength, flux, flux_err, pixels, degree, n_iter, clip_low, clip_high)
    with np.errstate(divide="ignore", invalid="ignore"):
        flux_norm = np.asarray(flux, dtype=np.float64) / cont
        if flux_err is None:
            return flux_norm, None
        err_norm = np.asarray(flux_err, dtype=np.float64) / cont
    err_norm = np.where(np.isfinite(cont) & np.isfinite(err_norm), err_norm, np.inf)
    return flux_norm, err_norm
