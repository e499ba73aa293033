"""Readers and writers: the spectra contract, real survey files, line lists."""

from gapviz.io.spectra import Spectra, SpectraFile, check_same_grid, read_spectra, write_spectra

__all__ = ["Spectra", "SpectraFile", "check_same_grid", "read_spectra", "write_spectra"]
