"""`gapviz synth`: SME spectra for a table of stars (see gapviz.workflow.synth)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_parser(sub) -> None:
    p = sub.add_parser(
        "synth",
        help="synthesise spectra with SME on MARCS atmospheres (needs: pip install 'gapviz[sme]')",
        description=(
            "Write S.h5 (a gapviz spectra file: vacuum wavelength, continuum-normalised flux, labels, star_id) "
            "with SME on MARCS model atmospheres, one spectrum per star of LABELS: a CSV (a column per label), "
            "an HDF5 file of label rows, or a TOML [grid], [box] or [population] spec. Labels: teff, logg, fe_h, "
            "<x>_fe, optional vmic and c12_c13. Parallel over stars; an interrupted run continues with --resume."
        ),
    )
    p.add_argument("--linelist", type=Path, nargs="+", required=True, metavar="L",
                   help="line lists (MOOG or gapviz CSV; atoms and molecules)")
    p.add_argument("--labels", type=Path, required=True, metavar="LABELS", help="stars: CSV, HDF5 or TOML spec")
    p.add_argument("--out", type=Path, required=True, metavar="S.h5", help="spectra file to write")
    p.add_argument("--grid", default="sample", metavar="GRID",
                   help="aspcap (7214 px), sample (the shipped windows) or vacuum windows like 15700-15792,16135-16215")
    p.add_argument("--resolution", type=float, default=22500.0, metavar="R", help="Gaussian LSF resolving power λ/FWHM")
    p.add_argument("--c12-c13", type=float, default=None, metavar="RATIO",
                   help="12C/13C for isotopologue lines when LABELS has no c12_c13 column (default: solar, 89)")
    p.add_argument("--workers", type=int, default=1, metavar="N", help="processes synthesising stars in parallel")
    p.add_argument("--resume", action="store_true", help="continue an interrupted run, keeping its finished stars")
    p.add_argument("--overwrite", action="store_true", help="replace an existing S.h5")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from gapviz.theory.isotopes import C12_C13_SOLAR
    from gapviz.workflow.synth import SynthJob, synth

    job = SynthJob(
        linelist_paths=list(args.linelist), labels_path=args.labels, out=args.out, grid=args.grid,
        resolution=args.resolution, c12_c13=C12_C13_SOLAR if args.c12_c13 is None else args.c12_c13,
        workers=args.workers, resume=args.resume, overwrite=args.overwrite,
    )
    out = synth(job)
    for note in job.notes:
        print(f"note: {note}", file=sys.stderr)
    print(f"wrote {out}")
    return 0
