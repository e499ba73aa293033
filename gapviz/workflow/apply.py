"""`gapviz apply`: a trained run and an observed set → the per-pixel store ``STORE_DIR/store.nc``.

Two passes over the observed file, one star chunk at a time (memory bounded by a chunk):
1. every star's labels through the adapted model (``Adaptation.fit_labels``; labels are small and kept),
   which fixes the label bins and the population spread;
2. theory, synthetic counterpart and adapted model of each star → the cubes and per-star figures
   (``gapviz.store.products``), written as they come, and the aggregates (``gapviz.store.aggregate``).
The run's theory (``Adaptation.theory_fit``) is saved beside the store as ``theory.pt`` for ``gapviz find``.

With ``workers`` (a dask LocalCluster of that many processes), ``scheduler`` (an existing dask cluster) or
``resume``, the same two passes run chunk by chunk in ``gapviz.workflow.scale``: each chunk's labels and
products go to chunk files in ``STORE_DIR/.apply-parts/``, merged into the same ``store.nc`` at the end;
an interrupted run continues from its finished chunks with ``resume``. Without them, one process, as here.
"""

from __future__ import annotations

import math
import os
import shutil
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
from gapviz.store.parts import parts_dir
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
    #: Chunks an interrupted run had finished that this one kept (``resume``), of ``n_chunks``.
    resumed: int = 0
    n_chunks: int = 0

    def summary(self) -> str:
        kept = f"\nresumed: kept {self.resumed} of {self.n_chunks} chunk files already written" if self.resumed else ""
        return (f"{self.n_star} stars; chi2nu (median) {self.chi2nu_theory_median:.3g} -> "
                f"{self.chi2nu_adapted_median:.3g} in {self.seconds:.1f} s\nstore: {self.store_path}" + kept
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
          adaptation=None, progress: bool = True, workers: int | None = None, scheduler: str | None = None,
          resume: bool = False) -> ApplyResult:
    """Write ``out/store.nc`` (and ``out/theory.pt``); see the module docstring.

    ``adaptation`` overrides loading ``run_dir`` (any object with the ARCHITECTURE.md §5 interface). With
    ``workers``/``scheduler``, workers load ``run_dir`` themselves (``adaptation`` must then be that run's);
    without ``run_dir`` the ``adaptation`` object is sent to them, so it must pickle.
    ``workers``: processes of a local dask cluster; ``scheduler``: the address of an existing one; ``resume``:
    keep the chunk files an interrupted run left in ``out/.apply-parts`` (any of the three runs in parts;
    none of them: one process, as fast as before).
    """
    t0 = time.perf_counter()
    if chunk_size < 1:
        raise GapvizError(f"--chunk-size {chunk_size}: expected a positive number of stars")
    if workers is not None and workers < 1:
        raise GapvizError(f"--workers {workers}: expected a number of processes >= 1")
    if workers is not None and scheduler:
        raise GapvizError("--workers starts a local cluster, --scheduler uses an existing one: give one of them")
    store_path = check_target(out, overwrite)
    if adaptation is None:
        if run_dir is None:
            raise GapvizError("apply needs RUN_DIR, a finished 'gapviz train' run")
        from gapviz.adapt import load_adaptation

        adaptation = load_adaptation(run_dir, device="auto")  # cuda when present
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
        if workers is not None or scheduler or resume:
            from gapviz.workflow.scale import apply_in_parts

            return apply_in_parts(adaptation, run_dir, observed, out, synthetic, overwrite, chunk_size,
                                  workers, scheduler, resume, progress, t0)
        if parts_dir(out).exists():  # an interrupted run in parts: without resume it starts over
            shutil.rmtree(parts_dir(out))
        names = list(adaptation.label_names)
        labels, labels_err, at_bound = _fit_all(adaptation, obs, chunk_size, progress)
        mean, std, edges, layout = population(labels, names, wl, obs.n_star, chunk_size)
        acc = Accumulator(wl.size, names, mean, std, edges)
        chi_t, chi_a = np.empty(obs.n_star), np.empty(obs.n_star)
        respond = even_rows(obs.n_star, RESPONSE_STARS)
        with create_store(store_path, layout, overwrite=overwrite) as writer:
            for a, b in progress_bar(chunks(obs.n_star, chunk_size), progress, desc="apply", unit="chunk"):
                arrays = chunk_arrays(adaptation, obs.read(slice(a, b)), a, labels[a:b], labels_err[a:b], names,
                                      acc, respond[(respond >= a) & (respond < b)] - a)
                chi_t[a:b], chi_a[a:b] = arrays["chi2nu_theory"], arrays["chi2nu_adapted"]
                writer.write_stars(a, arrays)
            warnings = finish_store(writer, acc, std, at_bound, chi_t, chi_a, run_dir, synthetic, observed)
    save_theory(adaptation, out)
    return ApplyResult(store_path, obs.n_star, median_or_nan(chi_t), median_or_nan(chi_a), time.perf_counter() - t0,
                       warnings)


