"""The small statistics every stage shares, each written once.

- ``robust_sigma``: 1.4826 × the median absolute deviation, the standard deviation a Gaussian with the
  same MAD would have; NaN ignored.
- ``chi2nu``: the reduced χ² of a star, Σ((flux − model)/flux_err)² over its usable pixels divided by
  ``degrees_of_freedom`` = usable pixels − fitted parameters (the labels), floored at 1. A pixel is usable
  where the residual is finite and flux_err is finite and > 0 (the spectra contract's rule). Training
  (``gapviz.adapt.losses.chi2nu_per_star``, in torch) uses the same ``degrees_of_freedom``.
"""

from __future__ import annotations

import numpy as np

#: σ of a Gaussian per unit median absolute deviation.
MAD_TO_SIGMA = 1.4826


def robust_sigma(values, axis=None):
    """1.4826 × MAD of ``values`` along ``axis`` (NaN ignored; NaN where nothing is finite)."""
    x = np.asarray(values, dtype=np.float64)
    if not np.isfinite(x).any():
        return np.nan if axis is None else np.full(np.delete(x.shape, axis), np.nan)
    with np.errstate(invalid="ignore"), _quiet():
        med = np.nanmedian(x, axis=axis, keepdims=True)
        return MAD_TO_SIGMA * np.nanmedian(np.abs(x - med), axis=axis)


def degrees_of_freedom(n_usable, n_param: int = 0):
    """Usable pixels − fitted parameters, at least 1 (numpy arrays and torch tensors alike)."""
    return (n_usable - n_param).clip(min=1)


def usable(flux_err: np.ndarray, *values: np.ndarray) -> np.ndarray:
    """Bool mask: flux_err finite and > 0, and every array in ``values`` finite."""
    err = np.asarray(flux_err)
    ok = np.isfinite(err) & (np.nan_to_num(err, nan=0.0) > 0)
    for v in values:
        ok &= np.isfinite(v)
    return ok


def median_snr(flux: np.ndarray, flux_err: np.ndarray, mask: np.ndarray | None = None):
    """Median flux / flux_err over the usable pixels of each spectrum (last axis); NaN where none.

    ``mask``: the usable pixels when the caller knows them already (default ``usable(flux_err, flux)``).
    """
    flux = np.asarray(flux, dtype=np.float64)
    ok = usable(flux_err, flux) if mask is None else np.asarray(mask, dtype=bool)
    ratio = np.divide(flux, flux_err, out=np.full(flux.shape, np.nan), where=ok)
    with _quiet():
        return np.nanmedian(ratio, axis=-1)


def chi2nu(residual: np.ndarray, flux_err: np.ndarray, n_param: int = 0,
           mask: np.ndarray | None = None) -> np.ndarray:
    """(nstar,) reduced χ² of residual = flux − model (nstar, npix) over usable pixels (∩ ``mask``)."""
    residual = np.asarray(residual, dtype=np.float64)
    ok = usable(flux_err, residual)
    if mask is not None:
        ok &= np.asarray(mask, dtype=bool)
    with np.errstate(invalid="ignore", divide="ignore"):
        z2 = np.where(ok, (residual / np.where(ok, flux_err, 1.0)) ** 2, 0.0)
    return z2.sum(axis=-1) / degrees_of_freedom(ok.sum(axis=-1), n_param)


class _quiet:
    """Silence numpy's "All-NaN slice" warning for rows with nothing finite (they give NaN, as documented)."""

    def __enter__(self):
        import warnings

        self._w = warnings.catch_warnings()
        self._w.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc):
        return self._w.__exit__(*exc)
