"""The line-list workbench's data: the displayed stars, one change's line re-synthesised, the reviewed theory.

The displayed stars are the repair's own kind of population (``gapviz.repair.population.load_population``: at
most ``MAX_STARS`` in-domain stars, evenly spread, with their fitted labels, observed and theory flux and
weights 1/flux_err²), read once per process. A change's line is re-synthesised with the fast model
(``gapviz.theory.linemodel.LineModel`` on the feature's pixels, the repair's resolution and calibration), as
``apps.repair_data`` does for the explorer:

* added line: model = flux_theory × LM[line](labels);
* recalibrated known line: model = flux_theory × LM[line at the new log gf](labels) / LM[at loggf_before](labels);
* damping, or "none of these": model = flux_theory (the line model has one fixed damping).

The reviewed theory (the whole spectrum, for χ²ν) is flux_theory times the transmission of every change the
review keeps (``gapviz.repair.review.reviewed_linelist``), built the same way over the whole grid.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import panel as pn

from apps.repair_data import RepairData, find_repair_dir, read_repair
from apps.store_data import StoreData, load_store
from gapviz.errors import GapvizError
from gapviz.repair.population import Population, load_population, window
from gapviz.repair.review import REVIEW_FILE, read_repaired
from gapviz.repair.species_fit import species_fits
from gapviz.stats import chi2nu
from gapviz.store import store_file

#: Stars displayed (and whose flux every update re-synthesises).
MAX_STARS = 1000
#: Stars the species fits use (the repair's own default population size).
FIT_STARS = 400
#: Half-width (Å) of the population image around the feature.
HALF_WIDTH = 2.0
NONE_OF_THESE = "none of these"


@dataclass(frozen=True)
class Edit:
    """The line a change proposes, as edited: species ("none of these": no line), wavelength Å, log gf, E_low eV,
    and the isotopologue its log gf was fitted for ("13,14"; "" for an atom, or once the species is edited)."""

    species: str
    wavelength: float
    loggf: float
    elow_ev: float
    isotopes: str = ""


@dataclass
class Workbench:
    """One store, its repair and the displayed stars (shared by every session of a server process)."""

    data: StoreData
    repair: RepairData
    pop: Population
    repaired: pd.DataFrame  # REPAIR_DIR/linelist.csv as written (change, loggf_before, candidate)
    source_sha256: str
    review_path: Path
    species: list[str]
    _fits: dict = field(default_factory=dict)

    @property
    def changes(self) -> pd.DataFrame:
        return self.repair.changes

    @property
    def calibration(self) -> str | None:
        return None if self.repair.calibration == "none" else self.repair.calibration

    def proposal(self, row: int) -> Edit:
        """The change's line as proposed, rounded as the controls show it (0.1 mÅ, 0.001 dex, 0.001 eV)."""
        c = self.changes.iloc[row]
        iso = c.get("isotopes", "")
        return Edit(str(c["species"]), round(float(c["wavelength"]), 4), round(float(c["loggf"]), 3),
                    round(float(c.get("elow_ev", math.nan)), 3), iso if isinstance(iso, str) else "")

    def proposed_transmission(self, row: int) -> np.ndarray:
        """``transmission`` of change ``row`` as proposed on its ``pixels`` (cached per change and process)."""
        key = ("proposed", row)
        if key not in self._fits:
            self._fits[key] = self.transmission(row, self.proposal(row), self.pixels(row))
        return self._fits[key]

    def centre(self, row: int) -> float:
        c = self.changes.iloc[row]
        w = float(c.get("candidate_wavelength", math.nan))
        return w if math.isfinite(w) else float(c["wavelength"])

    def pixels(self, row: int) -> slice:
        """The population image's pixels: ±HALF_WIDTH Å around the feature."""
        wl, c = self.pop.wavelength, self.centre(row)
        return slice(int(np.searchsorted(wl, c - HALF_WIDTH)), int(np.searchsorted(wl, c + HALF_WIDTH, "right")))

    def fit_pixels(self, row: int) -> slice:
        """The pixels the repair's fits use (``population.window``), for χ²."""
        return window(self.pop.wavelength, self.centre(row), self.repair.resolution)

    def _model(self, lines: pd.DataFrame, wavelength: np.ndarray, labels: np.ndarray) -> np.ndarray | None:
        from gapviz.theory.linemodel import LineModel

        try:
            model = LineModel(lines.reset_index(drop=True), wavelength, resolution=self.repair.resolution,
                              label_names=self.pop.label_names, min_depth=0.0, calibration=self.calibration)
        except GapvizError as exc:
            if "falls on the grid" in str(exc):
                return None
            raise
        return model.spectra(labels).astype(np.float64)

    def transmission(self, row: int, edit: Edit, sl: slice) -> np.ndarray:
        """(S, P) factor on flux_theory of change ``row`` as edited, on pixels ``sl`` (module docstring)."""
        labels = self.pop.labels
        x = self.pop.wavelength[sl]
        ones = np.ones((labels.shape[0], x.size))
        choice = str(self.changes.iloc[row]["choice"])
        if edit.species == NONE_OF_THESE or choice not in ("added", "recalibrated"):
            return ones
        line = _line(edit)
        new = self._model(line, x, labels)
        if new is None:
            return ones
        if choice == "added":
            return new
        key = ("before", row, edit.elow_ev, sl.start, sl.stop)  # a log gf edit leaves the old line as it is
        if key not in self._fits:
            before = float(self.changes.iloc[row]["loggf_before"])
            self._fits[key] = self._model(line.assign(loggf=before), x, labels)
        old = self._fits[key]
        return new / np.clip(old, 1e-6, None)

    def species_fit(self, row: int) -> pd.DataFrame:
        """``gapviz.repair.species_fit.species_fits`` of the feature of change ``row``, over FIT_STARS of the
        displayed stars (cached per change and process)."""
        key = (row, self.centre(row))
        if key not in self._fits:
            n = self.pop.labels.shape[0]
            keep = np.unique(np.linspace(0, n - 1, min(n, FIT_STARS)).round().astype(int))
            sub = Population(self.pop.wavelength, self.pop.label_names, self.pop.labels[keep], self.pop.obs[keep],
                             self.pop.theory[keep], self.pop.weight[keep])
            self._fits[key] = species_fits(sub, self.centre(row), self.species, resolution=self.repair.resolution,
                                           calibration=self.calibration)
        return self._fits[key]

    def reviewed_transmission(self, reviewed: pd.DataFrame) -> np.ndarray:
        """(S, npix) factor on flux_theory of every change the reviewed list keeps (added, recalibrated)."""
        out = np.ones_like(self.pop.theory)
        change = reviewed["change"].astype(str)
        added, recal = reviewed[change == "added"], reviewed[change == "recalibrated"]
        for lines, before in ((added, None), (recal, "loggf_before")):
            if not len(lines):
                continue
            new = self._model(_contract(lines), self.pop.wavelength, self.pop.labels)
            if new is None:
                continue
            out *= new
            if before:
                old = self._model(_contract(lines.assign(loggf=lines[before])), self.pop.wavelength, self.pop.labels)
                out /= np.clip(old, 1e-6, None)
        return out

    def chi2nu_median(self, factor: np.ndarray | None = None) -> float:
        """Median χ²ν of the displayed stars with flux_theory × ``factor`` (None: the original list)."""
        ok = self.pop.weight > 0
        model = self.pop.theory if factor is None else self.pop.theory * factor
        err = np.where(ok, 1.0 / np.sqrt(np.where(ok, self.pop.weight, 1.0)), np.nan)
        with np.errstate(all="ignore"):
            return float(np.nanmedian(chi2nu(np.where(ok, self.pop.obs - model, np.nan), err)))


