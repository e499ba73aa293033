"""Readers for SDSS APOGEE apStar and apVisit FITS files (DR17 layout), into ``Spectra``.

apStar: HDU1 flux, HDU2 error, HDU3 pixel bitmask, each (nrow, 8575) on the log-linear rest-frame grid
log10(λ/Å) = CRVAL1 + CDELT1 · i (vacuum). Rows: 0 = the combined spectrum with pixel-based visit weighting,
1 = the combined spectrum with global weighting, 2.. = the individual visits. We read row 0 by default.

apVisit: HDU1 flux, HDU2 error, HDU3 bitmask, HDU4 wavelength, each (3, 4096): one row per chip, stored in
decreasing wavelength (red chip first, and decreasing within a chip); we sort into increasing wavelength.
apVisit wavelengths are in the observer's frame; with ``rest_frame=True`` (default) they are shifted to the
star's rest frame with VREL from the RV table (HDU11): λ_rest = λ_obs / (1 + VREL/c).

Pixels are unusable (flux_err = inf, per the spectra contract) where a bit of ``BAD_PIXEL_BITS`` is set in the
APOGEE PIXMASK, or the flux is zero or non-finite, or the error is non-finite or not positive.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np

from gapviz.errors import GapvizError
from gapviz.instrument import C_KMS
from gapviz.io import continuum
from gapviz.io.grids import aspcap_wavelength
from gapviz.io.spectra import Spectra

#: APOGEE PIXMASK bits that make a pixel unusable (the bits APOGEE's own "bad" mask and The Payne's data
#: preparation reject): instrument/reduction failures plus persistence-high and sky-line pixels.
#: The informational bits are kept: 8 LITTROW_GHOST, 10 PERSIST_MED, 11 PERSIST_LOW, 13 SIG_TELLURIC,
#: 14 NOT_ENOUGH_PSF.
BAD_PIXEL_BITS: dict[str, int] = {
    "BADPIX": 0,
    "CRPIX": 1,
    "SATPIX": 2,
    "UNFIXABLE": 3,
    "BADDARK": 4,
    "BADFLAT": 5,
    "BADERR": 6,
    "NOSKY": 7,
    "PERSIST_HIGH": 9,
    "SIG_SKYLINE": 12,
}

BAD_PIXEL_MASK: int = sum(1 << b for b in BAD_PIXEL_BITS.values())

#: The apStar rest-frame grid: log10(λ/Å) = APSTAR_CRVAL1 + APSTAR_CDELT1 · i, i < APSTAR_NPIX (DR17).
APSTAR_CRVAL1, APSTAR_CDELT1, APSTAR_NPIX = 4.179, 6e-6, 8575
GRIDS = ("native", "aspcap")


def apstar_wavelength(crval1: float = APSTAR_CRVAL1, cdelt1: float = APSTAR_CDELT1,
                     npix: int = APSTAR_NPIX) -> np.ndarray:
    """(npix,) vacuum Å of a log-linear apStar grid (default: the DR17 8575-pixel grid, 15100.8-16999.8 Å)."""
    return 10.0 ** (float(crval1) + float(cdelt1) * np.arange(npix))


def _open_fits(path: str | os.PathLike):
    from astropy.io import fits
    from astropy.utils.exceptions import AstropyWarning

    path = Path(path)
    if not path.exists():
        raise GapvizError(f"{path}: no such file")
    try:
        with warnings.catch_warnings():
            # astropy only warns about a truncated or padded file; treat that as the error it is
            warnings.simplefilter("error", AstropyWarning)
            hdul = fits.open(path, memmap=False)
            len(hdul)  # reads every header now, under the filter
        return hdul
    except Exception as exc:  # astropy raises OSError, TypeError, ValueError or a warning for broken files
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise GapvizError(f"{path}: not a readable FITS file (truncated or corrupt?): {msg}") from None


def _image(hdul, index: int, path, what: str) -> np.ndarray:
    if len(hdul) <= index or hdul[index].data is None:
        raise GapvizError(f"{path}: missing HDU{index} ({what}); expected an APOGEE apStar/apVisit file")
    try:
        return np.asarray(hdul[index].data)
    except Exception as exc:
        raise GapvizError(f"{path}: HDU{index} ({what}) cannot be read (truncated file?): {exc}") from None


def _bad_pixels(flux: np.ndarray, err: np.ndarray, mask: np.ndarray, bits: int) -> np.ndarray:
    """True where a pixel is unusable: a bad PIXMASK bit, zero/non-finite flux, or a non-positive error."""
    return ((mask.astype(np.int64) & bits) != 0) | ~np.isfinite(flux) | (flux == 0) | ~(np.isfinite(err) & (err > 0))


def resample(wavelength: np.ndarray, flux: np.ndarray, flux_err: np.ndarray, bad: np.ndarray,
             target: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Linear interpolation in wavelength of one spectrum onto ``target`` (vacuum Å), masks propagated.

    A target pixel is bad if either source pixel it is interpolated from is bad, or it lies outside the source
    grid. The error is interpolated like the flux (pixel-to-pixel correlation is ignored). Returns
    ``(flux, flux_err, bad)`` on ``target``.
    """
    inside = (target >= wavelength[0]) & (target <= wavelength[-1])
    hi = np.clip(np.searchsorted(wavelength, target), 1, wavelength.size - 1)
    lo = hi - 1
    t = np.clip((target - wavelength[lo]) / (wavelength[hi] - wavelength[lo]), 0.0, 1.0)
    f = np.where(bad, 0.0, flux)
    e = np.where(bad, 0.0, flux_err)
    out_flux = (1 - t) * f[lo] + t * f[hi]
    out_err = (1 - t) * e[lo] + t * e[hi]
    # a source pixel with zero weight (target exactly on its neighbour) does not spoil the target
    out_bad = (bad[lo] & (t < 1)) | (bad[hi] & (t > 0)) | ~inside
    return out_flux, out_err, out_bad


