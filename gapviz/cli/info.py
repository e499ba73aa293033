"""`gapviz info PATH [PATH ...]`: what is in a spectra, line-list, store or truth file."""

from __future__ import annotations


def add_parser(sub) -> None:
    p = sub.add_parser(
        "info",
        help="summarise spectra, line-list, store or truth files",
        description="Print each file's kind, number of stars, wavelength grid, label ranges, S/N distribution and "
        "bad-pixel fraction (line lists: lines, species, range; other HDF5/netCDF: groups and datasets).",
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="gapviz/Cycle-StarNet HDF5, apStar/apVisit FITS, "
                   "text spectrum, .moog/.csv line list, store.nc or truth.h5")
    p.set_defaults(func=run)


def run(args) -> int:
    from gapviz.cli.describe import describe

    for i, path in enumerate(args.paths):
        if i:
            print()
        print(describe(path), flush=True)
    return 0
