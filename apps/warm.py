"""Background warm-up: build the store's map overviews and compile datashader's kernels once per process.

Lives outside ``explorer.py`` because ``panel serve`` re-executes that script for every session (and clears
its globals afterwards), while this module is imported once per server process.
"""

from __future__ import annotations

import threading

from apps.export import view_png
from apps.residual_map import cube_digest, raster
from apps.session import ExplorerState
from apps.store_data import MAP_CUBES, StoreData

_warmed: set[str] = set()
_lock = threading.Lock()


def warm_up(data: StoreData, background: bool = True) -> threading.Thread | None:
    """Once per store and process, build every cube digest and a first PNG: in a daemon thread (returned),
    or right here with ``background=False``."""
    key = str(data.path)
    with _lock:
        if key in _warmed:
            return None
        _warmed.add(key)

    def work() -> None:
        w = data.wavelength
        for cube in MAP_CUBES:
            if cube in data.ds.variables:
                digest = cube_digest(key, cube)
                raster(data, digest, data.label_names[0] if data.label_names else next(iter(digest.rows)),
                       float(w[0]), float(w[-1]))
        view_png(ExplorerState(data))  # compiles datashader's line kernels before the first export

    if not background:
        work()
        return None
    thread = threading.Thread(target=work, name="gapviz-warm-up", daemon=True)
    thread.start()
    return thread
