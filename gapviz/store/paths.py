"""Where a store lives: ``STORE_DIR/store.nc`` (or a ``.nc`` file named directly), found and checked here.

The one rule for every command and the explorer: a directory means its ``store.nc``; a path ending in
``.nc`` is the store file itself; any other existing file is not a store.
"""

from __future__ import annotations

import os
from pathlib import Path

from gapviz.errors import GapvizError
from gapviz.store.schema import CANDIDATES_FILE, STORE_FILE

NOT_A_STORE = "expected STORE_DIR (a directory holding store.nc) or a store.nc file written by 'gapviz apply'"


def store_file(store: str | os.PathLike) -> Path:
    """``STORE_DIR/store.nc`` (a path ending in .nc is returned as is); GapvizError for any other file."""
    p = Path(store).expanduser()
    if p.suffix == ".nc":
        return p
    if p.is_file():
        raise GapvizError(f"{p}: not a gapviz store: {NOT_A_STORE}")
    return p / STORE_FILE


def store_dir(store: str | os.PathLike) -> Path:
    """The directory a store's side files (candidates.csv, theory.pt, score.json) live in."""
    return store_file(store).parent


def candidates_file(store: str | os.PathLike) -> Path:
    """``STORE_DIR/candidates.csv``."""
    return store_dir(store) / CANDIDATES_FILE


def existing_store_file(store: str | os.PathLike) -> Path:
    """The store file of ``store``; GapvizError naming it when there is none."""
    f = store_file(store)
    if not f.is_file():
        raise GapvizError(f"{f}: no store here ({NOT_A_STORE})")
    return f


def check_target(store: str | os.PathLike, overwrite: bool) -> Path:
    """Refuse an existing store before any work is done; return the store file path to write."""
    if Path(store).exists() and not Path(store).is_dir() and Path(store).suffix != ".nc":
        raise GapvizError(f"{store}: exists and is not a directory; expected a store directory")
    path = store_file(store)
    if path.exists() and not overwrite:
        raise GapvizError(f"{path}: a store already exists here; refusing to overwrite it "
                          "(pass --overwrite to replace it)")
    return path
