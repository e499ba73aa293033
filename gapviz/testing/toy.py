"""A tiny analytic adaptation with the ``gapviz.adapt.Adaptation`` interface (docs/ARCHITECTURE.md §5).

For tests, benchmarks and demos of the store and the finder without a trained network: the theory is a few
Gaussian lines whose depths are linear in the labels; the "observed" stars also have ``extra`` lines the
theory lacks, each driven by one label. ``adapted`` = theory + extra lines at the fitted labels, so the
learned correction is exactly the missing lines.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from gapviz.instrument import FWHM_TO_SIGMA, RESOLUTION
from gapviz.io.grids import segments
from gapviz.io.spectra import Spectra

LABELS = ("teff", "logg", "fe_h", "mg_fe")
CENTRE = np.array([4500.0, 2.5, 0.0, 0.0])
SCALE = np.array([500.0, 1.0, 0.3, 0.15])  # one "unit" of standardised label


@dataclass
class ToyLine:
    """A Gaussian line: wavelength Å, depth at CENTRE labels, depth change per SCALE of each label."""

    wavelength: float
    depth: float
    slope: tuple[float, ...]


@dataclass
class LabelFit:
    labels: np.ndarray
    labels_err: np.ndarray


@dataclass
class ToyAdaptation:
    """wavelength (npix,) Å; ``lines`` known to the theory; ``extra`` lines only the data (and adapted) have."""

    wavelength: np.ndarray
    lines: list[ToyLine]
    extra: list[ToyLine] = field(default_factory=list)
    resolution: float = RESOLUTION
    label_names: list[str] = field(default_factory=lambda: list(LABELS))

    def _profiles(self, lines: list[ToyLine]) -> np.ndarray:
        if not lines:
            return np.zeros((0, self.wavelength.size))
        centre = np.array([ln.wavelength for ln in lines])[:, None]
        sig = centre / self.resolution * FWHM_TO_SIGMA
        return np.exp(-0.5 * ((self.wavelength[None, :] - centre) / sig) ** 2)

    def _depths(self, lines: list[ToyLine], labels: np.ndarray) -> np.ndarray:
        z = (np.atleast_2d(labels) - CENTRE) / SCALE
        d0 = np.array([ln.depth for ln in lines])
        slope = np.array([ln.slope for ln in lines]).reshape(len(lines), len(LABELS))
        return np.clip(d0[None, :] + z @ slope.T, 0.0, 0.95)

    def _absorb(self, lines: list[ToyLine], labels: np.ndarray) -> np.ndarray:
        if not lines:
            return np.zeros((np.atleast_2d(labels).shape[0], self.wavelength.size))
        return self._depths(lines, labels) @ self._profiles(lines)

    def theory(self, labels: np.ndarray) -> np.ndarray:
        """(n, npix) theory flux at labels (n, 4)."""
        return 1.0 - self._absorb(self.lines, labels)

    def truth_flux(self, labels: np.ndarray) -> np.ndarray:
        """(n, npix) noise-free flux of real stars: theory plus the extra lines."""
        return self.theory(labels) - self._absorb(self.extra, labels)

    def fit_labels(self, flux: np.ndarray, flux_err: np.ndarray | None = None) -> LabelFit:
        """Linear least squares on pixels away from the extra lines (the toy theory is linear in the labels)."""
        flux = np.atleast_2d(np.asarray(flux, dtype=np.float64))
        clean = self._profiles(self.extra).sum(axis=0) < 0.01 if self.extra else np.ones(self.wavelength.size, bool)
        if flux_err is not None:  # pixels with an unusable error in every star are left out too
            err = np.atleast_2d(np.asarray(flux_err, dtype=np.float64))
            clean &= np.any(np.isfinite(err) & (err > 0), axis=0)
        prof, slope = self._profiles(self.lines), np.array([ln.slope for ln in self.lines])
        design = -(prof.T @ slope)[clean]  # d flux / d z
        base = (1.0 - np.array([ln.depth for ln in self.lines]) @ prof)[clean]
        y = np.nan_to_num(flux[:, clean] - base, nan=0.0)
        z, *_ = np.linalg.lstsq(design, y.T, rcond=None)
        labels = CENTRE + z.T * SCALE
        resid = y - (design @ z).T
        sig = np.sqrt(np.mean(resid**2, axis=1, keepdims=True))
        err = sig * np.sqrt(np.diag(np.linalg.pinv(design.T @ design)))[None, :] * SCALE
        return LabelFit(labels=labels, labels_err=err)

    def fit_theory_labels(self, flux: np.ndarray, flux_err: np.ndarray | None = None) -> LabelFit:
        """The toy's label fit already uses the theory alone."""
        return self.fit_labels(flux, flux_err)

    @property
    def theory_fit(self) -> "ToyAdaptation":
        """The theory alone as a label fitter (``fit_labels``, ``theory``): the toy itself."""
        return self

    def adapted(self, flux: np.ndarray, flux_err: np.ndarray | None = None) -> np.ndarray:
        return self.truth_flux(self.fit_labels(flux, flux_err).labels)

    def to_synthetic(self, flux: np.ndarray, flux_err: np.ndarray | None = None) -> np.ndarray:
        labels = self.fit_labels(flux, flux_err).labels
        return np.asarray(flux) + self._absorb(self.extra, labels)

    def response(self, labels: np.ndarray, flux: np.ndarray, flux_err: np.ndarray | None = None):
        """(d_adapted, d_theory), each (n, L, npix), flux per label unit (K for teff, dex otherwise)."""
        n = np.atleast_2d(labels).shape[0]

        def grad(lines):
            if not lines:
                return np.zeros((len(LABELS), self.wavelength.size))
            slope = np.array([ln.slope for ln in lines])
            return -(slope.T @ self._profiles(lines)) / SCALE[:, None]

        d_theory = np.broadcast_to(grad(self.lines), (n, len(LABELS), self.wavelength.size)).copy()
        return d_theory + grad(self.extra)[None], d_theory


