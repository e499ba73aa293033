"""`gapviz apply` at survey scale: the two passes in chunk files, on a dask cluster, resumable.

``apply_in_parts`` (called by ``gapviz.workflow.apply.apply`` with ``workers``, ``scheduler`` or ``resume``):
1. each star chunk's labels → ``STORE_DIR/.apply-parts/labels-<start>.h5`` (one task per chunk);
2. every star's labels fix the bins and the population moments, as in one process; each chunk's products,
   encoded and compressed as the store keeps them, and its aggregate sums → ``part-<start>.h5``;
3. one merge, in star order, into ``store.nc`` (written atomically: nothing half-written there), copying the
   compressed chunks as they are and adding the sums; then the work folder is removed.
Chunk files are written atomically, so one that exists is finished: ``resume`` keeps them and computes only
the rest; without it, a work folder left by an interrupted run is removed first. The store equals the
single-process one variable by variable (sums added in the same order give the same bits).

Where the tasks run: ``workers`` N starts a ``distributed.LocalCluster`` of N processes with one thread each
(torch set to one thread), ``scheduler`` connects to an existing cluster (its workers must see the same
paths), neither runs the tasks here one after the other. Workers get the adaptation by loading ``run_dir``
themselves (once per worker process); an adaptation object given to ``apply`` is sent instead (it must
pickle, as ``gapviz.testing.toy.ToyAdaptation`` does). Memory: a task holds one chunk; the merge holds one
chunk file and, like one process, every star's labels and χ²ν.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gapviz.errors import GapvizError
from gapviz.io.spectra import SpectraFile
from gapviz.progress import progress_bar
from gapviz.store import parts
from gapviz.store.aggregate import Accumulator, even_rows
from gapviz.store.paths import store_file
from gapviz.store.write import create_store
from gapviz.workflow.apply import (
    RESPONSE_STARS,
    ApplyResult,
    chunk_arrays,
    chunks,
    finish_store,
    fit_chunk,
    join_at_bound,
    median_or_nan,
    population,
    save_theory,
)


@dataclass(frozen=True)
class RunDir:
    """An adaptation the workers load themselves from a finished run (``gapviz.adapt.load_adaptation``)."""

    path: str


_LOADED: dict[str, object] = {}


def _model(source):
    """The adaptation in this (worker) process: loaded once per run directory, or the object sent."""
    if isinstance(source, RunDir) and source.path not in _LOADED:
        from gapviz.adapt import load_adaptation

        _LOADED[source.path] = load_adaptation(source.path, device="auto")  # cuda when present
    _one_thread()
    return _LOADED[source.path] if isinstance(source, RunDir) else source


def _one_thread() -> None:
    """A worker runs one task per thread: torch must not spread each one over every core."""
    torch = sys.modules.get("torch")
    if torch is not None and torch.get_num_threads() != 1:
        torch.set_num_threads(1)


def labels_task(source, observed: str, a: int, b: int, path: str) -> str:
    """Pass 1 of chunk a:b → its label file."""
    model = _model(source)
    with SpectraFile(observed) as obs:
        s = obs.read(slice(a, b))
    parts.write_labels(Path(path), *fit_chunk(model, s))
    return path


def part_task(source, observed: str, a: int, b: int, path: str, population: tuple, lab: np.ndarray,
              lab_err: np.ndarray, pick: np.ndarray) -> str:
    """Pass 2 of chunk a:b → its part file (products and the chunk's aggregate sums). ``population``: the
    (StoreLayout, label mean, label std, bin edges) every star's labels fixed, shared by all chunks."""
    layout, mean, std, edges = population
    model = _model(source)
    with SpectraFile(observed) as obs:
        s = obs.read(slice(a, b))
    acc = Accumulator(layout.wavelength.size, list(layout.label_names), mean, std, edges)
    arrays = chunk_arrays(model, s, a, lab, lab_err, list(layout.label_names), acc, pick)
    parts.write_part(Path(path), layout, arrays, acc, raw=("chi2nu_theory", "chi2nu_adapted"))  # their medians
    return path


class _Here:
    """Runs the tasks in this process, one after the other."""

    def source(self, adaptation, run_dir):
        return adaptation

    def share(self, obj):
        return obj

    def run(self, fn: Callable, calls: list[tuple], progress: bool, desc: str) -> None:
        for args in progress_bar(calls, progress, desc=desc, unit="chunk"):
            fn(*args)


class _Dask:
    """Runs the tasks on a dask.distributed cluster."""

    def __init__(self, client):
        self.client = client

    def source(self, adaptation, run_dir):
        """What tasks get the adaptation from: the run directory (each worker loads it once) or, without
        one, the object itself, sent once to every worker."""
        if run_dir:
            return RunDir(str(Path(run_dir).resolve()))
        return self.share(adaptation)

    def share(self, obj):
        """``obj`` sent once to every worker (tasks then carry only its key)."""
        return self.client.scatter(obj, broadcast=True, hash=False)

    def run(self, fn: Callable, calls: list[tuple], progress: bool, desc: str) -> None:
        from distributed import as_completed

        futures = [self.client.submit(fn, *args, pure=False) for args in calls]
        try:
            for fut in progress_bar(as_completed(futures), progress, desc=desc, unit="chunk", total=len(futures)):
                fut.result()  # a task's error is raised here, with its own type and message
        finally:
            self.client.cancel([f for f in futures if not f.done()])


@contextlib.contextmanager
def executor(workers: int | None, scheduler: str | None) -> Iterator[_Here | _Dask]:
    """Where the chunk tasks run: a LocalCluster of ``workers`` processes, the cluster at ``scheduler``,
    or (neither) this process."""
    if not workers and not scheduler:
        yield _Here()
        return
    try:
        from distributed import Client, LocalCluster
    except ImportError as e:
        raise GapvizError("--workers/--scheduler need dask.distributed: pip install 'dask[distributed]'") from e
    if scheduler:
        try:
            client = Client(scheduler, timeout="20s")
        except (OSError, TimeoutError) as e:
            raise GapvizError(f"--scheduler {scheduler}: no dask scheduler answered there ({e})") from None
        with client:
            yield _Dask(client)
        return
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                      scheduler_kwargs={"dashboard": False}, silence_logs=logging.ERROR) as cluster, \
            Client(cluster) as client:
        yield _Dask(client)


