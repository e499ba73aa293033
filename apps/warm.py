"""Background warm-up, once per process: the store's map overviews, datashader's kernels, the line-marker model.

Lives outside ``explorer.py`` because ``panel serve`` re-executes that script for every session (and clears
its globals afterwards), while this module is imported once per server process.
"""

from __future__ import annotations

import threading

from apps.export import view_png
from apps.line_depths import line_model
from apps.residual_map import cube_digest, raster
from apps.session import ExplorerState
from apps.store_data import MAP_CUBES, StoreData

_warmed: set[str] = set()
_lock = threading.Lock()


def warm_up(data: StoreData, background: bool = True) -> threading.Thread | None:
    """Once per store and process, build every cube digest, the line-marker model and a first PNG: in a daemon
    thread (returned), or right here with ``background=False``."""
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
        line_model(data)  # the line markers' expected depths (~0.1 s on the sample)
        view_png(ExplorerState(data))  # a first export: its rows and raster paths run once before a user's

    if not background:
        work()
        return None
    thread = threading.Thread(target=work, name="gapviz-warm-up", daemon=True)
    thread.start()
    return thread
