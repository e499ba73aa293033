"""SME through gapviz on tiny windows: species, abundances and isotopes arrive as intended, offline."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("pysme")

from gapviz.errors import GapvizError  # noqa: E402
from gapviz.io.linelist import read_linelist  # noqa: E402
from gapviz.theory.isotopes import folded_loggf, log_isotope_fraction  # noqa: E402
from gapviz.theory.sme import (  # noqa: E402
    SMESettings,
    lines_for_grid,
    microturbulence,
    sme_linelist,
    sme_species,
    synthesize,
)

GIANT = {"teff": 4600.0, "logg": 2.4, "fe_h": 0.0}


def _lines(tmp_path, rows: str):
    path = tmp_path / "lines.csv"
    path.write_text("wavelength,species,loggf,elow_ev,medium,isotopes\n" + rows)
    return read_linelist(path)


def _depth(table, grid, labels, at):
    flux = synthesize(table, grid, labels)
    return 1.0 - flux[np.argmin(np.abs(grid - at))]


@pytest.fixture(scope="module")
def grid():
    return np.linspace(15760.0, 15764.0, 81)


def test_species_names_for_sme():
    assert sme_species("Fe I") == "Fe 1"
    assert sme_species("Si II") == "Si 2"
    assert sme_species("CO") == "CO 1"
    with pytest.raises(ValueError, match="not in SME"):
        sme_species("AlO")


def test_a_line_strengthens_with_its_element(tmp_path, grid):
    lines = _lines(tmp_path, "15762.0,Mg I,-1.5,5.9,vacuum,\n")
    table, notes = sme_linelist(lines)
    assert notes == []
    weak = _depth(table, grid, {**GIANT, "mg_fe": -0.3}, 15762.0)
    solar = _depth(table, grid, GIANT, 15762.0)
    strong = _depth(table, grid, {**GIANT, "mg_fe": 0.3}, 15762.0)
    assert 0.05 < weak < solar < strong < 1.0
    # another element barely touches it (Si only adds electrons, so H- continuum opacity)
    assert _depth(table, grid, {**GIANT, "si_fe": 0.3}, 15762.0) == pytest.approx(solar, abs=0.01)


def test_13co_lines_scale_with_the_isotope_ratio(tmp_path, grid):
    lines = _lines(tmp_path, "15761.0,CO,-6.5,0.5,vacuum,\"13,16\"\n15763.0,CO,-6.5,0.5,vacuum,\"12,16\"\n")
    table, _ = sme_linelist(lines, c12_c13=89.0)
    assert table["gflog"].iloc[0] == pytest.approx(-6.5 + log_isotope_fraction("CO", "13,16", 89.0))
    cool = {"teff": 4000.0, "logg": 1.5, "fe_h": 0.0}
    d13_solar = _depth(table, grid, {**cool, "c12_c13": 89.0}, 15761.0)
    d13_giant = _depth(table, grid, {**cool, "c12_c13": 9.0}, 15761.0)
    d12_solar = _depth(table, grid, {**cool, "c12_c13": 89.0}, 15763.0)
    d12_giant = _depth(table, grid, {**cool, "c12_c13": 9.0}, 15763.0)
    assert d13_giant > 3 * d13_solar > 0  # 10x more 13C: a weak line grows about 9x
    assert d12_giant == pytest.approx(d12_solar, rel=0.15)  # 12C drops only 10 %
    assert d12_solar > d13_giant


def test_folded_loggf_is_line_loggf_for_atoms_and_unknown_isotopes(tmp_path):
    lines = _lines(tmp_path, "15761.0,Fe I,-1.0,5.0,vacuum,\n15762.0,OH,-5.0,0.5,vacuum,\n")
    np.testing.assert_array_equal(folded_loggf(lines), [-1.0, -5.0])


def test_hydrogen_without_levels_is_dropped_with_a_note(tmp_path):
    lines = _lines(tmp_path, "15761.0,H I,-1.0,12.0,vacuum,\n15762.0,Fe I,-1.0,5.0,vacuum,\n")
    table, notes = sme_linelist(lines)
    assert table["species"].tolist() == ["Fe 1"]
    assert "H I" in notes[0]


def test_unknown_species_is_one_clear_error(tmp_path):
    lines = _lines(tmp_path, "15761.0,AlO,-1.0,0.5,vacuum,\n")
    with pytest.raises(GapvizError, match="SME cannot take species 'AlO'"):
        sme_linelist(lines)


def test_grid_outside_the_list_is_an_error(tmp_path):
    table, _ = sme_linelist(_lines(tmp_path, "15761.0,Fe I,-1.0,5.0,vacuum,\n"))
    with pytest.raises(GapvizError, match="outside the line list"):
        lines_for_grid(table, np.linspace(16000.0, 16010.0, 30), 2.0)


def test_labels_outside_the_atmosphere_grid_and_unknown_labels(tmp_path, grid):
    table, _ = sme_linelist(_lines(tmp_path, "15762.0,Fe I,-1.0,5.0,vacuum,\n"))
    with pytest.raises(GapvizError, match="teff"):
        synthesize(table, grid, {"teff": 9500.0, "logg": 2.0, "fe_h": 0.0})
    with pytest.raises(GapvizError, match="label 'colour'"):
        synthesize(table, grid, {**GIANT, "colour": 1.0})


def test_resolution_and_microturbulence(tmp_path, grid):
    table, _ = sme_linelist(_lines(tmp_path, "15762.0,Fe I,-1.0,5.0,vacuum,\n"))
    sharp = synthesize(table, grid, GIANT, SMESettings(resolution=40000.0))
    blunt = synthesize(table, grid, GIANT, SMESettings(resolution=10000.0))
    assert sharp.min() < blunt.min()  # the same line, deeper at higher resolving power
    np.testing.assert_allclose(np.trapezoid(1 - sharp, grid), np.trapezoid(1 - blunt, grid), rtol=0.05)  # same EW
    assert microturbulence(2.5) == pytest.approx(2.478 - 0.325 * 2.5)
    assert microturbulence(10.0) == 0.5


def test_continuum_normalised_with_several_windows(tmp_path):
    table, _ = sme_linelist(_lines(tmp_path, "15762.0,Fe I,-1.0,5.0,vacuum,\n15900.0,Si I,-1.0,6.0,vacuum,\n"))
    grid = np.concatenate([np.linspace(15760.0, 15764.0, 41), np.linspace(15898.0, 15902.0, 41)])
    flux = synthesize(lines_for_grid(table, grid, 2.0), grid, GIANT)
    assert flux.shape == grid.shape
    assert flux.max() == pytest.approx(1.0, abs=2e-3)
    assert flux[:41].min() < 0.9 and flux[41:].min() < 0.9
    assert pd.Series(flux).between(0.0, 1.0 + 1e-6).all()
