"""`gapviz find STORE_DIR [--linelist L]`: the ranked candidate features of a written store."""

from __future__ import annotations

from gapviz.instrument import RESOLUTION


def add_attribution(p) -> None:
    """--attribution and --resolution, as find and analyze take them."""
    from gapviz.discover.find import ATTRIBUTIONS

    p.add_argument("--attribution", choices=ATTRIBUTIONS, default="hypothesis",
                   help="hypothetical lines fitted to each star's theory residual (needs the store's "
                        "theory.pt), species behaviour, or a label rule (regression, response)")
    p.add_argument("--resolution", type=float, default=RESOLUTION, help="instrument resolving power λ/FWHM")
    p.add_argument("--calibration", choices=("none", "sme"), default=None,
                   help="LineModel's calibration for expected line depths and attribution: none (the plain model) "
                        "or sme (calibrated against SME: use it when the theory comes from a radiative-transfer "
                        "code; docs/CALIBRATION.md). Default: what the store's last find used, else none")


def add_parser(sub) -> None:
    p = sub.add_parser(
        "find",
        help="find the features the theory lacks in a store (re-runnable with other settings)",
        description="Detect features in the store's learned corrections, cross-match them with the line list, "
        "attribute each to the label it follows and rank them; write them into STORE_DIR/store.nc and "
        "STORE_DIR/candidates.csv (replacing an earlier find's).",
    )
    p.add_argument("store", metavar="STORE_DIR", help="a store written by 'gapviz apply' (or its store.nc)")
    p.add_argument("--linelist", metavar="L", help="the theory's line list (MOOG or CSV); default: the one the "
                   "store records from an earlier find")
    p.add_argument("--reference-linelist", metavar="R", help="a fuller line list to identify candidates with")
    add_attribution(p)
    p.set_defaults(func=_run)


def _run(args) -> int:
    from gapviz.workflow.find import find

    result = find(args.store, args.linelist, args.reference_linelist, attribution=args.attribution,
                  resolution=args.resolution, calibration=args.calibration)
    print(result.summary())
    return 0
