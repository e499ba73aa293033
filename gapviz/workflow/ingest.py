"""`gapviz ingest`: many apStar / apVisit / text spectrum files → one spectra-contract file and a report.

Streaming: each file is read (``gapviz.io.ingest.ingest_one``, in a process pool with ``workers`` > 1), its
row appended to the output in chunks (``gapviz.io.append.SpectraAppender``) in the order the paths were
given, whatever the number of workers; only ``workers × IN_FLIGHT_PER_WORKER`` files are in flight at once.
A file that cannot be read is skipped and listed with its reason in the report ``<out stem>.ingest.csv``
beside the output (columns path, status, reason, kind, star_id, snr, row). The output and the report are
written to temporary files in the output's folder and renamed at the end: an interrupted or failed ingest
leaves neither (nor a temporary file).

Besides the contract datasets (``/wavelength``, ``/flux``, ``/flux_err``, ``/star_id``, an empty ``/labels``
group, ``domain="observed"``) the output holds, one value per star:
- ``/header_labels/{teff,logg,fe_h}``: the APOGEE RV pipeline's Doppler-template values from the file header
  (``gapviz.io.apogee.apogee_header_labels``; NaN for text spectra). They are coarse, not ASPCAP results, so
  they are kept out of ``/labels``: no reader takes them for a synthetic set's labels.
- ``/snr`` (header SNR for APOGEE files, see ``gapviz.io.ingest``), ``/source_file`` (the path as given),
  ``/flux_err_estimated`` (1 where the error is a DER_SNR estimate: a text spectrum without an error column).
"""

from __future__ import annotations

import csv
import io
import multiprocessing
import os
import signal
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gapviz import __version__
from gapviz.errors import GapvizError
from gapviz.files import atomic_path
from gapviz.io.append import SpectraAppender
from gapviz.io.ingest import (
    GRIDS,
    HEADER_LABEL_NAMES,
    IngestOutcome,
    ingest_one,
    target_wavelength,
)
from gapviz.labels import label_info
from gapviz.progress import progress_bar

#: Files submitted to the pool per worker ahead of the one being written (bounds memory, keeps workers busy).
IN_FLIGHT_PER_WORKER = 4
REPORT_COLUMNS = ("path", "status", "reason", "kind", "star_id", "snr", "row")
HEADER_LABELS_NOTE = ("APOGEE RV-pipeline Doppler-template parameters from the file header (RV_TEFF, RV_LOGG, "
                      "RV_FEH): coarse grid values, not ASPCAP labels; NaN where the file has none")

SNR_NOTE = ("signal-to-noise ratio: APOGEE header SNR (median per pixel, reduction pipeline); text spectra: "
            "median flux/flux_err, or median flux / DER_SNR noise without an error column")


def report_path(out: str | os.PathLike) -> Path:
    """The report beside an ingest output: ``observed.h5`` → ``observed.ingest.csv``."""
    out = Path(out)
    return out.with_name(f"{out.stem}.ingest.csv")


def expand_paths(paths: list[str | os.PathLike], exclude: tuple[Path, ...] = ()) -> list[Path]:
    """The files to ingest: each path as given; a directory stands for its files (not recursive, hidden files
    and ``exclude`` left out), sorted by name."""
    skip = {p.resolve() for p in exclude}
    out: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            out += [c for c in sorted(p.iterdir())
                    if c.is_file() and not c.name.startswith(".") and c.resolve() not in skip]
        else:
            out.append(p)
    return out


@dataclass
class IngestResult:
    """What ``ingest`` wrote."""

    out: Path | None
    report: Path
    grid: str
    n_pix: int
    n_files: int
    n_ok: int
    seconds: float
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)

    @property
    def files_per_second(self) -> float:
        return self.n_files / self.seconds if self.seconds > 0 else float("inf")

    def summary(self) -> str:
        return (f"{self.n_ok} spectra from {self.n_files} files on the {self.grid} grid ({self.n_pix} px) in "
                f"{self.seconds:.1f} s ({self.files_per_second:.1f} files/s)\nwrote: {self.out}\nreport: {self.report}")

    def warning(self) -> str | None:
        """One line about the skipped files, None if none was skipped."""
        if not self.skipped:
            return None
        path, reason = self.skipped[0]
        first = "first: " if len(self.skipped) > 1 else ""
        return (f"{len(self.skipped)} of {self.n_files} files skipped (reasons in {self.report}); "
                f"{first}{Path(path).name}: {reason}")


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle: it stops the pool


def _outcomes(paths: list[Path], grid: str, workers: int, pool: ProcessPoolExecutor | None) -> Iterator[IngestOutcome]:
    """Each file's outcome, in the order of ``paths``."""
    if pool is None:
        for p in paths:
            yield ingest_one(p, grid)
        return
    todo = iter(paths)
    pending: deque = deque()

    def submit() -> None:
        p = next(todo, None)
        if p is not None:
            pending.append((p, pool.submit(ingest_one, str(p), grid)))

    for _ in range(workers * IN_FLIGHT_PER_WORKER):
        submit()
    while pending:
        p, future = pending.popleft()
        try:
            outcome = future.result()
        except BrokenProcessPool:
            raise GapvizError(f"{p}: a worker process died while reading it (out of memory?); "
                              "nothing was written; retry with fewer --workers") from None
        submit()
        yield outcome


