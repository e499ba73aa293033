"""The store: bare-xarray readable with units, CF-1.8 compliant, lazy, atomic, refuses overwrite."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from gapviz.testing.toy import standard_toy, toy_line_depths, toy_observed, toy_population, toy_synthetic
from gapviz.errors import GapvizError
from gapviz.io.grids import sample_wavelength
from gapviz.io.linelist import write_linelist_csv
from gapviz.io.spectra import read_spectra, write_spectra
from gapviz.pipeline import analyze
from gapviz.store import open_store, store_candidates
from gapviz.store.schema import CUBES, STEP


@pytest.fixture(scope="module")
def toy_store(tmp_path_factory):
    d = tmp_path_factory.mktemp("toy")
    model, theory, reference, _ = standard_toy(sample_wavelength())
    write_spectra(toy_observed(model, toy_population(300, 1), seed=2), d / "obs.h5")
    write_spectra(toy_synthetic(model, toy_population(300, 3)), d / "syn.h5")
    write_linelist_csv(theory, d / "ll.csv")
    write_linelist_csv(reference, d / "ref.csv")
    result = analyze(None, d / "obs.h5", d / "ll.csv", d / "store", synthetic=d / "syn.h5",
                     reference_linelist=d / "ref.csv", adaptation=model, line_depths=toy_line_depths,
                     chunk_size=64, progress=False)
    return d, result


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
    obs = read_spectra(d / "obs.h5")
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


def test_open_store_is_lazy_and_candidates_table(toy_store):
    d, result = toy_store
    ds = open_store(d / "store")
    assert ds["correction"].chunks is not None  # dask-backed
    assert ds["correction"].chunks[0][0] == 64  # chunked along star as written
    table = store_candidates(ds)
    for col in ("wavelength", "depth", "equivalent_width", "significance", "in_linelist", "nearest_species",
                "nearest_wavelength", "attributed_label", "attribution_confidence", "score", "identification"):
        assert col in table, col
    assert table["in_linelist"].dtype == bool
    np.testing.assert_allclose(table["wavelength"], result.candidates["wavelength"])


def test_cube_mean_matches_streamed_aggregate(toy_store):
    ds = open_store(toy_store[0] / "store")
    mask = ds["pixel_mask"].values == 1
    direct = np.where(mask, ds["correction"].values, 0).sum(0) / mask.sum(0)
    np.testing.assert_allclose(ds["correction_mean"].values, direct, atol=STEP / 2)  # packing error only


def test_existing_store_is_refused_unless_overwrite(toy_store, tmp_path):
    d, _ = toy_store
    model, *_ = standard_toy(sample_wavelength())
    before = (d / "store" / "store.nc").stat().st_mtime_ns
    with pytest.raises(GapvizError, match="already exists.*--overwrite"):
        analyze(None, d / "obs.h5", d / "ll.csv", d / "store", adaptation=model, line_depths=toy_line_depths,
                progress=False)
    assert (d / "store" / "store.nc").stat().st_mtime_ns == before


def test_open_store_missing_is_clear(tmp_path):
    with pytest.raises(GapvizError, match="no store here"):
        open_store(tmp_path)


def test_pack_range_and_sizes(toy_store):
    assert set(CUBES) == {"flux_obs", "flux_err", "flux_theory", "flux_synthetic_counterpart", "flux_adapted",
                          "residual_theory", "residual_adapted", "correction", "pixel_mask"}
    ds = xr.open_dataset(toy_store[0] / "store" / "store.nc")
    assert ds["flux_obs"].encoding["dtype"] == np.int16
    assert ds["correction"].encoding["zlib"]
