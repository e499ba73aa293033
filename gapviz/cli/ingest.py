"""`gapviz ingest PATHS... --out observed.h5`: many APOGEE / text spectra into one spectra file."""

from __future__ import annotations

import signal
import sys


def add_parser(sub) -> None:
    p = sub.add_parser(
        "ingest",
        help="read many apStar/apVisit/text spectra into one observed spectra file",
        description="Read APOGEE apStar and apVisit FITS files and text spectra (any mix; a directory stands for "
        "its files) into one gapviz spectra HDF5 file, streaming and in parallel: APOGEE spectra continuum "
        "normalised as the gapviz readers do (text spectra must be normalised already), all resampled onto one "
        "grid. A file that cannot be read is skipped and listed "
        "with its reason in OUT_STEM.ingest.csv beside the output. Header S/N, star ids and the coarse "
        "Doppler-template header values (/header_labels/teff, logg, fe_h; not ASPCAP labels) are kept. "
        "Nothing is left behind if the run is interrupted (Ctrl-C or SIGTERM).",
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="apStar/apVisit FITS, text spectrum, or a directory")
    p.add_argument("--out", required=True, metavar="OUT.h5", help="spectra file to write (e.g. observed.h5)")
    p.add_argument("--grid", default="aspcap", choices=("aspcap", "sample"),
                   help="output grid: the 7214-px ASPCAP grid or the shipped sample's 1024-px windows cut from it")
    p.add_argument("--workers", type=int, default=1, metavar="N", help="processes reading files")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output and report")
    p.set_defaults(func=_run)


def _terminated(signum, frame):
    raise KeyboardInterrupt  # a batch system's SIGTERM (e.g. a job's time limit) cleans up like Ctrl-C


def _run(args) -> int:
    from gapviz.workflow.ingest import ingest

    previous = signal.signal(signal.SIGTERM, _terminated)
    try:
        result = ingest(args.paths, args.out, grid=args.grid, workers=args.workers, overwrite=args.overwrite)
    finally:
        signal.signal(signal.SIGTERM, previous)
    print(result.summary())
    warning = result.warning()
    if warning:
        print(f"gapviz: warning: {warning}", file=sys.stderr)
    return 0
