"""Does the repaired list close the gap? Re-synthesise stars with each list and compare χ²ν.

``verify(...)`` takes a sample of observed stars (flux, flux_err, their fitted labels), re-synthesises each
with every line list given (``"original"``, ``"repaired"`` and, on a mock, ``"full"``: the truth's complete
list, the floor) by ``method``:

* ``"linemodel"``: ``gapviz.theory.linemodel.LineModel`` with the store's calibration, at the instrument's
  resolution: fast, all sampled stars;
* ``"sme"``: SME on MARCS (``gapviz.theory.sme``; needs ``gapviz[sme]``), the real radiative-transfer check.

Only pixels within ``WINDOW_RESOLUTIONS`` resolution elements of some changed line count (elsewhere the lists
agree, and the theory's other shortcomings would drown the figure). The share of the gap closed is
(χ²(original) − χ²(repaired)) / (χ²(original) − χ²(full)) over the same stars, labels and pixels.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gapviz.stats import chi2nu

#: Pixels within this many resolution elements (λ/R) of a changed line are compared.
WINDOW_RESOLUTIONS = 1.5


def changed_pixels(wavelength: np.ndarray, changed_wavelengths: np.ndarray, resolution: float) -> np.ndarray:
    """(npix,) bool: pixels within WINDOW_RESOLUTIONS × λ/R of a changed line."""
    near = np.zeros(wavelength.size, dtype=bool)
    for w in np.asarray(changed_wavelengths, dtype=np.float64):
        near |= np.abs(wavelength - w) <= WINDOW_RESOLUTIONS * w / resolution
    return near


def _linemodel_spectra(lines: pd.DataFrame, wavelength, labels: np.ndarray, names, resolution, calibration):
    import torch

    from gapviz.theory.linemodel import LineModel

    model = LineModel(lines, wavelength, resolution=resolution, label_names=list(names), min_depth=0.0,
                      calibration=calibration)
    with torch.no_grad():
        return model(torch.as_tensor(labels, dtype=torch.float32)).numpy().astype(np.float64)


def _sme_spectra(lines: pd.DataFrame, wavelength, labels: np.ndarray, names, resolution, c12_c13, workers,
                 progress):
    from gapviz.theory.sme import SMESettings, spectra

    settings = SMESettings(resolution=resolution) if c12_c13 is None else \
        SMESettings(resolution=resolution, c12_c13=float(c12_c13))
    return spectra(lines, wavelength, labels, names, settings, workers, progress, "verify (SME)")


def verify(lists: dict[str, pd.DataFrame], wavelength: np.ndarray, flux: np.ndarray, flux_err: np.ndarray,
           labels: np.ndarray, names, changed_wavelengths: np.ndarray, *, resolution: float,
           method: str = "linemodel", calibration: str | None = None, c12_c13: float | None = None,
           workers: int = 1, progress: bool = False) -> dict:
    """Per-star χ²ν of ``flux`` against each list's spectra on the changed pixels, medians and the share of
    the gap closed (see the module docstring). ``labels`` (nstar, nlabel) in ``names`` order; ``c12_c13``: the
    stars' ¹²C/¹³C for SME (default SMESettings', the solar 89)."""
    wavelength = np.asarray(wavelength, dtype=np.float64)
    near = changed_pixels(wavelength, changed_wavelengths, resolution)
    out: dict = {"method": method, "n_stars": int(flux.shape[0]), "n_pixels": int(near.sum())}
    if not near.any() or flux.shape[0] == 0:
        return out
    # synthesise only the stretches around the changes (SME time scales with pixels)
    grid = wavelength if method == "linemodel" else wavelength[near]
    columns = slice(None) if method == "linemodel" else near
    per_star = {}
    for name, lines in lists.items():
        if method == "sme":
            model = _sme_spectra(lines, grid, labels, names, resolution, c12_c13, workers, progress)
        else:
            model = _linemodel_spectra(lines, grid, labels, names, resolution, calibration)
        f = np.asarray(flux[:, columns], dtype=np.float64)
        e = np.asarray(flux_err[:, columns], dtype=np.float64)
        keep = near[columns] if method == "linemodel" else np.ones(grid.size, bool)
        per_star[name] = chi2nu(f[:, keep] - model[:, keep], e[:, keep])
    out["chi2nu_median"] = {k: float(np.nanmedian(v)) for k, v in per_star.items()}
    out["chi2nu_per_star"] = {k: [float(x) for x in v] for k, v in per_star.items()}
    if {"original", "repaired", "full"} <= per_star.keys():
        o, r, f = (float(np.nansum(per_star[k])) for k in ("original", "repaired", "full"))
        out["gap_closed"] = (o - r) / (o - f) if o != f else float("nan")
    return out
