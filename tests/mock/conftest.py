"""A tiny stand-in for gapviz.theory.linemodel.LineModel with the same methods (for fast, isolated tests).

Each line is a Gaussian in optical depth at the given resolution; its central optical depth grows with
log gf, the abundance label of its element and falls with excitation energy over teff.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gapviz.mock.missing import element_to_label, line_element


class FakeLineModel:
    def __init__(self, linelist: pd.DataFrame, wavelength, resolution: float = 22500.0, label_names=()):
        self.wavelength = np.asarray(wavelength, dtype=np.float64)
        self.resolution = float(resolution)
        self.label_names = tuple(label_names)
        lo, hi = self.wavelength[0], self.wavelength[-1]
        keep = (linelist["wavelength"] >= lo - 2) & (linelist["wavelength"] <= hi + 2)
        self.linelist = linelist.loc[keep].reset_index(drop=True)
        labels = [element_to_label(line_element(s, e), self.label_names)
                  for s, e in zip(self.linelist["species"], self.linelist["elements"])]
        self._col = np.array([self.label_names.index(x) if x else -1 for x in labels])

    def _tau0(self, labels: np.ndarray) -> np.ndarray:
        labels = np.atleast_2d(labels)
        teff = labels[:, [self.label_names.index("teff")]]
        ab = np.where(self._col >= 0, labels[:, np.maximum(self._col, 0)], 0.0)
        fe = labels[:, [self.label_names.index("fe_h")]]
        ab = ab + np.where((self._col >= 0) & (self._col != self.label_names.index("fe_h")), fe, 0.0)
        gf = self.linelist["loggf"].to_numpy()[None, :]
        chi = self.linelist["elow_ev"].to_numpy()[None, :]
        return 10.0 ** (gf + 1.0 + ab - chi * 5040.0 / teff)

    def line_depths(self, labels: np.ndarray) -> np.ndarray:
        return 1.0 - np.exp(-self._tau0(labels))

    def spectra(self, labels: np.ndarray) -> np.ndarray:
        tau0 = self._tau0(labels)
        wl = self.linelist["wavelength"].to_numpy()
        sigma = wl / self.resolution / 2.355
        profile = np.exp(-0.5 * ((self.wavelength[None, :] - wl[:, None]) / sigma[:, None]) ** 2)
        return np.exp(-tau0 @ profile)


import pytest


@pytest.fixture
def fake_model():
    """The FakeLineModel class (a LineModel stand-in) for run_mock(model_factory=...)."""
    return FakeLineModel


@pytest.fixture
def tiny_lines():
    """A hand-made line table (contract columns) inside the first 128 pixels of the sample grid."""
    from gapviz.io.grids import sample_wavelength
    from gapviz.io.linelist import vacuum_to_air

    wl = sample_wavelength()[:128]
    rng = np.random.default_rng(0)
    species = ["CN"] * 40 + ["CO"] * 30 + ["OH"] * 20 + ["Fe I"] * 12 + ["Mg I"] * 6 + ["H I"] * 2
    elements = {"CN": "C,N", "CO": "C,O", "OH": "O,H", "Fe I": "Fe", "Mg I": "Mg", "H I": "H"}
    n = len(species)
    w = np.sort(rng.uniform(wl[2], wl[-3], n))
    df = pd.DataFrame({
        "wavelength": w, "wavelength_air": vacuum_to_air(w), "species": species,
        "elements": [elements[s] for s in species], "ion": 0, "loggf": rng.uniform(-3.0, -0.5, n),
        "elow_ev": rng.uniform(0.5, 4.0, n), "d0_ev": np.nan, "is_molecule": [" " not in s for s in species],
    })
    return df