def _write_report(path: Path, rows: list[dict]) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=REPORT_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(buf.getvalue())


def _pool(workers: int) -> ProcessPoolExecutor | None:
    if workers == 1:
        return None
    # forkserver: no fork of a parent that may hold threads (torch, h5py); workers import only gapviz.io
    method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context(method),
                               initializer=_ignore_sigint)


def ingest(paths: list[str | os.PathLike], out: str | os.PathLike, grid: str = "aspcap", workers: int = 1,
           overwrite: bool = False, progress: bool = True, chunk_rows: int | None = None) -> IngestResult:
    """Ingest ``paths`` (files, or directories standing for their files) into the spectra file ``out``.

    Returns an ``IngestResult``; raises GapvizError (nothing written) for a bad option, an existing output
    without ``overwrite``, or when no file at all could be read (the report is written then, the output not).
    """
    t0 = time.perf_counter()
    out = Path(out)
    report = report_path(out)
    if grid not in GRIDS:
        raise GapvizError(f"--grid {grid!r}: expected one of {', '.join(GRIDS)}")
    if workers < 1:
        raise GapvizError(f"--workers {workers}: expected a number of processes >= 1")
    if out.is_dir():
        raise GapvizError(f"{out}: is a directory; --out takes the spectra file to write, e.g. {out / 'observed.h5'}")
    if not overwrite:
        for p in (out, report):
            if p.exists():
                raise GapvizError(f"{p}: already exists; refusing to overwrite it (pass --overwrite to replace it)")
    files = expand_paths(paths, exclude=(out, report))
    if not files:
        raise GapvizError("no input files: the given directories hold no files")
    wavelength = target_wavelength(grid)
    rows: list[dict] = []
    skipped: list[tuple[str, str]] = []
    n_ok = 0
    columns = {f"header_labels/{n}": "f8" for n in HEADER_LABEL_NAMES}
    columns |= {"snr": "f8", "source_file": "str", "flux_err_estimated": "i1"}
    attrs = {"gapviz_version": __version__, "ingest_grid": grid, "ingest_report": report.name}
    object_attrs = {"header_labels": {"description": HEADER_LABELS_NOTE}}
    object_attrs |= {f"header_labels/{n}": {"units": label_info(n).units, "long_name": label_info(n).long_name}
                     for n in HEADER_LABEL_NAMES}
    object_attrs |= {"snr": {"units": "1", "long_name": SNR_NOTE},
                     "flux_err_estimated": {"long_name": "1 where flux_err is a DER_SNR estimate (text spectrum "
                                                         "without an error column)"},
                     "source_file": {"long_name": "the input file of each row, as given"}}

    pool = _pool(workers)
    try:
        with atomic_path(out, overwrite=True) as tmp, atomic_path(report, overwrite=True) as tmp_report:
            with SpectraAppender(tmp, wavelength, domain="observed", columns=columns, attrs=attrs,
                                 object_attrs=object_attrs, chunk_rows=chunk_rows) as writer:
                bar = progress_bar(total=len(files), enabled=progress, desc="ingest", unit="file")
                try:
                    for outcome in _outcomes(files, grid, workers, pool):
                        row = {"path": outcome.path, "status": outcome.status, "reason": outcome.reason,
                               "kind": outcome.kind, "star_id": "", "snr": "", "row": ""}
                        s = outcome.spectrum
                        if s is not None:
                            values = {f"header_labels/{n}": s.header_labels.get(n, np.nan) for n in HEADER_LABEL_NAMES}
                            values |= {"snr": s.snr, "source_file": outcome.path,
                                       "flux_err_estimated": int(s.flux_err_estimated)}
                            index = writer.append(s.flux, s.flux_err, s.star_id, values)
                            n_ok += 1
                            row |= {"star_id": s.star_id, "snr": f"{s.snr:.2f}" if np.isfinite(s.snr) else "",
                                    "row": index}
                            if s.flux_err_estimated:
                                row["reason"] = "flux_err estimated (DER_SNR): the file has no error column"
                        else:
                            skipped.append((outcome.path, outcome.reason))
                        rows.append(row)
                        bar.update(1)
                finally:
                    bar.close()
            _write_report(tmp_report, rows)
            if n_ok == 0:
                raise _NothingRead()
    except _NothingRead:
        with atomic_path(report, overwrite=True) as tmp_report:
            _write_report(tmp_report, rows)
        path, reason = skipped[0]
        raise GapvizError(f"none of the {len(files)} files could be read (reasons in {report}); "
                          f"first: {path}: {reason}") from None
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
    return IngestResult(out=out, report=report, grid=grid, n_pix=wavelength.size, n_files=len(files), n_ok=n_ok,
                        seconds=time.perf_counter() - t0, skipped=skipped)


class _NothingRead(Exception):
    """Internal: every file was skipped (the output is discarded, the report kept)."""
