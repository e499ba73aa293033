"""Remove the instrumental part of a mean correction before looking for missing lines.

A line-spread function of another width than the theory's, or a wavelength-scale offset, changes every
line of the theory spectrum F in the same way: Gaussian broadening by Δσ² gives F + ½ Δσ² F'' and a shift
δλ gives F − δλ F'. In a mean correction these make a "W" (wings absorbing, core emitting) around every
strong line, whose wing dips look like missing lines about one resolution element from each strong theory
line. ``remove_instrumental`` fits the mean correction with F' and F'' of the mean theory spectrum (and a
constant), robustly (features beyond ``n_clip`` robust σ are left out of the fit, so the missing lines
themselves do not set the coefficients), and subtracts the F', F'' part.

Measured on the shipped mock (observed LSF at R = 20,000, theory at 22,500): of the false alarms of the
finder without it, 5 of 6 lay within 0.8-1.1 λ/R of a theory line deeper than 8 %; see ``gapviz.pipeline``.
"""

from __future__ import annotations

import numpy as np

#: Pixel spacing jumps larger than this many median spacings separate independent segments (chip gaps).
GAP_FACTOR = 5.0


def segments(wavelength: np.ndarray) -> list[np.ndarray]:
    """Index arrays of the contiguous stretches of ``wavelength`` (Å), split at gaps (chip or window edges)."""
    step = np.diff(wavelength)
    gaps = np.flatnonzero(step > GAP_FACTOR * np.median(step)) if step.size else np.zeros(0, int)
    return np.split(np.arange(wavelength.size), gaps + 1)


def instrumental_templates(wavelength: np.ndarray, theory_mean: np.ndarray) -> np.ndarray:
    """(2, npix): dF/dλ (Å⁻¹) and d²F/dλ² (Å⁻²) of the mean theory flux, per segment (NaN where undefined)."""
    wavelength = np.asarray(wavelength, dtype=np.float64)
    flux = np.asarray(theory_mean, dtype=np.float64)
    out = np.full((2, wavelength.size), np.nan)
    for seg in segments(wavelength):
        if seg.size < 3:
            continue
        d1 = np.gradient(flux[seg], wavelength[seg])
        out[0, seg] = d1
        out[1, seg] = np.gradient(d1, wavelength[seg])
    return out


def remove_instrumental(
    signal: np.ndarray, wavelength: np.ndarray, theory_mean: np.ndarray, n_clip: float = 3.0, n_iter: int = 5
) -> tuple[np.ndarray, np.ndarray]:
    """(signal − the fitted F', F'' part, coefficients (shift-like Å, broadening-like Å², constant)).

    signal (npix,) a mean correction (adapted − theory, flux); theory_mean (npix,) the mean theory flux of
    the same stars. Pixels where either is undefined are left unchanged.
    """
    signal = np.asarray(signal, dtype=np.float64)
    templates = instrumental_templates(wavelength, theory_mean)
    design = np.column_stack([templates.T, np.ones(signal.size)])
    usable = np.isfinite(signal) & np.all(np.isfinite(design), axis=1)
    if usable.sum() < 10 * design.shape[1]:
        return signal.copy(), np.zeros(design.shape[1])
    fit = usable.copy()
    coef = np.zeros(design.shape[1])
    for _ in range(n_iter):
        coef = np.linalg.lstsq(design[fit], signal[fit], rcond=None)[0]
        resid = signal - design @ coef
        scale = 1.4826 * np.median(np.abs(resid[usable] - np.median(resid[usable])))
        if not scale > 0:
            break
        fit = usable & (np.abs(resid) < n_clip * scale)
    part = np.where(usable, design[:, :2] @ coef[:2], 0.0)
    return signal - part, coef