def _finish(path, wavelength, flux, err, bad, grid, normalise, star_id, extra_source="") -> Spectra:
    if grid not in GRIDS:
        raise GapvizError(f"{path}: grid={grid!r}, expected one of {GRIDS}")
    if grid == "aspcap":
        target = aspcap_wavelength()
        flux, err, bad = resample(wavelength, flux, err, bad, target)
        wavelength = target
    err = np.where(bad, np.inf, err)
    flux = np.where(np.isfinite(flux), flux, np.nan)
    if normalise:
        flux, err = continuum.normalise(wavelength, flux, err)
    if not np.isfinite(err).any():
        raise GapvizError(f"{path}: no usable pixel{extra_source} (all masked, zero or non-finite)")
    return Spectra(wavelength=wavelength, flux=flux[None, :], flux_err=err[None, :], star_id=[star_id],
                   domain="observed", source=str(path))


def read_apstar(path: str | os.PathLike, grid: str = "native", normalise: bool = True, row: int = 0,
                bad_bits: int = BAD_PIXEL_MASK) -> Spectra:
    """One star from an apStar file: ``grid="native"`` (8575 px log-linear) or ``"aspcap"`` (7214 px).

    ``row`` selects the spectrum (0: combined, pixel-weighted; see the module docstring). Flux is continuum
    normalised (``gapviz.io.continuum``) unless ``normalise=False`` (then in 1e-17 erg/s/cm²/Å).
    star_id from OBJID (or APOGEE_ID); domain "observed"; no labels (see ``apogee_header_labels``).
    """
    with _open_fits(path) as hdul:
        head = hdul[0].header
        flux = np.atleast_2d(_image(hdul, 1, path, "flux"))
        err = np.atleast_2d(_image(hdul, 2, path, "flux error"))
        mask = np.atleast_2d(_image(hdul, 3, path, "pixel bitmask"))
        h1 = hdul[1].header
        crval = h1.get("CRVAL1", head.get("CRVAL1"))
        cdelt = h1.get("CDELT1", head.get("CDELT1"))
    if crval is None or cdelt is None:
        raise GapvizError(f"{path}: HDU1 header has no CRVAL1/CDELT1 (log10 Å grid); expected an apStar file")
    if not (flux.shape == err.shape == mask.shape):
        raise GapvizError(f"{path}: flux {flux.shape}, error {err.shape} and mask {mask.shape} HDUs differ in shape")
    if not 0 <= row < flux.shape[0]:
        raise GapvizError(f"{path}: row {row} requested, the file has {flux.shape[0]} spectra")
    npix = flux.shape[1]
    wavelength = apstar_wavelength(crval, cdelt, npix)
    f, e, m = (a[row].astype(np.float64) for a in (flux, err, mask))
    bad = _bad_pixels(f, e, m, bad_bits)
    star_id = str(head.get("OBJID") or head.get("APOGEE_ID") or Path(path).stem).strip()
    return _finish(path, wavelength, f, e, bad, grid, normalise, star_id)


def _rv_table(hdul) -> dict:
    """The first row of apVisit's RV table (the last BinTable HDU), as a dict; empty if none."""
    for hdu in reversed(hdul):
        if getattr(hdu, "columns", None) is not None and hdu.data is not None and len(hdu.data):
            return {name: hdu.data[name][0] for name in hdu.columns.names}
    return {}


