"""`gapviz train`: fit the emulator on the synthetic set, then the synthetic↔observed adaptation."""

from __future__ import annotations

import argparse


def add_parser(sub) -> None:
    p = sub.add_parser(
        "train",
        help="learn the adaptation between a synthetic and an observed set",
        description="Fit the emulator on SYNTHETIC (or reuse [emulator] path), then train the domain adaptation; "
        "writes RUN_DIR/{model.pt,config.toml,metrics.jsonl,checkpoint.pt}. Multi-process: "
        "torchrun --nproc_per_node=N -m gapviz train ...",
    )
    p.add_argument("--synthetic", required=True, metavar="S.h5", help="labelled synthetic spectra (gapviz HDF5)")
    p.add_argument("--observed", required=True, metavar="O.h5", help="observed spectra with flux_err (gapviz HDF5)")
    p.add_argument("--out", required=True, metavar="RUN_DIR", help="run directory to write")
    p.add_argument("--config", default=None, metavar="TOML", help="training recipe (e.g. train/sample.toml)")
    p.add_argument("--max-steps", type=int, default=None, metavar="N", help="stop after N steps")
    p.add_argument("--minutes", type=float, default=None, metavar="M", help="wall-clock budget, emulator fit included")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default=None)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--resume", action="store_true", help="continue the run in RUN_DIR from its checkpoint")
    p.add_argument("--no-progress", action="store_true", help=argparse.SUPPRESS)
    p.set_defaults(func=_run)


def _run(args) -> int:
    from gapviz.adapt.train import train

    train(args.synthetic, args.observed, args.out, config=args.config, max_steps=args.max_steps,
          minutes=args.minutes, device=args.device, seed=args.seed, resume=args.resume,
          progress=not args.no_progress)
    return 0
