"""`gapviz repair STORE_DIR --out REPAIR_DIR`: a repaired line list from a store's candidates."""

from __future__ import annotations


def add_parser(sub) -> None:
    p = sub.add_parser(
        "repair",
        help="turn a store's candidates into a repaired line list, and check how much of the gap it closes",
        description=(
            "Explain each candidate of STORE_DIR (after 'gapviz find') by a fit over the population: a line the "
            "list lacks, a wrong log gf of a known line, wrong damping of a strong line, or nothing; check every "
            "known line's log gf against the others. Write REPAIR_DIR/linelist.csv (the whole "
            "repaired list), linelist.moog (air wavelengths), changes.csv (the evidence), overlay.json (the "
            "changes keyed to the source list's SHA-256), line_offsets.csv (every known line's log gf checked "
            "against the others) and report.json; re-synthesise a sample of stars with "
            "the original and the repaired list (--verify linemodel or sme)."
        ),
    )
    p.add_argument("store", metavar="STORE_DIR", help="a store with candidates ('gapviz find')")
    p.add_argument("--out", required=True, metavar="REPAIR_DIR", help="folder to write")
    p.add_argument("--linelist", metavar="L", help="the theory's line list (default: the one the store records)")
    p.add_argument("--reference-linelist", metavar="R", help="a fuller list whose lines may be added (default: "
                   "the store's)")
    p.add_argument("--full-linelist", metavar="F", help="on a mock: the complete list the stars were made with; "
                   "the verification then reports the share of the gap closed")
    p.add_argument("--calibration", choices=("none", "sme"), default=None,
                   help="LineModel's calibration (default: the one the store's find used)")
    p.add_argument("--verify", choices=("linemodel", "sme", "none"), default="linemodel",
                   help="re-synthesise stars with LineModel, or with SME (needs gapviz[sme]), or skip")
    p.add_argument("--verify-stars", type=int, default=None, metavar="N",
                   help="stars re-synthesised (default 300 with linemodel, 24 with sme)")
    p.add_argument("--stars", type=int, default=400, metavar="N",
                   help="stars the explanations fit and whose labels the loop refits: at most N in-domain stars, "
                        "evenly spread")
    p.add_argument("--iterate", type=int, default=1, metavar="K",
                   help="passes of explain → refit labels through the repaired theory; the pass of least "
                        "population χ² is kept, and the loop stops at the first pass that does not lower it or "
                        "leaves the list unchanged (needs the store's theory.pt)")
    p.add_argument("--theory", choices=("emulator", "linemodel"), default="emulator",
                   help="what the labels are refitted through: the store's emulator of the synthetic grid (default; "
                        "any grid), or LineModel with the theory's list and calibration, exactly, where the grid "
                        "was made by LineModel (gapviz mock's LineModel physics)")
    p.add_argument("--c12-c13", type=float, default=None, metavar="X",
                   help="the stars' 12C/13C for --verify sme (default: solar, 89)")
    p.add_argument("--workers", type=int, default=1, metavar="N", help="processes for SME verification")
    p.add_argument("--overwrite", action="store_true", help="replace an existing REPAIR_DIR")
    p.add_argument("--review", metavar="REVIEW_CSV",
                   help="apply a review instead of fitting: the decisions of the line-list workbench "
                        "(STORE_DIR/review.csv) applied to the repair in --from (default STORE_DIR/repair): "
                        "rejected changes undone (an added line dropped, a recalibrated line's log gf restored), "
                        "edited ones take the edited values, accepted and undecided ones stay as proposed. Writes "
                        "--out/linelist.csv (with columns change and review), linelist_plain.csv, linelist.moog "
                        "and report.json; refuses an existing --out without --overwrite, and a review made for "
                        "another store or repair")
    p.add_argument("--from", dest="from_dir", metavar="REPAIR_DIR",
                   help="with --review: the repair the review was made on (default STORE_DIR/repair)")
    p.set_defaults(func=_run)


def _run(args) -> int:
    if args.review:
        from gapviz.repair.review import apply_review

        report = apply_review(args.store, args.review, args.out, args.from_dir, overwrite=args.overwrite)
        counts = ", ".join(f"{n} {k}" for k, n in report["counts"].items())
        print(f"reviewed repair of {report['repair']}: {counts}; wrote {args.out}/ (linelist.csv, "
              "linelist_plain.csv, linelist.moog, report.json)")
        return 0
    from gapviz.workflow.repair import repair

    result = repair(args.store, args.out, linelist=args.linelist, reference_linelist=args.reference_linelist,
                    full_linelist=args.full_linelist, calibration=args.calibration, verify=args.verify,
                    verify_stars=args.verify_stars, stars=args.stars, iterate=args.iterate, c12_c13=args.c12_c13,
                    theory=args.theory,
                    workers=args.workers, overwrite=args.overwrite)
    print(result.summary())
    return 0