def _manifest(run_dir, observed, n_star: int, chunk_size: int, names: list[str], npix: int) -> dict:
    st = os.stat(observed)
    return {"observed": str(Path(observed).resolve()), "observed_bytes": st.st_size,
            "observed_mtime_ns": st.st_mtime_ns, "n_star": n_star, "chunk_size": chunk_size,
            "run_dir": str(Path(run_dir).resolve()) if run_dir else "", "run_model_mtime_ns": _mtime(run_dir),
            "label_names": names, "npix": npix}


def _mtime(run_dir) -> int:
    """When the run's model was written (a retrained run in the same RUN_DIR is another input); 0 if unknown."""
    model = Path(run_dir) / "model.pt" if run_dir else None
    return model.stat().st_mtime_ns if model is not None and model.is_file() else 0


def apply_in_parts(adaptation, run_dir, observed, out, synthetic, overwrite: bool, chunk_size: int,
                   workers: int | None, scheduler: str | None, resume: bool, progress: bool, t0: float) -> ApplyResult:
    """``apply`` through chunk files (module docstring); the inputs were checked by ``apply``."""
    store_path = store_file(out)
    names = list(adaptation.label_names)
    path = Path(observed).resolve()  # the workers may run elsewhere: absolute paths
    with SpectraFile(path) as obs:
        n_star, wl = obs.n_star, obs.wavelength
    folder = parts.parts_dir(out).resolve()
    spans = chunks(n_star, chunk_size)
    with executor(workers, scheduler) as ex:  # a cluster that cannot be reached leaves nothing behind
        parts.prepare(folder, _manifest(run_dir, path, n_star, chunk_size, names, wl.size), resume)
        kept = sum(parts.readable(parts.part_file(folder, a)) for a, _ in spans)
        source = ex.source(adaptation, run_dir)
        todo = [(source, str(path), a, b, str(parts.label_file(folder, a))) for a, b in spans
                if not parts.readable(parts.label_file(folder, a))]
        ex.run(labels_task, todo, progress, "fit labels")
        labels, errs, edge = [], [], []
        for a, b in spans:
            lab, err, at = parts.read_labels(parts.label_file(folder, a))
            labels.append(lab)
            errs.append(err)
            edge.append(at)
        labels, errs, at_bound = np.concatenate(labels), np.concatenate(errs), join_at_bound(edge)
        mean, std, edges, layout = population(labels, names, wl, n_star, chunk_size)
        respond = even_rows(n_star, RESPONSE_STARS)
        shared = ex.share((layout, mean, std, edges))
        todo = [(source, str(path), a, b, str(parts.part_file(folder, a)), shared, labels[a:b], errs[a:b],
                 respond[(respond >= a) & (respond < b)] - a)
                for a, b in spans if not parts.readable(parts.part_file(folder, a))]
        ex.run(part_task, todo, progress, "apply")
    acc = Accumulator(wl.size, names, mean, std, edges)
    chi_t, chi_a = np.empty(n_star), np.empty(n_star)
    with create_store(store_path, layout, overwrite=overwrite) as writer:
        for a, b in progress_bar(spans, progress, desc="merge", unit="chunk"):
            star = parts.merge_part(writer, a, parts.part_file(folder, a), acc)
            chi_t[a:b], chi_a[a:b] = star["chi2nu_theory"], star["chi2nu_adapted"]
        warnings = finish_store(writer, acc, std, at_bound, chi_t, chi_a, run_dir, synthetic, observed)
    save_theory(adaptation, out)
    parts.remove(folder)
    return ApplyResult(store_path, n_star, median_or_nan(chi_t), median_or_nan(chi_a), time.perf_counter() - t0,
                       warnings, resumed=kept, n_chunks=len(spans))
