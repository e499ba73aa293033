"""Fakes for tests and benchmarks (as ``xarray.testing``): never used by the science code."""
