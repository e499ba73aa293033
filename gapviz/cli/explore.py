"""`gapviz explore STORE_DIR [--repair REPAIR_DIR]`: serve the Panel explorer (``apps/explorer.py``) on one store,
with a line-list repair (``gapviz repair STORE_DIR --out REPAIR_DIR``) to compare before/after."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from gapviz.errors import GapvizError


def add_parser(sub) -> None:
    p = sub.add_parser("explore", help="browse a store in the explorer (a local Panel web app)",
                       description="Serve apps/explorer.py on STORE_DIR (the directory holding store.nc). "
                                   "The store is fixed at start; the page cannot choose another path.")
    p.add_argument("store", metavar="STORE_DIR", help="store directory (or its store.nc)")
    p.add_argument("--repair", metavar="REPAIR_DIR", default=None,
                   help="a folder written by 'gapviz repair STORE_DIR --out REPAIR_DIR': the spectrum can show the "
                        "theory with the repaired list, and its changes are listed (default: STORE_DIR/repair/ "
                        "when it exists)")
    p.add_argument("--port", type=int, default=5006, help="port to serve on (default 5006; 0 picks a free one)")
    p.add_argument("--address", default="localhost", help="address to listen on (default localhost)")
    p.add_argument("--show", action="store_true", help="open the page in a browser")
    p.add_argument("--workbench", action="store_true",
                   help="serve the line-list workbench (apps/workbench.py) instead: review the repair's changes "
                        "(REPAIR_DIR from --repair, default STORE_DIR/repair/) and record decisions in "
                        "STORE_DIR/review.csv")
    p.set_defaults(func=_run)


def explorer_script(name: str = "explorer.py") -> Path:
    """``apps/<name>`` beside the gapviz package source (apps/ is not part of the installed package)."""
    import gapviz

    script = Path(gapviz.__file__).resolve().parent.parent / "apps" / name
    if not script.is_file():
        raise GapvizError(f"{script}: the explorer app is missing; 'gapviz explore' needs the gapviz source tree "
                          "(apps/explorer.py next to the gapviz/ package, e.g. an editable install)")
    return script


def check_store(store: str | Path) -> Path:
    """The store file of STORE_DIR, after checking it is a gapviz store the explorer can show (the explorer
    opens it the same way: ``open_store(..., require=STAR_VARIABLES)``)."""
    from gapviz.store import STAR_VARIABLES, open_store, store_file

    path = store_file(store)
    open_store(path, require=STAR_VARIABLES).close()
    return path


#: the files of a REPAIR_DIR the explorer reads (the page reads them fully; this is the early check)
REPAIR_FILES = ("changes.csv", "linelist.csv")


def check_repair(repair: str | Path) -> Path:
    """REPAIR_DIR after checking it holds what ``gapviz repair`` writes (a GapvizError naming what is missing)."""
    from gapviz.io.linelist import read_linelist

    path = Path(repair).expanduser()
    if not path.is_dir():
        raise GapvizError(f"{path}: no such repair folder; make one with 'gapviz repair STORE_DIR --out {path}'")
    for name in REPAIR_FILES:
        if not (path / name).is_file():
            raise GapvizError(f"{path}: has no {name}; expected a folder written by 'gapviz repair STORE_DIR "
                              f"--out REPAIR_DIR' ({', '.join(REPAIR_FILES)})")
    read_linelist(path / "linelist.csv")
    return path


def command(store: Path, port: int = 5006, address: str = "localhost", show: bool = False,
            repair: Path | None = None, workbench: bool = False) -> list[str]:
    """The ``panel serve`` command line (``--warm`` builds the store's overviews before the first visit)."""
    app = explorer_script("workbench.py" if workbench else "explorer.py")
    cmd = [sys.executable, "-m", "panel", "serve", str(app), "--port", str(port), "--address", address] + \
        ([] if workbench else ["--warm"])
    if show:
        cmd.append("--show")
    return cmd + ["--args", str(store)] + (["--repair", str(repair)] if repair is not None else [])


def _run(args) -> int:
    store = check_store(args.store)
    if args.workbench and not args.repair and not (store.parent / "repair").is_dir():
        raise GapvizError(f"{store.parent}: no repair to review; make one with 'gapviz repair {store.parent} --out "
                          f"{store.parent / 'repair'}', or pass --repair REPAIR_DIR")
    repair = check_repair(args.repair or store.parent / "repair").resolve() if args.repair or args.workbench \
        else None
    cmd = command(store.resolve(), args.port, args.address, args.show, repair, args.workbench)
    page = "workbench" if args.workbench else "explorer"
    print(f"gapviz explore: serving {store} at http://{args.address}:{args.port}/{page} (Ctrl-C stops)",
          file=sys.stderr, flush=True)
    # become the server (no child left behind when this process is stopped)
    os.execv(cmd[0], cmd)
    return 0  # not reached
