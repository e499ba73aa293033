"""`gapviz analyze`: ``apply`` then ``find`` in a row (or the no-learning baseline with ``--method baseline``)."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from gapviz import __version__
from gapviz.discover.baseline import baseline_candidates
from gapviz.discover.crossmatch import read_linelist_in_range
from gapviz.discover.find import ATTRIBUTIONS, LINE_COLUMNS, candidates_dataset
from gapviz.discover.rank import rank
from gapviz.errors import GapvizError
from gapviz.files import atomic_write_text
from gapviz.instrument import RESOLUTION
from gapviz.io.spectra import SpectraFile
from gapviz.store.open import store_candidates
from gapviz.store.paths import candidates_file, check_target
from gapviz.store.write import StoreLayout, create_store
from gapviz.workflow.apply import apply, history
from gapviz.workflow.find import candidates_csv, count_line, find, top_missing, warning_lines, write_findings

METHODS = ("adapted", "baseline")


@dataclass
class AnalyzeResult:
    """What ``analyze`` wrote and found."""

    store_path: Path
    candidates_path: Path
    n_star: int
    chi2nu_theory_median: float
    chi2nu_adapted_median: float
    candidates: pd.DataFrame
    seconds: float
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> str:
        chi = (f"chi2nu (median) {self.chi2nu_theory_median:.3g} -> {self.chi2nu_adapted_median:.3g}; "
               if np.isfinite(self.chi2nu_theory_median) else "")
        return (f"{self.n_star} stars; {chi}{count_line(self.candidates)} in {self.seconds:.1f} s\n"
                f"store: {self.store_path}\ncandidates: {self.candidates_path}" + top_missing(self.candidates)
                + warning_lines(self.warnings))


def analyze(run_dir: str | os.PathLike | None, observed: str | os.PathLike, linelist: str | os.PathLike,
            out: str | os.PathLike, synthetic: str | os.PathLike | None = None,
            reference_linelist: str | os.PathLike | None = None, method: str = "adapted", overwrite: bool = False,
            chunk_size: int = 256, resolution: float = RESOLUTION, attribution: str = "hypothesis",
            adaptation=None, line_depths=None, progress: bool = True, workers: int | None = None,
            scheduler: str | None = None, resume: bool = False, calibration: str | None = None) -> AnalyzeResult:
    """``gapviz apply`` then ``gapviz find`` on its store; arguments as theirs."""
    t0 = time.perf_counter()
    if method not in METHODS:
        raise GapvizError(f"--method {method!r}: expected one of {METHODS}")
    if attribution not in ATTRIBUTIONS:
        raise GapvizError(f"--attribution {attribution!r}: expected one of {ATTRIBUTIONS}")
    check_target(out, overwrite)
    with SpectraFile(observed) as obs:  # a bad line list fails before the long apply
        read_linelist_in_range(linelist, obs.wavelength)
    if method == "baseline":
        return _analyze_baseline(observed, linelist, out, synthetic, reference_linelist, overwrite, resolution, t0)
    if adaptation is None:
        if run_dir is None:
            raise GapvizError("analyze --method adapted needs RUN_DIR, a finished 'gapviz train' run")
        from gapviz.adapt import load_adaptation

        adaptation = load_adaptation(run_dir, device="cpu")
    applied = apply(run_dir, observed, out, synthetic=synthetic, overwrite=overwrite, chunk_size=chunk_size,
                    adaptation=adaptation, progress=progress, workers=workers, scheduler=scheduler, resume=resume)
    found = find(applied.store_path, linelist, reference_linelist, attribution=attribution, resolution=resolution,
                 theory=adaptation.theory_fit, line_depths=line_depths, calibration=calibration)
    return AnalyzeResult(applied.store_path, found.candidates_path, applied.n_star, applied.chi2nu_theory_median,
                         applied.chi2nu_adapted_median, found.candidates, time.perf_counter() - t0, applied.warnings)


def _analyze_baseline(observed, linelist, out, synthetic, reference_linelist, overwrite, resolution,
                      t0) -> AnalyzeResult:
    """Baseline store: wavelength, candidate and line variables only (no star cubes, no labels)."""
    if synthetic is None:
        raise GapvizError("analyze --method baseline needs --synthetic S.h5 (median observed - median synthetic)")
    with SpectraFile(observed) as obs:
        wl, n_star = obs.wavelength, obs.n_star
    lines = read_linelist_in_range(linelist, wl)
    reference = read_linelist_in_range(reference_linelist, wl) if reference_linelist else None
    o, s, found = baseline_candidates(observed, synthetic, lines, resolution, reference)
    findings = candidates_dataset(rank(found), lines.reindex(columns=LINE_COLUMNS), None,
                                  {"resolution": float(resolution), "attribution_method": "none"})
    store_path = check_target(out, overwrite)
    with create_store(store_path, StoreLayout(wl, n_star, [], {}, cubes=()), overwrite=overwrite) as writer:
        diff = (o.median - s.median).astype(np.float32)
        writer.write_many({"correction_mean": diff, "residual_theory_mean": diff,
                           "correction_std": (np.sqrt(o.sem**2 + s.sem**2) * np.sqrt(min(o.n_star, s.n_star)))})
        writer.set_attrs({"title": "gapviz baseline store: median observed minus median synthetic",
                          "gapviz_version": __version__, "synthetic_path": str(synthetic),
                          "observed_path": str(observed), "method": "baseline", "history": history("analyze")})
    write_findings(store_path, findings, {"linelist_path": str(linelist),
                                          "reference_linelist_path": str(reference_linelist or "")})
    csv = candidates_file(out)
    atomic_write_text(csv, candidates_csv(findings))
    return AnalyzeResult(store_path, csv, n_star, np.nan, np.nan, store_candidates(findings), time.perf_counter() - t0)
