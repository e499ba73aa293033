"""What makes a synthetic spectrum: the line-list model (``LineModel``) and the emulator (``Emulator``).

Imports are lazy so that ``import gapviz.theory`` stays cheap and one missing piece does not break the other.
"""

from __future__ import annotations

import importlib

_EXPORTS = {"LineModel": "gapviz.theory.linemodel"}
_EXPORTS.update(Emulator="gapviz.theory.emulator", fit_emulator="gapviz.theory.emulator")

__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'gapviz.theory' has no attribute {name!r}")
