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
    add_scale(p)
    p.set_defaults(func=_run)


def add_scale(p) -> None:
    """--workers, --scheduler, --resume (shared with 'gapviz analyze')."""
    g = p.add_argument_group("at scale", "Chunks run as tasks on a dask cluster, each writing its own chunk file "
                             "in STORE_DIR/.apply-parts, merged into store.nc at the end (the same store as "
                             "one process). Such a run, if interrupted, continues with --resume.")
    w = g.add_mutually_exclusive_group()
    w.add_argument("--workers", type=int, metavar="N", default=None,
                   help="start a local dask cluster of N processes (one thread each) (default: one process, "
                   "no cluster)")
    w.add_argument("--scheduler", metavar="ADDRESS", default=None,
                   help="use the running dask cluster at ADDRESS (e.g. tcp://host:8786); its workers must "
                   "see RUN_DIR, the observed file and STORE_DIR at the same paths")
    g.add_argument("--resume", action="store_true",
                   help="keep the chunk files an interrupted run left in STORE_DIR/.apply-parts and compute "
                   "only the rest (without it they are removed first); also runs in parts without a cluster")


def _run(args) -> int:
    from gapviz.workflow.apply import apply

    result = apply(args.run_dir, args.observed, args.out, synthetic=args.synthetic, overwrite=args.overwrite,
                   chunk_size=args.chunk_size, workers=args.workers, scheduler=args.scheduler,
                   resume=args.resume)
    print(result.summary())
    print(f"next: gapviz find {args.out} --linelist L")
    return 0
