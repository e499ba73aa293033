"""Find features in a mean correction: matched filter at the instrument's line width, significance, blends.

Sign convention: the correction is adapted minus theory, so a line missing from the theory is *negative*
(absorption); ``depth`` is reported positive for absorption and negative for emission.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.ndimage import median_filter
from scipy.optimize import curve_fit

from gapviz.instrument import FWHM_TO_SIGMA, RESOLUTION, resolution_element  # noqa: F401  (re-exported)
from gapviz.stats import robust_sigma

#: Running-median baseline width (resolution elements) subtracted before detection by default.
BASELINE_FWHM = 12.0
#: Detected components of one sign closer than this many resolution elements are one candidate.
MERGE_FWHM = 0.5

CANDIDATE_TABLE_COLUMNS = [
    "wavelength", "pixel", "depth", "equivalent_width", "width", "significance", "n_stars", "kind", "n_merged",
]


def remove_baseline(signal: np.ndarray, wavelength: np.ndarray, resolution: float, n_fwhm: float = 12.0) -> np.ndarray:
    """``signal`` minus its running median over ~``n_fwhm`` resolution elements (kills continuum offsets)."""
    dlam = np.median(np.diff(wavelength))
    size = int(max(5, round(n_fwhm * np.median(wavelength) / resolution / dlam)) | 1)
    filled = np.where(np.isfinite(signal), signal, 0.0)
    return signal - median_filter(filled, size=size, mode="nearest")


def matched_filter(
    wavelength: np.ndarray, signal: np.ndarray, sigma: np.ndarray, resolution: float = RESOLUTION
) -> tuple[np.ndarray, np.ndarray]:
    """Best-fit amplitude of a unit Gaussian (FWHM λ/R) centred on every pixel, and its 1σ error.

    wavelength (npix,) Å; signal, sigma (npix,) per-pixel value and 1σ error. Neighbours are weighted by
    their wavelength offset, so gaps between windows are handled. Returns (amplitude, amplitude_err).
    """
    npix = wavelength.size
    sig_lam = wavelength / resolution * FWHM_TO_SIGMA
    dlam = np.min(np.diff(wavelength)) if npix > 1 else 1.0
    half = int(min(50, np.ceil(3.0 * sig_lam.max() / dlam)))
    w = np.where(np.isfinite(signal) & np.isfinite(sigma) & (sigma > 0), 1.0 / np.maximum(sigma, 1e-30) ** 2, 0.0)
    s = np.where(w > 0, signal, 0.0)
    num, den = np.zeros(npix), np.zeros(npix)
    for k in range(-half, half + 1):
        lo, hi = max(0, -k), min(npix, npix - k)
        i = np.arange(lo, hi)
        g = np.exp(-0.5 * ((wavelength[i + k] - wavelength[i]) / sig_lam[i]) ** 2)
        num[i] += w[i + k] * g * s[i + k]
        den[i] += w[i + k] * g * g
    with np.errstate(invalid="ignore", divide="ignore"):
        amp = np.where(den > 0, num / den, np.nan)
        err = np.where(den > 0, 1.0 / np.sqrt(den), np.nan)
    return amp, err


def _gauss(x, a, mu, sig):
    return a * np.exp(-0.5 * ((x - mu) / sig) ** 2)


def _fit_profile(wavelength, signal, i, sig0, half_window=2.0, width=(0.5, 4.0)):
    """Gaussian fit (amplitude, centre Å, sigma Å) within ±``half_window`` FWHM of pixel i; None if it fails.

    ``width``: bounds on sigma in units of the instrumental ``sig0``.
    """
    sel = np.abs(wavelength - wavelength[i]) <= half_window * sig0 / FWHM_TO_SIGMA
    sel &= np.isfinite(signal)
    if sel.sum() < 4:
        return None
    x, y = wavelength[sel], signal[sel]
    try:
        p, _ = curve_fit(_gauss, x, y, p0=(signal[i], wavelength[i], sig0),
                         bounds=([-np.inf, wavelength[i] - sig0, width[0] * sig0],
                                 [np.inf, wavelength[i] + sig0, width[1] * sig0]),
                         maxfev=2000)
    except (RuntimeError, ValueError):
        return None
    return p if np.sign(p[0]) == np.sign(signal[i]) else None


def detect_features(
    wavelength: np.ndarray,
    mean: np.ndarray,
    sem: np.ndarray,
    resolution: float = RESOLUTION,
    min_significance: float = 5.0,
    min_depth: float = 0.01,
    n_mad: float = 2.5,
    n_below: np.ndarray | None = None,
    n_above: np.ndarray | None = None,
    baseline_fwhm: float | None = BASELINE_FWHM,
    merge_fwhm: float = MERGE_FWHM,
) -> pd.DataFrame:
    """Absorption and emission features in a mean correction, deblended one component at a time.

    wavelength (npix,) vacuum Å; mean (npix,) mean correction over stars; sem (npix,) its standard error.
    Iterative (CLEAN-like) detection: the matched-filter amplitude (a Gaussian of FWHM λ/R) is computed on
    the working signal; the pixel with the largest |amplitude| / error that passes both cuts,
    |amplitude| / error >= ``min_significance`` and |amplitude| >= max(``min_depth``, ``n_mad`` × the robust
    (MAD) scatter of the amplitude of the original signal over all pixels; the latter guards against
    systematic ripples the per-pixel error cannot see), becomes a component: a Gaussian fitted there
    (within ±0.75 λ/R, width 0.9-1.15 × the instrument's) is subtracted and the search repeats until no
    pixel passes. So two lines a resolution element apart, which one matched-filter peak would merge, come
    out as two candidates. Components of one sign closer than ``merge_fwhm`` × λ/R are merged into the most
    significant (``n_merged`` counts them). ``baseline_fwhm``: the running median over that many resolution
    elements is subtracted first (continuum offsets of a median observed − synthetic difference); None keeps
    the signal's own zero point. Reported per candidate: the fitted component's centroid, depth, width and
    equivalent width, and its matched-filter significance when it was picked.
    Returns one row per candidate, columns CANDIDATE_TABLE_COLUMNS
    (``equivalent_width`` in mÅ, ``width`` FWHM in Å).
    """
    wavelength = np.asarray(wavelength, dtype=np.float64)
    signal = np.asarray(mean, dtype=np.float64)
    if baseline_fwhm is not None:
        signal = remove_baseline(signal, wavelength, resolution, baseline_fwhm)
    sem = np.asarray(sem, dtype=np.float64)
    positive = sem[np.isfinite(sem) & (sem > 0)]
    floor = 1e-3 * np.median(positive) if positive.size else 1e-6
    sem = np.where(np.isfinite(sem), np.maximum(sem, max(floor, 1e-7)), np.nan)
    amp, err = matched_filter(wavelength, signal, sem, resolution)
    finite = amp[np.isfinite(amp)]
    mad = float(robust_sigma(finite)) if finite.size else 0.0
    depth_cut = max(min_depth, n_mad * mad)
    components = _clean(wavelength, signal, sem, resolution, min_significance, depth_cut)
    kept: list[dict] = []
    for comp in sorted(components, key=lambda c: -c["significance"]):
        twin = next((k for k in kept if k["kind"] == comp["kind"]
                     and abs(k["wavelength"] - comp["wavelength"]) < merge_fwhm * comp["wavelength"] / resolution),
                    None)
        if twin is not None:
            twin["n_merged"] += 1
            continue
        i = comp["pixel"]
        counts = n_below if comp["kind"] == "absorption" else n_above
        kept.append(comp | {"n_stars": int(counts[i]) if counts is not None else -1, "n_merged": 1})
    table = pd.DataFrame(kept, columns=CANDIDATE_TABLE_COLUMNS)
    return table.sort_values("wavelength", ignore_index=True)


def _clean(wavelength, signal, sem, resolution, min_significance, depth_cut) -> list[dict]:
    """Components found by repeated pick-and-subtract on ``signal``; see ``detect_features``."""
    sig_lam = wavelength / resolution * FWHM_TO_SIGMA
    work = np.where(np.isfinite(signal), signal, np.nan)
    out: list[dict] = []
    for _ in range(max(1, wavelength.size)):
        amp, err = matched_filter(wavelength, work, sem, resolution)
        with np.errstate(invalid="ignore"):
            snr = np.where((np.abs(amp) >= depth_cut) & (np.abs(amp) >= min_significance * err),
                           np.abs(amp) / err, 0.0)
        i = int(np.nanargmax(snr)) if np.any(snr > 0) else -1
        if i < 0:
            break
        fit = _fit_profile(wavelength, work, i, sig_lam[i], half_window=0.75, width=(0.9, 1.15))
        a, mu, sg = (amp[i], wavelength[i], sig_lam[i]) if fit is None else fit
        component = _gauss(wavelength, a, mu, sg)
        work = work - component
        if abs(matched_filter(wavelength[max(0, i - 8):i + 9], work[max(0, i - 8):i + 9],
                              sem[max(0, i - 8):i + 9], resolution)[0][min(i, 8)]) >= 0.5 * abs(amp[i]):
            work = work + component - _gauss(wavelength, amp[i], wavelength[i], sig_lam[i])  # poor fit: plain
            a, mu, sg = amp[i], wavelength[i], sig_lam[i]
        out.append({"wavelength": float(mu), "pixel": int(np.argmin(np.abs(wavelength - mu))), "depth": float(-a),
                    "equivalent_width": float(-a * sg * np.sqrt(2 * np.pi) * 1e3),
                    "width": float(sg / FWHM_TO_SIGMA), "significance": float(snr[i]),
                    "kind": "absorption" if a < 0 else "emission"})
    return out
