"""A line-list repair beside the store, for the explorer's before/after: its changes and the theory they make.

``gapviz repair STORE_DIR --out REPAIR_DIR`` writes ``REPAIR_DIR/linelist.csv`` (the whole repaired list, column
``change``: kept | recalibrated | added | ..., and ``loggf_before``) and ``REPAIR_DIR/changes.csv`` (one row per
change: ``candidate`` rank (0: none), ``choice``, the line's ``wavelength``, ``line_listed`` (an added
reference-list line's listed wavelength; NaN otherwise), ``species``, ``loggf``, ``loggf_before``, ``loggf_err``).
The explorer is given REPAIR_DIR at server start (``--repair REPAIR_DIR``, or ``STORE_DIR/repair/`` when it
exists); nothing in the page or the URL can name another path.

The repaired theory is the store's theory times the changes' own line opacity at each star's labels, as the
repair defines it (``gapviz.repair.refit``):

    flux_theory × LM[added lines](labels) × LM[recalibrated, new log gf](labels) / LM[recalibrated, old log gf]

with ``gapviz.theory.linemodel.LineModel`` on the store's grid, resolution and labels, and the repair's
calibration (``report.json``; else the store's ``line_model_calibration``). A repair made with ``--theory
linemodel`` (``report.json``'s ``theory``) saturates its added lines with the theory's own absorption, as it
fitted them (``ChangeTransmission``'s ``joint``). Other changes (damping) are listed but leave the curve as it
is: the line model has one fixed damping.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import panel as pn

from apps.store_data import StoreData, load_store
from gapviz.errors import GapvizError
from gapviz.instrument import RESOLUTION
from gapviz.io.linelist import air_to_vacuum, read_linelist

CHANGES_FILE = "changes.csv"
LINELIST_FILE = "linelist.csv"
REPORT_FILE = "report.json"
AUTO_DIR = "repair"  # STORE_DIR/repair/ is shown when no REPAIR_DIR is given
CHANGES_NEED = ("candidate", "species", "loggf")
DRAWN = ("added", "recalibrated")  # the changes the repaired theory curve shows


def find_repair_dir(store_file: Path, given: str | Path | None) -> Path | None:
    """The REPAIR_DIR to show: the one given at server start, else ``STORE_DIR/repair/`` if it exists."""
    if given:
        return Path(given).expanduser()
    auto = Path(store_file).parent / AUTO_DIR
    return auto if auto.is_dir() else None


@dataclass
class RepairData:
    """changes: one row per change (``candidate`` rank, ``choice``, ``wavelength`` Å vacuum, ``line_listed``,
    ``species``, ``loggf_before``, ``loggf``, ``loggf_err``); added / recalibrated: their lines as
    ``read_linelist`` gives them (recalibrated with ``loggf_before``)."""

    path: Path
    changes: pd.DataFrame
    added: pd.DataFrame
    recalibrated: pd.DataFrame
    calibration: str
    resolution: float
    theory: str = "emulator"  # what the repair refitted the labels through (report.json); "linemodel": joint

    def counts(self) -> str:
        """"71 added, 5 recalibrated" (every kind of change, most frequent first)."""
        return ", ".join(f"{n} {k}" for k, n in self.changes["choice"].value_counts().items())


def _csv(path: Path, what: str) -> pd.DataFrame:
    if not path.is_file():
        raise GapvizError(f"{path}: missing; a repair folder (gapviz repair STORE_DIR --out REPAIR_DIR) holds "
                          f"{CHANGES_FILE} and {LINELIST_FILE}")
    try:
        return pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise GapvizError(f"{path}: not a readable {what} CSV: {exc}") from None


def read_repair(repair_dir: str | Path, data: StoreData) -> RepairData:
    """REPAIR_DIR's changes and changed lines; a GapvizError naming the file and what was expected otherwise."""
    path = Path(repair_dir)
    if not path.is_dir():
        raise GapvizError(f"{path}: no such repair folder; make one with gapviz repair STORE_DIR --out {path}")
    changes = _csv(path / CHANGES_FILE, "changes")
    if "choice" not in changes and "change" in changes:
        changes = changes.rename(columns={"change": "choice"})
    if "wavelength" not in changes and "line_wavelength" in changes:
        changes = changes.rename(columns={"line_wavelength": "wavelength"})
    missing = [c for c in (*CHANGES_NEED, "choice", "wavelength") if c not in changes]
    if missing:
        raise GapvizError(f"{path / CHANGES_FILE}: lacks column(s) {missing}; expected the changes.csv of "
                          "gapviz repair (candidate, choice, wavelength, species, loggf, loggf_before, loggf_err)")
    for col in ("loggf_before", "loggf_err", "line_listed"):  # older changes.csv files lack line_listed
        if col not in changes:
            changes[col] = np.nan
    changes["choice"] = changes["choice"].astype(str)
    lines, raw = read_linelist(path / LINELIST_FILE), _csv(path / LINELIST_FILE, "line-list")
    raw.columns = [str(c).strip().lower() for c in raw.columns]
    if "change" not in raw or len(raw) != len(lines):
        raise GapvizError(f"{path / LINELIST_FILE}: no 'change' column; expected the repaired list gapviz repair "
                          "writes (wavelength,species,loggf,elow_ev,medium,...,change,loggf_before)")
    # read_linelist sorts by vacuum wavelength (stable): put the raw rows in the same order
    wl = raw["wavelength"].to_numpy(float)
    vac = np.where(raw["medium"].astype(str).str.strip().str.lower() == "air", air_to_vacuum(wl), wl)
    raw = raw.iloc[np.argsort(vac, kind="stable")].reset_index(drop=True)
    change = raw["change"].astype(str).str.strip().to_numpy()
    before = pd.to_numeric(raw.get("loggf_before"), errors="coerce")
    recal = lines[change == "recalibrated"].assign(loggf_before=before[change == "recalibrated"].to_numpy())
    if recal["loggf_before"].isna().any():
        raise GapvizError(f"{path / LINELIST_FILE}: a recalibrated line has no loggf_before")
    report = {}
    if (path / REPORT_FILE).is_file():
        try:
            report = json.loads((path / REPORT_FILE).read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise GapvizError(f"{path / REPORT_FILE}: not readable JSON: {exc}") from None
    calibration = str(report.get("calibration") or data.attrs.get("line_model_calibration", "") or "none")
    resolution = float(report.get("resolution") or data.attrs.get("resolution", RESOLUTION))
    return RepairData(path=path, changes=changes.reset_index(drop=True),
                      added=lines[change == "added"].reset_index(drop=True), recalibrated=recal.reset_index(drop=True),
                      calibration=calibration, resolution=resolution,
                      theory=str(report.get("theory") or "emulator"))


@pn.cache(max_items=4)
def load_repair(repair_dir: str, store: str) -> RepairData:
    """``read_repair`` once per process (keyed by the resolved paths of REPAIR_DIR and the store file)."""
    return read_repair(Path(repair_dir), load_store(store))


class RepairedTheory:
    """Transmission (n, npix) of the repair's changes at labels (n, nlabel) on the store's grid; see the module
    docstring. The library's ``gapviz.repair.refit.ChangeTransmission`` (its LineModels from ``change_models``),
    numpy in and out. Built once per (repair, store) and process (``repaired_theory``)."""

    def __init__(self, repair: RepairData, data: StoreData):
        from gapviz.repair.refit import ChangeTransmission, change_models

        try:  # a set of lines none of which is on the store's pixels changes nothing (None)
            models = change_models(repair.added, repair.recalibrated, data.wavelength, data.label_names,
                                   repair.resolution, None if repair.calibration == "none" else repair.calibration,
                                   off_grid_none=True)
        except GapvizError as exc:
            raise GapvizError(f"{repair.path / LINELIST_FILE}: {exc}") from None
        self.changes = ChangeTransmission(*models, n_pix=data.wavelength.size, joint=repair.theory == "linemodel")

    def transmission(self, labels: np.ndarray, flux_theory: np.ndarray) -> np.ndarray:
        """(n, npix) float64 factor on ``flux_theory`` (n, npix) for labels (n, nlabel) in the store's label
        order."""
        return self.changes.transmission_numpy(labels, flux_theory)


_theories: dict[tuple[str, str], RepairedTheory] = {}


def repaired_theory(repair: RepairData, data: StoreData) -> RepairedTheory:
    """The ``RepairedTheory`` of ``repair`` on ``data``, built once per process."""
    key = (str(repair.path.resolve()), str(data.path))
    if key not in _theories:
        _theories[key] = RepairedTheory(repair, data)
    return _theories[key]
