"""`gapviz score STORE_DIR --truth truth.h5`: precision/recall/attribution against a mock's truth."""

from __future__ import annotations


def add_parser(sub) -> None:
    p = sub.add_parser(
        "score",
        help="score a store's candidates against a mock truth.h5, next to the baseline",
        description="Writes STORE_DIR/score.json. Definitions: gapviz.evaluate.score (module docstring).",
    )
    p.add_argument("store_dir", metavar="STORE_DIR")
    p.add_argument("--truth", required=True, metavar="truth.h5")
    p.add_argument("--baseline-store", metavar="DIR",
                   help="a store made with --method baseline (default: compute the baseline on the fly)")
    p.add_argument("--repair", metavar="REPAIR_DIR",
                   help="also score a 'gapviz repair' of this store (added, recalibrated and damped lines, label "
                        "bias after the loop; definitions: gapviz.evaluate.repair_score) and write "
                        "REPAIR_DIR/score.json")
    p.set_defaults(func=_run)


def _run(args) -> int:
    from gapviz.evaluate.score import format_scores
    from gapviz.evaluate.store_score import score_store

    scores = score_store(args.store_dir, args.truth, args.baseline_store)
    print(format_scores(scores))
    if "baseline_note" in scores:
        print(scores["baseline_note"])
    print(f"wrote {args.store_dir}/score.json")
    if args.repair:
        from gapviz.evaluate.repair_score import format_repair_scores, score_store_repair

        repair_scores = score_store_repair(args.store_dir, args.repair, args.truth)
        print()
        print(format_repair_scores(repair_scores))
        print(f"wrote {args.repair}/score.json")
    return 0