def population(labels: np.ndarray, names: list[str], wl: np.ndarray, n_star: int, chunk_size: int):
    """(mean, std, bin edges, StoreLayout) that every star's labels (n, L) fix."""
    mean, std = moments(labels)
    edges = {k: bin_edges(labels[:, names.index(k)]) for k in S.BINNED_LABELS if k in names}
    layout = StoreLayout(wl, n_star, names, {k: 0.5 * (e[1:] + e[:-1]) for k, e in edges.items()},
                         chunk_stars=chunk_size)
    return mean, std, edges, layout


def moments(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(L,) mean and standard deviation of each label over the stars, NaN ignored, as ``np.nanmean`` and
    ``np.nanstd`` but summed exactly (``math.fsum``): the same bits wherever the labels sit in memory, so a
    store merged from chunk files equals a single-process one."""
    mean, std = np.full(labels.shape[1], np.nan), np.full(labels.shape[1], np.nan)
    for j in range(labels.shape[1]):
        col = labels[:, j][np.isfinite(labels[:, j])]
        if col.size:
            mean[j] = math.fsum(col) / col.size
            std[j] = math.sqrt(math.fsum((col - mean[j]) ** 2) / col.size)
    return mean, std


def chunk_arrays(adaptation, s, a: int, lab: np.ndarray, lab_err: np.ndarray, names: list[str], acc: Accumulator,
                 pick: np.ndarray) -> dict[str, np.ndarray]:
    """One star chunk (``Spectra`` ``s``, rows from ``a``, labels ``lab``): the store's per-star arrays; its
    sums are added to ``acc``, and the responses of its rows ``pick`` (chunk-relative)."""
    flux = s.flux.astype(np.float64)
    err = (s.flux_err if s.flux_err is not None else np.full_like(s.flux, np.nan)).astype(np.float64)
    p = star_products(flux, err, adaptation.theory(lab), adaptation.to_synthetic(flux, err),
                      adaptation.adapted(flux, err), len(names))
    ids = s.star_id if s.star_id is not None else np.array([f"star{i}" for i in range(a, a + len(flux))])
    star = {"star_id": ids} | {n: lab[:, j] for j, n in enumerate(names)} \
        | {f"{n}_err": lab_err[:, j] for j, n in enumerate(names)}
    acc.update(p["correction"], p["residual_theory"], p["residual_adapted"], p["flux_err"],
               p["pixel_mask"].astype(bool), lab, theory=p["flux_theory"])
    if pick.size:
        d_adapted, d_theory = adaptation.response(lab[pick], flux[pick], err[pick])
        acc.update_response(np.asarray(d_adapted, np.float64), np.asarray(d_theory, np.float64))
    return p | star


def finish_store(writer, acc: Accumulator, std: np.ndarray, at_bound, chi_t: np.ndarray, chi_a: np.ndarray,
                 run_dir, synthetic, observed) -> list[str]:
    """Write the domain flags, the aggregates and the attributes; return the warnings."""
    flags = domain_flags(at_bound, chi_a)
    warnings = domain_warnings(chi_a.size, flags)
    writer.write("domain_flag", flags)
    writer.write_many(acc.result() | {"label_spread": std.astype(np.float32)})
    writer.set_attrs({
        "title": "gapviz residual store: observed spectra, theory, adapted model and learned corrections",
        "gapviz_version": __version__, "run_dir": str(run_dir or ""), "synthetic_path": str(synthetic or ""),
        "observed_path": str(observed), "method": "adapted",
        "chi2nu_theory_median": median_or_nan(chi_t), "chi2nu_adapted_median": median_or_nan(chi_a),
        "n_candidates": 0, "history": history("apply"), "warnings": "\n".join(warnings),
    })
    return warnings


def save_theory(adaptation, out) -> None:
    """``STORE_DIR/theory.pt``: the run's theory, for 'gapviz find'."""
    theory_fit = getattr(adaptation, "theory_fit", None)
    if hasattr(theory_fit, "save"):
        theory_fit.save(store_dir(out) / S.THEORY_FILE)


def fit_chunk(model, s):
    """(labels, labels_err, at_bound or None) of one chunk ``s``."""
    err = s.flux_err if s.flux_err is not None else np.full_like(s.flux, np.nan)
    fit = model.fit_labels(s.flux, err)
    return (np.asarray(fit.labels, dtype=np.float64), np.asarray(fit.labels_err, dtype=np.float64),
            getattr(fit, "at_bound", None))


def _fit_all(model, obs: SpectraFile, chunk: int, progress: bool):
    """(labels, labels_err, at_bound or None) of every star, chunk by chunk."""
    labels, errs, edge = [], [], []
    for a, b in progress_bar(chunks(obs.n_star, chunk), progress, desc="fit labels", unit="chunk"):
        lab, err, at = fit_chunk(model, obs.read(slice(a, b)))
        labels.append(lab)
        errs.append(err)
        edge.append(at)
    return np.concatenate(labels), np.concatenate(errs), join_at_bound(edge)


def join_at_bound(edge: list) -> np.ndarray | None:
    return np.concatenate(edge) if edge and all(e is not None for e in edge) else None
