"""The per-pixel residual store: an xarray Dataset in ``STORE_DIR/store.nc`` (netCDF4, CF-1.8).

Schema: docs/ARCHITECTURE.md §6 and ``gapviz.store.schema``. Write with ``create_store`` (streaming),
read with ``open_store`` (lazy) and ``store_candidates``.
"""

from gapviz.store.open import open_store, store_candidates
from gapviz.store.write import StoreLayout, check_target, create_store, store_file

__all__ = ["StoreLayout", "check_target", "create_store", "open_store", "store_candidates", "store_file"]
