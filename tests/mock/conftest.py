"""Fixtures for the mock tests: a tiny stand-in for gapviz.theory.linemodel.LineModel with the same methods,
a hand-made line table, and tiny mock experiments made with them (fast, isolated).

FakeLineModel: each line is a Gaussian in optical depth at the given resolution; its central optical depth
grows with log gf, the abundance label of its element and falls with excitation energy over teff.
"""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from gapviz.instrument import lsf_sigma
from gapviz.io.grids import sample_wavelength
from gapviz.io.linelist import vacuum_to_air
from gapviz.mock.experiment import MockConfig, run_mock
from gapviz.mock.missing import element_to_label, line_element

#: The tiny experiments' grid: the first 128 pixels of the sample grid.
TINY_WAVELENGTH = sample_wavelength()[:128]


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
        sigma = lsf_sigma(wl, self.resolution)
        profile = np.exp(-0.5 * ((self.wavelength[None, :] - wl[:, None]) / sigma[:, None]) ** 2)
        return np.exp(-tau0 @ profile)


@pytest.fixture
def fake_model():
    """The FakeLineModel class (a LineModel stand-in) for run_mock(model_factory=...)."""
    return FakeLineModel


def _tiny_lines() -> pd.DataFrame:
    wl = TINY_WAVELENGTH
    rng = np.random.default_rng(0)
    species = ["CN"] * 40 + ["CO"] * 30 + ["OH"] * 20 + ["Fe I"] * 12 + ["Mg I"] * 6 + ["H I"] * 2
    elements = {"CN": "C,N", "CO": "C,O", "OH": "O,H", "Fe I": "Fe", "Mg I": "Mg", "H I": "H"}
    n = len(species)
    w = np.sort(rng.uniform(wl[2], wl[-3], n))
    return pd.DataFrame({
        "wavelength": w, "wavelength_air": vacuum_to_air(w), "species": species,
        "elements": [elements[s] for s in species], "ion": 0, "loggf": rng.uniform(-3.0, -0.5, n),
        "elow_ev": rng.uniform(0.5, 4.0, n), "d0_ev": np.nan, "is_molecule": [" " not in s for s in species],
    })


@pytest.fixture
def tiny_lines():
    """A hand-made line table (contract columns) inside the first 128 pixels of the sample grid."""
    return _tiny_lines()


def _tiny_mock(out_dir, lines: pd.DataFrame | None = None, **kw):
    cfg = MockConfig(out_dir=out_dir, n_synthetic=kw.pop("n_synthetic", 12), n_observed=kw.pop("n_observed", 15),
                     wavelength=TINY_WAVELENGTH, **kw)
    return run_mock(cfg, model_factory=FakeLineModel, linelist=lines if lines is not None else _tiny_lines())


@pytest.fixture
def tiny_mock():
    """``tiny_mock(out_dir, lines=None, **MockConfig settings)``: run_mock with FakeLineModel and ``lines``
    (default: the hand-made ones) on 128 pixels, 12 synthetic and 15 observed stars unless told; returns the
    MockResult."""
    return _tiny_mock


@pytest.fixture(scope="session")
def tiny_mock_dir(tmp_path_factory):
    """A tiny mock experiment (seed 7) made once; copy it (``tiny_mock_copy``) before changing it."""
    out = tmp_path_factory.mktemp("tiny_mock") / "seed7"
    _tiny_mock(out, seed=7)
    return out


@pytest.fixture
def tiny_mock_copy(tiny_mock_dir, tmp_path):
    """A fresh copy of ``tiny_mock_dir`` to change."""
    return shutil.copytree(tiny_mock_dir, tmp_path / "copy")


def _edit_h5(path, key: str, index, new) -> None:
    """Set ``values[index]`` of dataset ``key`` in the HDF5 file ``path`` to ``new``, or ``new(old value)``
    if it is callable; shape and dtype stay."""
    import h5py

    with h5py.File(path, "r+") as f:
        values = f[key][()]
        values[index] = new(values[index]) if callable(new) else new
        f[key][...] = values


@pytest.fixture
def edit_h5():
    """``edit_h5(path, key, index, new)``: change one dataset of an HDF5 file in place (see _edit_h5)."""
    return _edit_h5
