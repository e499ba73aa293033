"""`gapviz run`: train -> analyze -> score on the shipped mock sample, in one command."""

from __future__ import annotations

from pathlib import Path


def add_parser(sub) -> None:
    p = sub.add_parser(
        "run",
        help="train, analyze and score on a mock sample (default: the shipped data_samples/mock)",
        description="Writes OUT/run (trained adaptation) and OUT/store (store.nc, candidates.csv, score.json).",
    )
    p.add_argument("--out", default=None, metavar="DIR", help="output directory (default runs/run-<UTC time>)")
    p.add_argument("--minutes", type=float, default=None, metavar="M", help="training wall-clock budget")
    p.add_argument("--sample", default="data_samples/mock", metavar="DIR",
                   help="a 'gapviz mock' directory, or 'linemodel' (data_samples/mock: spectra from the fast "
                        "LineModel) or 'sme' (data_samples/mock_sme: spectra from SME radiative transfer)")
    p.add_argument("--config", default=None, metavar="TOML",
                   help="training recipe (default: train/sample.toml of this checkout, when present)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing run/store in --out")
    p.set_defaults(func=_run)


def _default_recipe() -> str | None:
    """train/sample.toml in the working directory, else beside the gapviz source (editable install)."""
    for path in (Path("train/sample.toml"), Path(__file__).resolve().parents[2] / "train" / "sample.toml"):
        if path.is_file():
            return str(path)
    return None


#: Short names of the shipped mocks.
SAMPLES = {"linemodel": "data_samples/mock", "sme": "data_samples/mock_sme"}


def _sample_dir(name: str) -> str:
    """A shipped mock's folder for its short name (in the working directory, else beside the source)."""
    if name not in SAMPLES:
        return name
    for root in (Path("."), Path(__file__).resolve().parents[2]):
        if (root / SAMPLES[name]).is_dir():
            return str(root / SAMPLES[name])
    return SAMPLES[name]


def _run(args) -> int:
    from gapviz.evaluate.score import format_scores
    from gapviz.workflow.run import run_sample

    config = args.config if args.config is not None else _default_recipe()
    scores = run_sample(_sample_dir(args.sample), args.out, minutes=args.minutes, config=config, overwrite=args.overwrite)
    print(format_scores(scores))
    if "baseline_note" in scores:
        print(scores["baseline_note"])
    print(f"\nlook at it: gapviz explore {scores['store']}")
    return 0
