"""`gapviz run`: train -> analyze -> score on the shipped mock sample, in one command."""

from __future__ import annotations


def add_parser(sub) -> None:
    p = sub.add_parser(
        "run",
        help="train, analyze and score on a mock sample (default: the shipped data_samples/mock)",
        description="Writes OUT/run (trained adaptation) and OUT/store (store.nc, candidates.csv, score.json).",
    )
    p.add_argument("--out", default=None, metavar="DIR", help="output directory (default runs/run-<UTC time>)")
    p.add_argument("--minutes", type=float, default=None, metavar="M", help="training wall-clock budget")
    p.add_argument("--sample", default="data_samples/mock", metavar="DIR", help="a 'gapviz mock' directory")
    p.add_argument("--config", default=None, metavar="TOML", help="training recipe (e.g. train/sample.toml)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing run/store in --out")
    p.set_defaults(func=_run)


def _run(args) -> int:
    from gapviz.discover.score import format_scores
    from gapviz.pipeline import run_sample

    scores = run_sample(args.sample, args.out, minutes=args.minutes, config=args.config, overwrite=args.overwrite)
    print(format_scores(scores))
    if "baseline_note" in scores:
        print(scores["baseline_note"])
    return 0
