"""gapviz: close and explain the gap between synthetic and observed stellar spectra.

Data flow, one folder per step:
  gapviz.io        spectra and line-list files in (HDF5 contract, APOGEE FITS, Cycle-StarNet, text, MOOG)
  gapviz.theory    what makes a synthetic spectrum (line-list model, emulator)
  gapviz.mock      synthetic-gap experiments with known ground truth
  gapviz.adapt     unsupervised domain adaptation between the synthetic and observed domains
  gapviz.store     the per-pixel residual store (xarray / netCDF4)
  gapviz.discover  from learned corrections to ranked candidate missing lines
"""

__version__ = "0.1.0"

from gapviz.errors import GapvizError  # noqa: E402

__all__ = ["GapvizError", "__version__"]
