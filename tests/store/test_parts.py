"""Chunk files: written by any process, merged into a store equal to one written in one go."""

from __future__ import annotations

import h5netcdf
import numpy as np
import pytest

from gapviz.errors import GapvizError
from gapviz.store import parts
from gapviz.store.aggregate import Accumulator, bin_edges
from gapviz.store.products import star_products
from gapviz.store.write import StoreLayout, create_store

NAMES = ["teff", "logg"]


def chunk(rng, n, npix):
    flux = 1.0 + 0.01 * rng.normal(size=(n, npix))
    err = np.full((n, npix), 0.01)
    err[:, :3] = np.nan  # unusable pixels
    theory = np.ones((n, npix))
    adapted = theory - 0.02 * rng.random((n, npix))
    p = star_products(flux, err, theory, flux + 0.01, adapted, len(NAMES))
    labels = np.column_stack([4500 + 300 * rng.normal(size=n), 2.5 + rng.normal(size=n)])
    return p, labels


def test_accumulators_of_chunks_add_up_to_one_accumulator_to_the_bit():
    rng = np.random.default_rng(0)
    chunks = [chunk(rng, n, 40) for n in (7, 16, 3)]
    labels = np.concatenate([c[1] for c in chunks])
    edges = {"teff": bin_edges(labels[:, 0])}
    mean, std = labels.mean(axis=0), labels.std(axis=0)
    one, merged = Accumulator(40, NAMES, mean, std, edges), Accumulator(40, NAMES, mean, std, edges)
    for p, lab in chunks:
        args = (p["correction"], p["residual_theory"], p["residual_adapted"], p["flux_err"],
                p["pixel_mask"].astype(bool), lab)
        one.update(*args, theory=p["flux_theory"])
        one.update_response(np.ones((2, 2, 40)), np.zeros((2, 2, 40)))
        part = Accumulator(40, NAMES, mean, std, edges)
        part.update(*args, theory=p["flux_theory"])
        part.update_response(np.ones((2, 2, 40)), np.zeros((2, 2, 40)))
        merged.add_sums({k: v.copy() for k, v in part.sums().items()})
    a, b = one.result(), merged.result()
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    with pytest.raises(KeyError, match="lack"):
        merged.add_sums({"n": np.zeros(40)})


def test_part_files_merge_into_the_store_a_single_writer_makes(tmp_path):
    rng = np.random.default_rng(1)
    npix, size, spans = 30, 8, [(0, 8), (8, 16), (16, 21)]
    layout = StoreLayout(np.linspace(15100.0, 15130.0, npix), 21, NAMES, {}, chunk_stars=size)
    data = [chunk(rng, b - a, npix) for a, b in spans]
    with create_store(tmp_path / "one.nc", layout) as w:
        for (a, _), (p, lab) in zip(spans, data):
            w.write_stars(a, p | {"teff": lab[:, 0], "star_id": np.array([f"s{i}" for i in range(len(lab))])})
    acc = Accumulator(npix, NAMES, np.zeros(2), np.ones(2))
    for (a, _), (p, lab) in zip(spans, data):
        parts.write_part(parts.part_file(tmp_path, a), layout,
                         p | {"teff": lab[:, 0], "star_id": np.array([f"s{i}" for i in range(len(lab))])},
                         Accumulator(npix, NAMES, np.zeros(2), np.ones(2)), raw=("chi2nu_theory",))
        assert parts.readable(parts.part_file(tmp_path, a))
    copied = []
    with create_store(tmp_path / "merged.nc", layout) as w:
        orig = w.copy_cube_rows
        w.copy_cube_rows = lambda *args: copied.append(orig(*args))
        for (a, _), (p, _lab) in zip(spans, data):
            star = parts.merge_part(w, a, parts.part_file(tmp_path, a), acc)
            np.testing.assert_array_equal(star["chi2nu_theory"], p["chi2nu_theory"])  # kept as float64
    assert copied and all(copied)  # the compressed chunks were copied as they are
    with h5netcdf.File(tmp_path / "one.nc", "r") as x, h5netcdf.File(tmp_path / "merged.nc", "r") as y:
        assert set(x.variables) == set(y.variables)
        for name in x.variables:
            np.testing.assert_array_equal(x.variables[name][...], y.variables[name][...], err_msg=name)


def test_a_broken_chunk_file_is_not_finished(tmp_path):
    (tmp_path / "part-0000000000.h5").write_bytes(b"not hdf5")
    assert not parts.readable(tmp_path / "part-0000000000.h5")
    assert not parts.readable(tmp_path / "missing.h5")


def test_prepare_starts_over_or_keeps_the_same_inputs_only(tmp_path):
    folder = tmp_path / parts.PARTS_DIR
    parts.prepare(folder, {"n_star": 10}, resume=False)
    (folder / "part-0000000000.h5").write_bytes(b"x")
    parts.prepare(folder, {"n_star": 10}, resume=True)
    assert (folder / "part-0000000000.h5").exists()
    with pytest.raises(GapvizError, match=r"for other inputs \(n_star differ: n_star=10\)"):
        parts.prepare(folder, {"n_star": 11}, resume=True)
    parts.prepare(folder, {"n_star": 11}, resume=False)
    assert not (folder / "part-0000000000.h5").exists()
