"""What the store keeps of one star chunk: the per-pixel cubes and per-star figures, from the models' fluxes.

A pure function of arrays: ``star_products(flux, flux_err, theory, counterpart, adapted, n_label)``. Residuals
are observed minus model; the learned correction is adapted minus theory (negative = absorption the theory
lacks). A pixel is usable where flux and flux_err are usable (``gapviz.stats.usable``) and both survive the
store's int16 packing; unusable pixels are NaN in flux_obs, flux_err and the residuals and 0 in pixel_mask.
χ²ν is ``gapviz.stats.chi2nu`` with the labels as fitted parameters.
"""

from __future__ import annotations

import numpy as np

from gapviz.stats import chi2nu, median_snr, usable
from gapviz.store import schema as S


def usable_pixels(flux: np.ndarray, flux_err: np.ndarray) -> np.ndarray:
    """(n, npix) bool: usable and storable (inside the packing range of flux_obs and flux_err)."""
    return (usable(flux_err, flux) & S.packable(flux, S.CUBES["flux_obs"].packing)
            & S.packable(flux_err, S.CUBES["flux_err"].packing))


def star_products(flux: np.ndarray, flux_err: np.ndarray, theory: np.ndarray, counterpart: np.ndarray,
                  adapted: np.ndarray, n_label: int) -> dict[str, np.ndarray]:
    """The cubes (n, npix) of the store schema and ``snr``, ``chi2nu_theory``, ``chi2nu_adapted`` (n,).

    flux, flux_err: observed (NaN flux_err = no error known); theory, counterpart, adapted: model fluxes.
    """
    flux, flux_err = np.asarray(flux, np.float64), np.asarray(flux_err, np.float64)
    theory, adapted = np.asarray(theory, np.float64), np.asarray(adapted, np.float64)
    mask = usable_pixels(flux, flux_err)
    snr = median_snr(flux, flux_err, mask)  # before the cubes exist: its temporaries then add to less
    res_t, res_a = flux - theory, flux - adapted
    return {
        "flux_obs": np.where(mask, flux, np.nan), "flux_err": np.where(mask, flux_err, np.nan),
        "flux_theory": theory, "flux_synthetic_counterpart": np.asarray(counterpart, np.float64),
        "flux_adapted": adapted, "residual_theory": np.where(mask, res_t, np.nan),
        "residual_adapted": np.where(mask, res_a, np.nan), "correction": adapted - theory,
        "pixel_mask": mask.astype(np.int8),
        "snr": snr, "chi2nu_theory": chi2nu(res_t, flux_err, n_label, mask),
        "chi2nu_adapted": chi2nu(res_a, flux_err, n_label, mask),
    }
