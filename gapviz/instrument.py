"""The instrument every stage assumes unless told otherwise: APOGEE's resolving power and its line profile.

One home for the resolving power default (``RESOLUTION``), the Gaussian FWHM ↔ σ factor and the speed of light
(``C_KMS``, which turns velocities into wavelength shifts and widths); commands take ``--resolution`` to change
the resolving power for another spectrograph.
"""

from __future__ import annotations

import numpy as np

#: The speed of light in vacuum, km/s.
C_KMS = 299792.458
#: APOGEE's resolving power λ/Δλ(FWHM) (Majewski et al. 2017); the default of every command.
RESOLUTION = 22500.0
#: σ of a Gaussian per unit FWHM: 1 / (2 √(2 ln 2)).
FWHM_TO_SIGMA = 1.0 / (2.0 * np.sqrt(2.0 * np.log(2.0)))


def resolution_element(wavelength, resolution: float = RESOLUTION):
    """FWHM of the instrumental profile in Å at ``wavelength`` (Å): λ / R (a float for a scalar)."""
    if np.ndim(wavelength) == 0:
        return float(wavelength) / resolution
    return np.asarray(wavelength, dtype=np.float64) / resolution


def lsf_sigma(wavelength, resolution: float = RESOLUTION):
    """Gaussian σ of the instrumental profile in Å at ``wavelength`` (Å)."""
    return resolution_element(wavelength, resolution) * FWHM_TO_SIGMA
