"""`gapviz mock OUT_DIR`: write a synthetic-gap experiment with ground truth (see gapviz.mock.experiment)."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path


def add_parser(sub) -> None:
    p = sub.add_parser(
        "mock",
        help="write a mock synthetic-gap experiment (theory with missing lines vs. realistic observed stars)",
        description=(
            "Write OUT_DIR/{synthetic.h5, observed.h5, linelist.csv, reference_linelist.csv, truth.h5}: a labelled "
            "theory set whose line list lacks a fraction of the strong lines, an unlabelled observed set made with "
            "the full list plus LSF, continuum, noise and bad-pixel effects, and the ground truth."
        ),
    )
    p.add_argument("out_dir", metavar="OUT_DIR", type=Path, help="directory to create")
    p.add_argument("--n-synthetic", type=int, default=2000, metavar="N", help="theory spectra (default 2000)")
    p.add_argument("--n-observed", type=int, default=2000, metavar="N", help="observed spectra (default 2000)")
    p.add_argument("--missing-fraction", type=float, default=0.3, metavar="F",
                   help="fraction of strong lines (>2%% deep at some observed star, see --max-depth) removed from "
                        "the theory, per species (default 0.3)")
    p.add_argument("--loggf-scatter", type=float, default=0.0, metavar="DEX",
                   help="σ of log gf errors given to 10%% of the other strong lines (default 0: off)")
    p.add_argument("--max-depth", type=float, default=0.25, metavar="D",
                   help="only lines at most D deep at every observed star are removed (default 0.25: a realistic "
                        "gap, chi2nu of a few; 1 = any strong line)")
    p.add_argument("--snr-range", type=float, nargs=2, default=(50.0, 200.0), metavar=("LO", "HI"),
                   help="observed S/N drawn uniformly in [LO, HI] (default 50 200)")
    p.add_argument("--seed", type=int, default=0, help="random seed; one seed gives the same data (default 0)")
    p.add_argument("--grid", choices=("sample", "apogee"), default="sample",
                   help="wavelength grid: the 1024-pixel sample windows or the 7214-pixel ASPCAP grid")
    p.add_argument("--resolution-observed", type=float, default=20000.0, metavar="R",
                   help="resolving power of the observed LSF (theory: 22500; default 20000)")
    p.add_argument("--linelist", type=Path, nargs="+", default=None, metavar="PATH",
                   help="line lists (MOOG or CSV) to use instead of the shipped data_samples/linelists")
    p.add_argument("--physics", choices=("linemodel", "sme"), default="linemodel",
                   help="what makes the spectra: the fast LineModel, or SME radiative transfer on MARCS atmospheres "
                        "(needs pip install 'gapviz[sme]'; ~1-2 s per spectrum per worker on the sample windows)")
    p.add_argument("--damping-fraction", type=float, default=0.0, metavar="F",
                   help="with --physics sme: share of strong atomic lines whose true van der Waals damping the "
                        "theory gets wrong (Unsöld instead of log γ6 = -7.2; default 0: off)")
    p.add_argument("--workers", type=int, default=1, metavar="N", help="processes for SME synthesis (--physics sme)")
    p.add_argument("--overwrite", action="store_true", help="replace the mock files in an existing OUT_DIR")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from gapviz.mock.effects import ObservingEffects
    from gapviz.mock.experiment import MockConfig, check_config, command_line, run_mock

    cfg = MockConfig(
        out_dir=args.out_dir,
        n_synthetic=args.n_synthetic,
        n_observed=args.n_observed,
        missing_fraction=args.missing_fraction,
        loggf_scatter=args.loggf_scatter,
        max_depth=args.max_depth,
        seed=args.seed,
        grid=args.grid,
        effects=ObservingEffects(resolution_observed=args.resolution_observed, snr_range=tuple(args.snr_range)),
        linelist_paths=args.linelist,
        overwrite=args.overwrite,
        physics=args.physics,
        damping_fraction=args.damping_fraction,
        workers=args.workers,
    )
    check_config(cfg)
    if args.linelist:
        cfg.command = command_line(cfg) + " " + shlex.join(["--linelist", *map(str, args.linelist)])
    result = run_mock(cfg)
    print(result.summary(), file=sys.stdout)
    return 0
