"""Tests of gapviz.adapt, one module per package module (test_<module>.py).

A package, so these module names (test_train, test_cli, ...) cannot collide with the same names elsewhere
under tests/ (pytest's default import mode needs unique basenames among rootdir-level test modules).
Import the helpers relatively: ``from .adapt_helpers import ...``.
"""
