"""The per-pixel residual store: an xarray Dataset in ``STORE_DIR/store.nc`` (netCDF4, CF-1.8).

Schema: docs/ARCHITECTURE.md §6 and ``gapviz.store.schema``. Where it lives: ``gapviz.store.paths``.
Write with ``create_store`` (streaming), read with ``open_store`` (lazy) and ``store_candidates``.
"""

from gapviz.store.open import STAR_VARIABLES, open_store, store_candidates
from gapviz.store.paths import candidates_file, check_target, store_dir, store_file
from gapviz.store.write import StoreLayout, create_store

__all__ = ["STAR_VARIABLES", "StoreLayout", "candidates_file", "check_target", "create_store", "open_store",
           "store_candidates", "store_dir", "store_file"]
