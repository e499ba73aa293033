"""gapviz's Panel apps. ``explorer.py`` is the entry point (``panel serve apps/explorer.py --args STORE_DIR``
or ``gapviz explore STORE_DIR``); each view lives in its own module and shares one ``session.ExplorerState``.
The apps read only the store (docs/ARCHITECTURE.md §6)."""
