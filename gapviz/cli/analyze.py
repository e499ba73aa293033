"""`gapviz analyze RUN_DIR --observed O.h5 --linelist L --out STORE_DIR`: apply then find in a row."""

from __future__ import annotations

from gapviz.cli.apply import add_scale
from gapviz.cli.find import add_attribution


def add_parser(sub) -> None:
    p = sub.add_parser(
        "analyze",
        help="apply a trained run and find the missing-line candidates ('gapviz apply' then 'gapviz find')",
        description="Write STORE_DIR/store.nc (netCDF4, CF-1.8), STORE_DIR/theory.pt and STORE_DIR/candidates.csv.",
    )
    p.add_argument("run_dir", metavar="RUN_DIR", help="a finished 'gapviz train' run (ignored by --method baseline)")
    p.add_argument("--observed", required=True, metavar="O.h5", help="observed spectra file")
    p.add_argument("--synthetic", metavar="S.h5", help="synthetic (training) set; needed by --method baseline")
    p.add_argument("--linelist", required=True, metavar="L", help="the theory's line list (MOOG or CSV)")
    p.add_argument("--reference-linelist", metavar="R", help="a fuller line list to identify candidates with")
    p.add_argument("--out", required=True, metavar="STORE_DIR", help="output directory")
    p.add_argument("--method", choices=("adapted", "baseline"), default="adapted")
    add_attribution(p)
    p.add_argument("--chunk-size", type=int, default=256, metavar="N", help="stars per chunk (memory bound)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing store")
    add_scale(p)
    p.set_defaults(func=_run)


def _run(args) -> int:
    from gapviz.workflow.analyze import analyze
    result = analyze(
        args.run_dir, args.observed, args.linelist, args.out, synthetic=args.synthetic,
        reference_linelist=args.reference_linelist, method=args.method, overwrite=args.overwrite,
        chunk_size=args.chunk_size, resolution=args.resolution, attribution=args.attribution, calibration=args.calibration,
        workers=args.workers, scheduler=args.scheduler, resume=args.resume,
    )
    print(result.summary())
    return 0
