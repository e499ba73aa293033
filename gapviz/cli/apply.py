"""`gapviz apply RUN_DIR --observed O.h5 --out STORE_DIR`: the per-pixel store of a trained run."""

from __future__ import annotations


def add_parser(sub) -> None:
    p = sub.add_parser(
        "apply",
        help="apply a trained run to observed spectra: write the per-pixel store",
        description="Infer every star's labels, evaluate the theory, the synthetic counterpart and the adapted "
        "model, write STORE_DIR/store.nc (netCDF4, CF-1.8: residuals, corrections, aggregates) and "
        "STORE_DIR/theory.pt (the theory 'gapviz find' refits stars with).",
    )
    p.add_argument("run_dir", metavar="RUN_DIR", help="a finished 'gapviz train' run")
    p.add_argument("--observed", required=True, metavar="O.h5", help="observed spectra file")
    p.add_argument("--synthetic", metavar="S.h5", help="the synthetic (training) set, recorded for 'gapviz score'")
    p.add_argument("--out", required=True, metavar="STORE_DIR", help="output directory")
    p.add_argument("--chunk-size", type=int, default=256, metavar="N", help="stars per chunk (memory bound)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing store")
    p.set_defaults(func=_run)


def _run(args) -> int:
    from gapviz.workflow.apply import apply

    result = apply(args.run_dir, args.observed, args.out, synthetic=args.synthetic, overwrite=args.overwrite,
                   chunk_size=args.chunk_size)
    print(result.summary())
    print(f"next: gapviz find {args.out} --linelist L")
    return 0
