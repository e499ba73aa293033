"""`gapviz apply`: a trained run and an observed set → the per-pixel store ``STORE_DIR/store.nc``.

Two passes over the observed file, one star chunk at a time (memory bounded by a chunk):
1. every star's labels through the adapted model (``Adaptation.fit_labels``; labels are small and kept),
   which fixes the label bins and the population spread;
2. theory, synthetic counterpart and adapted model of each star → the cubes and per-star figures
   (``gapviz.store.products``), written as they come, and the aggregates (``gapviz.store.aggregate``).
The run's theory (``Adaptation.theory_fit``) is saved beside the store as ``theory.pt`` for ``gapviz find``.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gapviz import __version__
from gapviz.errors import GapvizError
from gapviz.io.spectra import SpectraFile, check_same_grid
from gapviz.progress import progress_bar
from gapviz.store import schema as S
from gapviz.store.aggregate import Accumulator, bin_edges, even_rows
from gapviz.store.paths import check_target, store_dir
from gapviz.store.products import star_products
from gapviz.store.write import StoreLayout, create_store

#: Responses (Jacobians) are averaged over at most this many stars, spread evenly over the set.
RESPONSE_STARS = 256
#: A star whose adapted χ²ν stays above this is flagged: the adaptation does not explain it (domain_flag 2).
CHI2NU_WARN = 3.0
#: Fewer stars than this make the population statistics (aggregates, candidates) unreliable: a warning.
MIN_STARS = 50


@dataclass
class ApplyResult:
    """What ``apply`` wrote."""

    store_path: Path
    n_star: int
    chi2nu_theory_median: float
    chi2nu_adapted_median: float
    seconds: float
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (f"{self.n_star} stars; chi2nu (median) {self.chi2nu_theory_median:.3g} -> "
                f"{self.chi2nu_adapted_median:.3g} in {self.seconds:.1f} s\nstore: {self.store_path}"
                + "".join(f"\nwarning: {w}" for w in self.warnings))


def domain_flags(at_bound: np.ndarray | None, chi2nu_adapted: np.ndarray) -> np.ndarray:
    """(n,) int8 ``domain_flag`` (``gapviz.store.schema.DOMAIN_FLAGS``): a fitted label on the edge of the
    synthetic box (``at_bound`` (n, L), None if the fitter does not say), adapted χ²ν above ``CHI2NU_WARN``."""
    flags = np.zeros(chi2nu_adapted.shape, dtype=np.int8)
    if at_bound is not None:
        flags |= np.where(np.any(at_bound, axis=1), S.DOMAIN_FLAGS["label_at_edge_of_synthetic_box"], 0).astype(np.int8)
    with np.errstate(invalid="ignore"):
        flags |= np.where(chi2nu_adapted > CHI2NU_WARN, S.DOMAIN_FLAGS["adapted_fit_poor"], 0).astype(np.int8)
    return flags


def domain_warnings(n_star: int, flags: np.ndarray) -> list[str]:
    """The warnings a user must read before trusting the store (few stars, stars outside the domain)."""
    out = []
    if n_star < MIN_STARS:
        out.append(f"only {n_star} stars: population statistics (mean correction, candidates) need many stars "
                   f"(at least {MIN_STARS}); read the candidates as indicative")
    edge = int(np.count_nonzero(flags & S.DOMAIN_FLAGS["label_at_edge_of_synthetic_box"]))
    poor = int(np.count_nonzero(flags & S.DOMAIN_FLAGS["adapted_fit_poor"]))
    if edge or poor:
        out.append(f"{int(np.count_nonzero(flags))} of {n_star} stars look outside the theory's domain ({edge} with a "
                   f"fitted label at the edge of the synthetic set's box, {poor} with adapted chi2nu > {CHI2NU_WARN:g}); "
                   "they are flagged in the store's domain_flag: train on a synthetic set that covers them")
    return out


def chunks(n: int, size: int) -> list[tuple[int, int]]:
    """(start, stop) star ranges of at most ``size`` stars covering ``n``."""
    return [(s, min(n, s + size)) for s in range(0, n, size)]


def median_or_nan(values: np.ndarray) -> float:
    return float(np.nanmedian(values)) if np.isfinite(values).any() else float("nan")


def history(stage: str) -> str:
    """A CF ``history`` line for a stage run now."""
    return f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} gapviz {__version__} {stage}"


def apply(run_dir: str | os.PathLike | None, observed: str | os.PathLike, out: str | os.PathLike,
          synthetic: str | os.PathLike | None = None, overwrite: bool = False, chunk_size: int = 256,
          adaptation=None, progress: bool = True) -> ApplyResult:
    """Write ``out/store.nc`` (and ``out/theory.pt``); see the module docstring.

    ``adaptation`` overrides loading ``run_dir`` (any object with the ARCHITECTURE.md §5 interface).
    """
    t0 = time.perf_counter()
    if chunk_size < 1:
        raise GapvizError(f"--chunk-size {chunk_size}: expected a positive number of stars")
    store_path = check_target(out, overwrite)
    if adaptation is None:
        if run_dir is None:
            raise GapvizError("apply needs RUN_DIR, a finished 'gapviz train' run")
        from gapviz.adapt import load_adaptation

        adaptation = load_adaptation(run_dir, device="cpu")
    with SpectraFile(observed) as obs:
        wl = obs.wavelength
        check_same_grid(np.asarray(adaptation.wavelength, dtype=np.float64), wl,
                        f"RUN_DIR {run_dir} (the trained model's grid)", f"{observed}")
        if synthetic is not None:
            with SpectraFile(synthetic) as syn:
                check_same_grid(syn.wavelength, wl, str(synthetic), str(observed))
        if not obs.has_flux_err:
            raise GapvizError(f"{observed}: no /flux_err; --observed needs observed spectra with 1-sigma errors "
                              "(is this a synthetic set? those go to 'gapviz train --synthetic')")
        names = list(adaptation.label_names)
        labels, labels_err, at_bound = _fit_all(adaptation, obs, chunk_size, progress)
        mean, std = np.nanmean(labels, axis=0), np.nanstd(labels, axis=0)
        edges = {k: bin_edges(labels[:, names.index(k)]) for k in S.BINNED_LABELS if k in names}
        layout = StoreLayout(wl, obs.n_star, names, {k: 0.5 * (e[1:] + e[:-1]) for k, e in edges.items()},
                             chunk_stars=chunk_size)
        acc = Accumulator(wl.size, names, mean, std, edges)
        chi_t, chi_a = np.empty(obs.n_star), np.empty(obs.n_star)
        respond = even_rows(obs.n_star, RESPONSE_STARS)
        with create_store(store_path, layout, overwrite=overwrite) as writer:
            for a, b in progress_bar(chunks(obs.n_star, chunk_size), progress, desc="apply", unit="chunk"):
                s = obs.read(slice(a, b))
                flux = s.flux.astype(np.float64)
                err = (s.flux_err if s.flux_err is not None else np.full_like(s.flux, np.nan)).astype(np.float64)
                lab = labels[a:b]
                p = star_products(flux, err, adaptation.theory(lab), adaptation.to_synthetic(flux, err),
                                  adaptation.adapted(flux, err), len(names))
                chi_t[a:b], chi_a[a:b] = p["chi2nu_theory"], p["chi2nu_adapted"]
                ids = s.star_id if s.star_id is not None else np.array([f"star{i}" for i in range(a, b)])
                star = {"star_id": ids} | {n: lab[:, j] for j, n in enumerate(names)} \
                    | {f"{n}_err": labels_err[a:b, j] for j, n in enumerate(names)}
                writer.write_stars(a, p | star)
                acc.update(p["correction"], p["residual_theory"], p["residual_adapted"], p["flux_err"],
                           p["pixel_mask"].astype(bool), lab, theory=p["flux_theory"])
                pick = respond[(respond >= a) & (respond < b)] - a
                if pick.size:
                    d_adapted, d_theory = adaptation.response(lab[pick], flux[pick], err[pick])
                    acc.update_response(np.asarray(d_adapted, np.float64), np.asarray(d_theory, np.float64))
            flags = domain_flags(at_bound, chi_a)
            warnings = domain_warnings(obs.n_star, flags)
            writer.write("domain_flag", flags)
            writer.write_many(acc.result() | {"label_spread": std.astype(np.float32)})
            writer.set_attrs({
                "title": "gapviz residual store: observed spectra, theory, adapted model and learned corrections",
                "gapviz_version": __version__, "run_dir": str(run_dir or ""), "synthetic_path": str(synthetic or ""),
                "observed_path": str(observed), "method": "adapted",
                "chi2nu_theory_median": median_or_nan(chi_t), "chi2nu_adapted_median": median_or_nan(chi_a),
                "n_candidates": 0, "history": history("apply"), "warnings": "\n".join(warnings),
            })
    theory_fit = getattr(adaptation, "theory_fit", None)
    if hasattr(theory_fit, "save"):
        theory_fit.save(store_dir(out) / S.THEORY_FILE)
    return ApplyResult(store_path, obs.n_star, median_or_nan(chi_t), median_or_nan(chi_a), time.perf_counter() - t0,
                       warnings)


def _fit_all(model, obs: SpectraFile, chunk: int, progress: bool):
    """(labels, labels_err, at_bound or None) of every star, chunk by chunk."""
    labels, errs, edge = [], [], []
    for a, b in progress_bar(chunks(obs.n_star, chunk), progress, desc="fit labels", unit="chunk"):
        s = obs.read(slice(a, b))
        err = s.flux_err if s.flux_err is not None else np.full_like(s.flux, np.nan)
        fit = model.fit_labels(s.flux, err)
        labels.append(np.asarray(fit.labels, dtype=np.float64))
        errs.append(np.asarray(fit.labels_err, dtype=np.float64))
        edge.append(getattr(fit, "at_bound", None))
    at_bound = np.concatenate(edge) if edge and all(e is not None for e in edge) else None
    return np.concatenate(labels), np.concatenate(errs), at_bound
