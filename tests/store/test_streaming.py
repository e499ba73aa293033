"""Streaming write: 100,000 stars go through analyze with memory bounded by a chunk, not the cube."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from gapviz.testing.toy import standard_toy, toy_line_depths, toy_observed, toy_population
from gapviz.io.grids import sample_wavelength
from gapviz.io.linelist import write_linelist_csv
from gapviz.io.spectra import write_spectra
from gapviz.pipeline import analyze
from gapviz.store import open_store
from gapviz.store.schema import CUBES


def _peak_analyze(tmp_path, n_star: int, name: str) -> tuple[int, object]:
    wl = sample_wavelength()[:64]
    model, theory, _, _ = standard_toy(wl)
    write_spectra(toy_observed(model, toy_population(n_star, 4), seed=5), tmp_path / f"{name}.h5", compress=False)
    write_linelist_csv(theory, tmp_path / "ll.csv")
    tracemalloc.start()
    try:
        result = analyze(None, tmp_path / f"{name}.h5", tmp_path / "ll.csv", tmp_path / name, adaptation=model,
                         line_depths=toy_line_depths, chunk_size=2048, progress=False)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return peak, result


@pytest.mark.e2e
def test_streaming_write_keeps_memory_flat(tmp_path):
    peak_small, _ = _peak_analyze(tmp_path, 10_000, "small")
    peak_big, result = _peak_analyze(tmp_path, 100_000, "big")
    cube_bytes = 100_000 * 64 * 4 * len(CUBES)  # the float32 cubes the store holds
    assert peak_big < 0.15 * cube_bytes, (peak_big, cube_bytes)
    assert peak_big < 2.0 * peak_small, (peak_small, peak_big)  # 10x the stars, not 10x the memory
    ds = open_store(tmp_path / "big")
    assert ds.sizes["star"] == 100_000
    assert np.isfinite(ds["correction"][-5:].values).all()  # the last chunk was written
    assert len(result.candidates) >= 2