def _line(edit: Edit) -> pd.DataFrame:
    return _contract(pd.DataFrame([{"wavelength": edit.wavelength, "species": edit.species, "loggf": edit.loggf,
                                    "elow_ev": edit.elow_ev, "isotopes": edit.isotopes}]))


def _contract(lines: pd.DataFrame) -> pd.DataFrame:
    """A line table in ``read_linelist``'s contract (elements, ion, is_molecule, d0_ev) from
    wavelength/species/loggf/elow_ev (+ isotopes)."""
    from gapviz.io.linelist import species_fields

    rows = []
    for r in lines.itertuples(index=False):
        rows.append({"wavelength": float(r.wavelength), "species": str(r.species), "loggf": float(r.loggf),
                     "elow_ev": float(r.elow_ev), "isotopes": str(getattr(r, "isotopes", "") or "").replace("nan", "")}
                    | species_fields(str(r.species)))
    return pd.DataFrame(rows)


def build_workbench(store: Path, repair_dir: Path) -> Workbench:
    """The workbench of ``store`` (its store.nc) and ``repair_dir``; GapvizError naming what is wrong."""
    data = load_store(str(store))
    repair = read_repair(repair_dir, data)
    if repair.changes.empty:
        raise GapvizError(f"{repair_dir / 'changes.csv'}: the repair made no changes; nothing to review")
    if "elow_ev" not in repair.changes:
        raise GapvizError(f"{repair_dir / 'changes.csv'}: lacks column elow_ev; expected gapviz repair's changes.csv")
    repaired, sha = read_repaired(repair_dir)
    pop = load_population(data.ds, MAX_STARS)
    species = sorted(set(data.lines.get("species", pd.Series(dtype=str)).astype(str))
                     | set(repair.changes["species"].astype(str)))
    return Workbench(data, repair, pop, repaired, sha, store.parent / REVIEW_FILE, species)


@pn.cache(max_items=4)
def load_workbench(store: str, repair_dir: str) -> Workbench:
    """``build_workbench`` once per process (keyed by the resolved paths)."""
    return build_workbench(Path(store), Path(repair_dir))


def open_workbench(store_dir: str | Path, repair_dir: str | Path | None) -> Workbench:
    """The workbench of STORE_DIR and REPAIR_DIR (default STORE_DIR/repair/), fixed at server start."""
    path = store_file(store_dir).resolve()
    if repair_dir == "":
        raise GapvizError("--repair was given without a REPAIR_DIR (the folder gapviz repair --out wrote)")
    found = find_repair_dir(path, repair_dir)
    if found is None:
        raise GapvizError(f"{path.parent}: no repair to review; make one with gapviz repair {path.parent} --out "
                          f"{path.parent / 'repair'}, or pass --repair REPAIR_DIR")
    return load_workbench(str(path), str(found.resolve()))