def read_apvisit(path: str | os.PathLike, grid: str = "aspcap", normalise: bool = True, rest_frame: bool = True,
                 bad_bits: int = BAD_PIXEL_MASK) -> Spectra:
    """One visit from an apVisit file, on the ASPCAP grid (default) or the native grid (3 chips concatenated).

    Wavelength sorted increasing and, with ``rest_frame``, Doppler-shifted by VREL (module docstring).
    Flux continuum normalised unless ``normalise=False``. star_id from OBJID; domain "observed".
    """
    with _open_fits(path) as hdul:
        head = hdul[0].header
        flux = _image(hdul, 1, path, "flux").astype(np.float64)
        err = _image(hdul, 2, path, "flux error").astype(np.float64)
        mask = _image(hdul, 3, path, "pixel bitmask")
        wave = _image(hdul, 4, path, "wavelength").astype(np.float64)
        rv = _rv_table(hdul)
    if not (flux.shape == err.shape == mask.shape == wave.shape) or flux.ndim != 2:
        raise GapvizError(
            f"{path}: flux {flux.shape}, error {err.shape}, mask {mask.shape} and wavelength {wave.shape} HDUs "
            "must share one (nchip, npix) shape; expected an apVisit file"
        )
    wavelength, f, e, m = (a.reshape(-1) for a in (wave, flux, err, mask))
    order = np.argsort(wavelength, kind="stable")
    wavelength, f, e, m = wavelength[order], f[order], e[order], m[order]
    if rest_frame:
        vrel = rv.get("VREL", head.get("VREL"))
        if vrel is None or not np.isfinite(vrel):
            raise GapvizError(f"{path}: no VREL in the RV table or header; pass rest_frame=False to keep observed wavelengths")
        wavelength = wavelength / (1.0 + float(vrel) / C_KMS)
    keep = np.concatenate([[True], np.diff(wavelength) > 0])  # drop exact duplicates at chip joins, if any
    wavelength, f, e, m = wavelength[keep], f[keep], e[keep], m[keep]
    bad = _bad_pixels(f, e, m, bad_bits)
    star_id = str(head.get("OBJID") or rv.get("APOGEE_ID") or Path(path).stem).strip()
    return _finish(path, wavelength, f, e, bad, grid, normalise, star_id)


#: The RV pipeline's Doppler-template labels in an APOGEE header, and the names gapviz reads them as.
HEADER_LABEL_KEYS = {"RV_TEFF": "teff", "RV_LOGG": "logg", "RV_FEH": "fe_h"}


def header_values(path: str | os.PathLike) -> tuple[float, dict[str, float]]:
    """``(snr, header labels)`` of an apStar or apVisit file in one opening: each value from the primary header,
    else from the RV table (slow to parse, so read only when the primary header lacks a key); SNR is NaN and a
    label left out where neither has a finite value."""
    with _open_fits(path) as hdul:
        head = hdul[0].header
        rv = _rv_table(hdul) if any(k not in head for k in ("SNR", *HEADER_LABEL_KEYS)) else {}
    labels = {name: _finite(head.get(key, rv.get(key))) for key, name in HEADER_LABEL_KEYS.items()}
    return _finite(head.get("SNR", rv.get("SNR", rv.get("snr")))), {k: v for k, v in labels.items() if np.isfinite(v)}


def apogee_header_labels(path: str | os.PathLike) -> dict[str, float]:
    """The coarse Doppler-grid labels of an apStar (primary header) or apVisit (RV table) file.

    Returns ``{"teff": K, "logg": dex, "fe_h": dex}`` for the keys present; these are the RV pipeline's
    template parameters, not ASPCAP results, so readers never return them as labels.
    """
    return header_values(path)[1]


def _finite(value) -> float:
    """A header value as a finite float, NaN if it is absent, not a number or not finite."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        return float("nan")
    return value if np.isfinite(value) else float("nan")


def fits_kind(path: str | os.PathLike) -> str | None:
    """"apstar" or "apvisit" from the HDU layout of a FITS file, None if it is neither."""
    with _open_fits(path) as hdul:
        if len(hdul) < 4 or hdul[1].data is None:
            return None
        h1 = hdul[1].header
        shape1 = hdul[1].data.shape
        shape4 = hdul[4].data.shape if len(hdul) > 4 and hdul[4].data is not None else None
        if "CRVAL1" in h1 and "CDELT1" in h1 and str(h1.get("CTYPE1", "LOG-LINEAR")).upper().startswith("LOG"):
            return "apstar"
        if shape4 == shape1 and len(shape1) == 2 and np.all(np.asarray(hdul[4].data) > 1000):
            return "apvisit"
    return None
