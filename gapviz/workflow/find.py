"""`gapviz find STORE_DIR`: the candidate features of a written store, re-runnable with other settings.

Reads ``STORE_DIR/store.nc`` (and the theory ``STORE_DIR/theory.pt`` that ``gapviz apply`` saved), runs the
finder (``gapviz.discover.find.find_candidates``), and writes its result into the store (the ``candidate``
and ``line`` variables and ``correction_systematic``, on a copy renamed over the store when complete) and
``STORE_DIR/candidates.csv``. The line lists default to the ones a previous ``find`` recorded in the store.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from gapviz.discover.crossmatch import read_linelist_in_range
from gapviz.discover.find import CANDIDATE_COLUMNS, LINE_COLUMNS, find_candidates
from gapviz.discover.rank import absent_absorption
from gapviz.errors import GapvizError
from gapviz.files import atomic_write_text
from gapviz.instrument import RESOLUTION
from gapviz.store import schema as S
from gapviz.store.open import open_store, store_candidates
from gapviz.store.paths import candidates_file, existing_store_file, store_dir
from gapviz.store.write import update_store
from gapviz.workflow.apply import history

#: Rows of the "features the theory lacks" list printed after find.
SUMMARY_ROWS = 10
#: LineModel calibrations the finder can use: the plain model, or the one calibrated against SME (docs/CALIBRATION.md).
CALIBRATIONS = ("none", "sme")


@dataclass
class FindResult:
    """What ``find`` wrote and found."""

    store_path: Path
    candidates_path: Path
    candidates: pd.DataFrame
    seconds: float
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return f"{count_line(self.candidates)} in {self.seconds:.1f} s\ncandidates: {self.candidates_path}" \
            + top_missing(self.candidates) + warning_lines(self.warnings)


def warning_lines(warnings: list[str]) -> str:
    return "".join(f"\nwarning: {w}" for w in warnings)


def count_line(candidates: pd.DataFrame) -> str:
    """"N candidates (M absorption features absent from the line list)"."""
    n_absent = int(absent_absorption(candidates).sum())
    return f"{len(candidates)} candidates ({n_absent} absorption features absent from the line list)"


def top_missing(candidates: pd.DataFrame, n: int = SUMMARY_ROWS) -> str:
    """A few lines of text: the best-ranked absorption features absent from the line list ("" if none)."""
    c = candidates[absent_absorption(candidates)].head(n) if len(candidates) else candidates
    if c.empty:
        return ""
    rows = [f"\ntop {len(c)} features the theory lacks (rank, vacuum Å, depth, follows, proposed identification):"]
    for _, r in c.iterrows():
        follows = str(r.get("attributed_label", "") or "")
        species = str(r.get("attributed_species", "") or "")
        follows += f" ({species})" if species else ""
        rows.append(f"  {int(r.get('rank', 0)):3d}  {float(r['wavelength']):10.2f}  {float(r['depth']):6.3f}  "
                    f"{follows:18s}  {str(r.get('identification', '') or '-')}")
    return "\n".join(rows)


def candidates_csv(findings: xr.Dataset) -> str:
    """The candidate table of a finder Dataset (or a store) as CSV text, columns as stored, rank order; with a
    ``warning`` column on every row when the store holds fewer than ``apply.MIN_STARS`` stars."""
    from gapviz.workflow.apply import MIN_STARS

    table = store_candidates(findings)
    table = table[[c for c in CANDIDATE_COLUMNS if c in table]]
    n_star = int(findings.sizes.get("star", 0))
    if 0 < n_star < MIN_STARS:
        table = table.assign(warning=f"only {n_star} stars (fewer than {MIN_STARS}): population statistics are "
                                     "unreliable, read these candidates as indicative")
    return table.to_csv(index=False, float_format="%.8g")


def recorded_path(given, ds: xr.Dataset, attr: str, what: str, store: Path) -> str:
    """A path given on the command line, else the one the store recorded ("" if neither)."""
    path = str(given or ds.attrs.get(attr, "") or "")
    if path and not given and not Path(path).exists():
        raise GapvizError(f"{store}: records {what} {path}, which no longer exists; pass it again "
                          f"({'--linelist' if attr == 'linelist_path' else '--reference-linelist'})")
    return path


def load_theory(store: str | os.PathLike):
    """The theory saved beside the store (``theory.pt``), or None when there is none."""
    path = store_dir(store) / S.THEORY_FILE
    if not path.is_file():
        return None
    from gapviz.adapt.theory_fit import TheoryFit

    return TheoryFit.load(path)


def find(store: str | os.PathLike, linelist: str | os.PathLike | None = None,
         reference_linelist: str | os.PathLike | None = None, attribution: str = "hypothesis",
         resolution: float = RESOLUTION, theory=None, line_depths=None, calibration: str | None = None) -> FindResult:
    """Find the candidates of a store and write them (see the module docstring). ``theory`` overrides the
    store's ``theory.pt``; ``line_depths`` the LineModel that judges whether a theory line is strong enough;
    ``calibration`` LineModel's ("none" or "sme"; None: the one the store's last find used, else "none")."""
    t0 = time.perf_counter()
    path = existing_store_file(store)
    ds = open_store(path)
    try:
        lines_path = recorded_path(linelist, ds, "linelist_path", "the line list", path)
        if not lines_path:
            raise GapvizError(f"{path}: no line list recorded in the store; pass --linelist L (the theory's list)")
        ref_path = recorded_path(reference_linelist, ds, "reference_linelist_path", "the reference list", path)
        wl = np.asarray(ds["wavelength"].values, dtype=np.float64)
        lines = read_linelist_in_range(lines_path, wl)
        reference = read_linelist_in_range(ref_path, wl) if ref_path else None
        theory = theory if theory is not None else load_theory(path)
        calibration = calibration or str(ds.attrs.get("line_model_calibration", "") or "none")
        if calibration not in CALIBRATIONS:
            raise GapvizError(f"--calibration must be one of {CALIBRATIONS}, got {calibration!r}")
        findings = find_candidates(ds, lines, reference=reference, theory=theory, attribution=attribution,
                                   resolution=resolution, line_depths=line_depths,
                                   calibration=None if calibration == "none" else calibration)
        warnings = [w for w in str(ds.attrs.get("warnings", "")).split("\n") if w]
    finally:
        ds.close()
    write_findings(path, findings, {"linelist_path": str(lines_path), "reference_linelist_path": str(ref_path)})
    csv = candidates_file(path)
    atomic_write_text(csv, candidates_csv(findings))
    return FindResult(path, csv, store_candidates(findings), time.perf_counter() - t0, warnings)


def write_findings(path: Path, findings: xr.Dataset, attrs: dict) -> None:
    """Write a finder Dataset into the store at ``path`` (replacing earlier findings), atomically."""
    with update_store(path) as writer:
        writer.write_table(store_candidates(findings), "candidate", "candidate_", CANDIDATE_COLUMNS)
        lines = pd.DataFrame({c: findings[f"line_{c}"].values for c in LINE_COLUMNS})
        writer.write_table(lines, "line", "line_", LINE_COLUMNS)
        if "correction_systematic" in findings:
            writer.write("correction_systematic", findings["correction_systematic"].values)
        before = str(writer.f.attrs.get("history", ""))
        writer.set_attrs(dict(findings.attrs) | attrs | {"history": "\n".join(filter(None, [before, history("find")]))})
