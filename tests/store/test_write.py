"""gapviz.store.write: what a written store holds (bare-xarray readable with units, CF-1.8 compliant, int16
packed), and streaming: 100,000 stars go through analyze with memory bounded by a chunk, not the cube."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
import xarray as xr

from gapviz.io.grids import sample_wavelength
from gapviz.io.linelist import write_linelist_csv
from gapviz.io.spectra import read_spectra, write_spectra
from gapviz.store import open_store
from gapviz.store.schema import CUBES, STEP
from gapviz.testing.toy import (
    standard_toy,
    toy_line_depths,
    toy_observed,
    toy_population,
)
from gapviz.workflow.analyze import analyze


def test_store_opens_in_bare_xarray_with_units(toy_store):
    d, result = toy_store
    ds = xr.open_dataset(d / "store" / "store.nc")  # no gapviz involved
    for name, var in ds.variables.items():
        assert var.attrs.get("units"), f"{name} has no units"
        assert var.attrs.get("long_name"), f"{name} has no long_name"
    assert ds.attrs["Conventions"] == "CF-1.8"
    assert ds.sizes["star"] == 300 and ds.sizes["wavelength"] == 1024
    assert ds["wavelength"].attrs["units"] == "Angstrom"
    assert {"teff", "logg", "fe_h", "mg_fe", "teff_err", "snr", "star_id", "chip"} <= set(ds.coords)
    obs = read_spectra(d / "observed.h5")
    # CF packing: unpacked values equal the input to within half a packing step
    np.testing.assert_allclose(ds["flux_obs"].values, obs.flux, atol=STEP / 2 + 1e-6)
    np.testing.assert_array_equal(ds["star_id"].values.astype(str), obs.star_id)
    corr = ds["flux_adapted"].values - ds["flux_theory"].values
    np.testing.assert_allclose(ds["correction"].values, corr, atol=1.5 * STEP + 1e-6)
    assert ds["correction_by_teff"].dims == ("teff_bin", "wavelength")
    assert ds["response_difference"].dims == ("label", "wavelength")
    assert int(ds.attrs["n_candidates"]) == ds.sizes["candidate"] == len(result.candidates)


def test_store_is_cf_1_8_compliant(toy_store):
    from compliance_checker.base import BaseCheck
    from compliance_checker.runner import CheckSuite

    suite = CheckSuite()
    suite.load_all_available_checkers()
    dataset = suite.load_dataset(str(toy_store[0] / "store" / "store.nc"))
    groups, _ = suite.run_all(dataset, ["cf:1.8"], skip_checks=[])["cf:1.8"]

    def walk(results):
        for r in results:
            yield r
            yield from walk(r.children or [])

    def failed(r):
        return r.value[0] < r.value[1] if isinstance(r.value, tuple) else not r.value

    high = [(r.name, r.msgs) for r in walk(groups) if r.weight == BaseCheck.HIGH and failed(r)]
    assert high == []
    assert len(list(walk(groups))) > 20  # the checker really ran its checks


def test_cubes_are_int16_packed_and_compressed(toy_store):
    ds = xr.open_dataset(toy_store[0] / "store" / "store.nc")
    assert ds["flux_obs"].encoding["dtype"] == np.int16
    assert ds["correction"].encoding["zlib"]


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