def toy_population(n_star: int, seed: int = 0) -> np.ndarray:
    """(n, 4) labels: a giant-branch-like spread around CENTRE."""
    rng = np.random.default_rng(seed)
    return CENTRE + rng.normal(size=(n_star, len(LABELS))) * SCALE


def toy_observed(model: ToyAdaptation, labels: np.ndarray, snr: float = 100.0, seed: int = 0) -> Spectra:
    """Noisy 'observed' spectra of stars with ``labels`` (the extra lines included)."""
    rng = np.random.default_rng(seed)
    flux = model.truth_flux(labels)
    err = np.full_like(flux, 1.0 / snr)
    return Spectra(model.wavelength, flux + rng.normal(size=flux.shape) * err, err,
                   star_id=np.array([f"toy{i:06d}" for i in range(len(labels))]), domain="observed")


def toy_synthetic(model: ToyAdaptation, labels: np.ndarray) -> Spectra:
    """Labelled noise-free theory spectra (the synthetic domain)."""
    return Spectra(model.wavelength, model.theory(labels), labels=dict(zip(LABELS, labels.T)), domain="synthetic")


def _linelist(lines: list[ToyLine], species: list[str]):
    import pandas as pd

    from gapviz.io.linelist import vacuum_to_air

    wl = np.array([ln.wavelength for ln in lines], dtype=np.float64)
    elements = [s.split()[0] for s in species]
    return pd.DataFrame({
        "wavelength": wl, "wavelength_air": vacuum_to_air(wl), "species": species, "elements": elements,
        "ion": 0, "loggf": -1.0, "elow_ev": 3.0, "d0_ev": np.nan, "is_molecule": False,
    }).sort_values("wavelength", ignore_index=True)


def standard_toy(wavelength: np.ndarray, resolution: float = RESOLUTION):
    """A toy case on any grid of >= 48 pixels: (model, theory line list, reference line list, truth table).

    Four theory lines; three extra (missing) lines: one driven by ``mg_fe`` (Mg I), one by ``teff`` (CN),
    one constant (label "": instrumental-like). Lines sit at fixed fractions of the first window.
    """
    import pandas as pd

    wl = np.asarray(wavelength, dtype=np.float64)
    end = segments(wl)[0].stop - 1
    at = lambda f: float(wl[0] + f * (wl[end] - wl[0]))  # noqa: E731
    lines = [ToyLine(at(0.12), 0.30, (-0.05, 0.0, 0.05, 0.0)), ToyLine(at(0.30), 0.20, (0.0, 0.03, 0.05, 0.0)),
             ToyLine(at(0.55), 0.25, (0.0, 0.0, 0.04, 0.05)), ToyLine(at(0.90), 0.30, (-0.04, 0.02, 0.03, 0.0))]
    extra = [ToyLine(at(0.21), 0.08, (0.0, 0.0, 0.0, 0.04)), ToyLine(at(0.42), 0.06, (0.03, 0.0, 0.0, 0.0)),
             ToyLine(at(0.72), 0.05, (0.0, 0.0, 0.0, 0.0))]
    model = ToyAdaptation(wl, lines, extra, resolution)
    theory_list = _linelist(lines, ["Fe I"] * len(lines))
    reference = _linelist(lines + extra, ["Fe I"] * len(lines) + ["Mg I", "CN", "Ti I"])
    truth = pd.DataFrame({
        "wavelength": [ln.wavelength for ln in extra], "species": ["Mg I", "CN", "Ti I"],
        "element": ["Mg", "C", "Ti"], "label": ["mg_fe", "teff", ""], "loggf": -1.0,
        "depth_ref": [ln.depth for ln in extra], "blended": False,
    })
    return model, theory_list, reference, truth


def toy_line_depths(linelist, wavelength, resolution, labels) -> np.ndarray:
    """Stand-in for LineModel depths in toy cases: every Fe I line 0.3 deep, other species 0.002."""
    return np.where(linelist["species"].astype(str).to_numpy() == "Fe I", 0.3, 0.002)


@dataclass
class ToyCase:
    """The files of a toy experiment in ``directory``: observed.h5, synthetic.h5, linelist.csv,
    reference_linelist.csv; ``model`` the toy adaptation, ``removed`` the lines the theory lacks."""

    directory: object
    model: ToyAdaptation
    removed: object

    def __getattr__(self, name: str):
        names = {"observed": "observed.h5", "synthetic": "synthetic.h5", "linelist": "linelist.csv",
                 "reference": "reference_linelist.csv"}
        if name in names:
            return self.directory / names[name]
        raise AttributeError(name)


def write_toy_case(directory, n_star: int = 200, seed: int = 0, wavelength: np.ndarray | None = None) -> ToyCase:
    """Write a toy experiment's spectra and line lists (``standard_toy`` on the shipped sample grid)."""
    from pathlib import Path

    from gapviz.io.grids import sample_wavelength
    from gapviz.io.linelist import write_linelist_csv
    from gapviz.io.spectra import write_spectra

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    model, theory, reference, removed = standard_toy(sample_wavelength() if wavelength is None else wavelength)
    case = ToyCase(directory, model, removed)
    write_spectra(toy_observed(model, toy_population(n_star, seed + 1), seed=seed + 2), case.observed)
    write_spectra(toy_synthetic(model, toy_population(n_star, seed + 3)), case.synthetic)
    write_linelist_csv(theory, case.linelist)
    write_linelist_csv(reference, case.reference)
    return case
