"""Remove what the instrument and a population-wide label offset explain from a mean correction.

Two systematic patterns in a mean correction (adapted − theory, averaged over the stars) are not missing
physics, and both look like it:

* instrumental: a line-spread function of another width than the theory's, or a wavelength-scale offset,
  changes every line of the theory spectrum F alike: Gaussian broadening by Δσ² gives F + ½ Δσ² F'' and a
  shift δλ gives F − δλ F'. Around every strong line this makes a "W" (wings absorbing, core emitting)
  whose wing dips look like missing lines about one resolution element from the line;
* a label offset: without labels for the observed stars, extra absorption can be read as extra abundance
  (a missing CO line looks like more carbon), so the inferred abundances of the whole population come out
  offset (+0.2-0.3 dex in [C/Fe] on the shipped mock); the theory at those labels then deepens every known
  line of that element by Δ × ∂F/∂[X/Fe], which cancels missing lines blended with known ones in the mean.

``remove_systematics`` fits the mean correction with these templates, F', F'' of the mean theory spectrum and
the mean theory response to each abundance label (fe_h, [X/Fe]) per population σ, plus a constant, robustly
(pixels beyond ``n_clip`` robust σ are left out of the fit, so the features themselves do not set the
coefficients), and subtracts the templates' part. teff and logg are left out: their responses overlap the
instrumental templates and, measured, including them lowers precision (docs/FINDER.md).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from gapviz.io.grids import segments
from gapviz.stats import robust_sigma


def instrumental_templates(wavelength: np.ndarray, theory_mean: np.ndarray) -> np.ndarray:
    """(2, npix): dF/dλ (Å⁻¹) and d²F/dλ² (Å⁻²) of the mean theory flux, per segment (NaN where undefined)."""
    wavelength = np.asarray(wavelength, dtype=np.float64)
    flux = np.asarray(theory_mean, dtype=np.float64)
    out = np.full((2, wavelength.size), np.nan)
    for seg in segments(wavelength):
        if seg.stop - seg.start < 3:
            continue
        d1 = np.gradient(flux[seg], wavelength[seg])
        out[0, seg] = d1
        out[1, seg] = np.gradient(d1, wavelength[seg])
    return out


def label_offset_templates(response: np.ndarray, label_names: Sequence[str], spread: np.ndarray) -> np.ndarray:
    """(A, npix): mean theory response (L, npix, flux per label unit) × σ for the abundance labels only."""
    keep = [i for i, n in enumerate(label_names) if n == "fe_h" or n.endswith("_fe")]
    response = np.asarray(response, dtype=np.float64)
    return response[keep] * np.asarray(spread, dtype=np.float64)[keep, None]


def remove_systematics(
    signal: np.ndarray, templates: np.ndarray, n_clip: float = 3.0, n_iter: int = 5
) -> tuple[np.ndarray, np.ndarray]:
    """(signal − the fitted templates' part, coefficients (T + 1,), the last one the constant).

    signal (npix,) a mean correction (flux); templates (T, npix). Pixels where the signal or a template
    is undefined keep their value; a template undefined everywhere is left out (coefficient 0).
    """
    signal = np.asarray(signal, dtype=np.float64)
    templates = np.asarray(templates, dtype=np.float64).reshape(-1, signal.size)
    defined = np.any(np.isfinite(templates), axis=1)
    if not defined.all():
        cleaned, coef = remove_systematics(signal, templates[defined], n_clip, n_iter)
        full = np.zeros(templates.shape[0] + 1)
        full[np.flatnonzero(defined)], full[-1] = coef[:-1], coef[-1]
        return cleaned, full
    design = np.column_stack([templates.T, np.ones(signal.size)])
    usable = np.isfinite(signal) & np.all(np.isfinite(design), axis=1)
    coef = np.zeros(design.shape[1])
    if usable.sum() < 10 * design.shape[1]:
        return signal.copy(), coef
    fit = usable.copy()
    for _ in range(n_iter):
        coef = np.linalg.lstsq(design[fit], signal[fit], rcond=None)[0]
        resid = signal - design @ coef
        scale = robust_sigma(resid[usable])
        if not scale > 0:
            break
        fit = usable & (np.abs(resid) < n_clip * scale)
    part = np.where(usable, design[:, :-1] @ coef[:-1], 0.0)
    return signal - part, coef
