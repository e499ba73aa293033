"""gapviz.io.linelist: MOOG and CSV line lists, species codes, air <-> vacuum."""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest

from gapviz.errors import GapvizError
from gapviz.io.linelist import (
    COLUMNS,
    air_to_vacuum,
    decode_moog_species,
    moog_isotopes,
    linemake_paths,
    lines_in_range,
    parse_species,
    read_linelist,
    read_linelist_csv,
    read_linelists,
    read_moog,
    vacuum_to_air,
    write_linelist_csv,
)

# linemake's fixed 10-character columns: wavelength, species, elow, loggf, [damping], [D0], label
MOOG_TEXT = """MOOG title line: a tiny linemake excerpt
 15002.350      26.0     6.272    -2.633
 15000.167 608.01216     6.577    -6.593              11.092           2924P077
 15000.089 607.01314     0.763    -2.275               7.724          0203Qb0105
 15001.000      26.1     3.200    -1.000
 15003.113     108.0     2.579    -4.656               4.411          0704pP1e22
 15000.276   10108.0     0.285    -6.689               5.168              HITRAN
"""


@pytest.fixture
def moog_file(tmp_path):
    path = tmp_path / "tiny.moog"
    path.write_text(MOOG_TEXT)
    return path


def test_air_vacuum_known_value_and_round_trip():
    assert air_to_vacuum(15000.0) == pytest.approx(15004.10, abs=0.01)
    wl = np.linspace(15000.0, 17100.0, 2001)
    assert np.max(np.abs(vacuum_to_air(air_to_vacuum(wl)) - wl)) < 1e-4
    assert np.all(air_to_vacuum(wl) > wl)


@pytest.mark.parametrize(
    "code, species, elements, ion, molecule",
    [
        ("26.0", "Fe I", "Fe", 0, False),
        ("26.1", "Fe II", "Fe", 1, False),
        ("12.0", "Mg I", "Mg", 0, False),
        ("607.01314", "CN", "C,N", 0, True),
        ("608.01216", "CO", "C,O", 0, True),
        ("108.0", "OH", "O,H", 0, True),
        ("126.0", "FeH", "Fe,H", 0, True),
        ("10108.0", "H2O", "H,O", 0, True),
        ("606.01212", "C2", "C", 0, True),
    ],
)
def test_decode_moog_species(code, species, elements, ion, molecule):
    name, got_ion, got_mol = decode_moog_species(code)
    assert (name, got_ion, got_mol) == (species, ion, molecule)
    atoms, parsed_ion, parsed_mol = parse_species(name)
    assert ",".join(dict.fromkeys(atoms)) == elements
    assert (parsed_ion, parsed_mol) == (ion, molecule)


def test_parse_species_counts_atoms_and_rejects_nonsense():
    assert parse_species("H2O")[0] == ("H", "H", "O")
    assert parse_species("C2")[0] == ("C", "C")
    for bad in ("Xx I", "Fe", "iron", "Fe VII", ""):
        with pytest.raises(ValueError):
            parse_species(bad)


def test_read_moog_fixed_columns(moog_file):
    df = read_moog(moog_file)
    assert list(df.columns) == COLUMNS
    assert len(df) == 6
    assert np.all(np.diff(df["wavelength"]) > 0)
    np.testing.assert_allclose(df["wavelength"], air_to_vacuum(df["wavelength_air"]))
    co = df[df["species"] == "CO"].iloc[0]
    assert co["wavelength_air"] == pytest.approx(15000.167)
    assert co["loggf"] == pytest.approx(-6.593) and co["elow_ev"] == pytest.approx(6.577)
    assert co["d0_ev"] == pytest.approx(11.092) and co["is_molecule"]
    fe2 = df[df["species"] == "Fe II"].iloc[0]
    assert fe2["ion"] == 1 and fe2["elements"] == "Fe" and np.isnan(fe2["d0_ev"])
    assert df.loc[df["species"] == "H2O", "elements"].item() == "H,O"


def test_read_moog_free_format_and_gzip(tmp_path):
    path = tmp_path / "free.moog.gz"
    path.write_bytes(gzip.compress(b"15000.0 26.0 5.0 -1.0\n16000.5 607.01214 1.0 -3.0 0.0 7.7\n"))
    df = read_linelist(path)
    assert df["species"].tolist() == ["Fe I", "CN"]
    assert df["d0_ev"].iloc[1] == pytest.approx(7.7)
    assert df["isotopes"].tolist() == ["", "12,14"]


@pytest.mark.parametrize("code,isotopes", [
    ("608.01316", "13,16"), ("607.01214", "12,14"), ("117.00137", "1,37"), ("606.01213", "12,13"),
    ("108.0", ""), ("10108.0", ""), ("26.0", ""), ("26.1", ""), ("608.0131", ""),
])
def test_moog_isotopes(code, isotopes):
    assert moog_isotopes(code) == isotopes


def test_csv_without_isotopes_column_is_written_without_it(tmp_path):
    path = tmp_path / "atoms.csv"
    path.write_text("wavelength,species,loggf,elow_ev,medium\n15000.0,Si I,-1.0,5.9,vacuum\n")
    out = write_linelist_csv(read_linelist(path), tmp_path / "back.csv")
    assert out.read_text().splitlines()[0] == "wavelength,species,loggf,elow_ev,medium"


def test_csv_round_trip(moog_file, tmp_path):
    df = read_moog(moog_file)
    out = write_linelist_csv(df, tmp_path / "lines.csv")
    assert out.read_text().splitlines()[0] == "wavelength,species,loggf,elow_ev,medium,isotopes"
    back = read_linelist(out)
    assert back["species"].tolist() == df["species"].tolist()
    assert back["isotopes"].tolist() == df["isotopes"].tolist()
    np.testing.assert_allclose(back["wavelength"], df["wavelength"], atol=1e-4)
    np.testing.assert_allclose(back["d0_ev"], df["d0_ev"])  # molecules get D0 from the species table
    pd.testing.assert_series_equal(back["elements"], df["elements"])
    assert not list(tmp_path.glob(".*.tmp"))


def test_csv_air_medium_is_converted(tmp_path):
    path = tmp_path / "air.csv"
    path.write_text("wavelength,species,loggf,elow_ev,medium\n15000.0,Si I,-1.0,5.9,air\n15004.0,CN,-2.0,0.5,vacuum\n")
    df = read_linelist_csv(path)
    si = df[df["species"] == "Si I"].iloc[0]
    assert si["wavelength"] == pytest.approx(air_to_vacuum(15000.0))
    assert df.loc[df["species"] == "CN", "wavelength"].item() == pytest.approx(15004.0)


def test_write_refuses_overwrite_when_asked(moog_file, tmp_path):
    path = write_linelist_csv(read_moog(moog_file), tmp_path / "x.csv")
    with pytest.raises(GapvizError, match="already exists"):
        write_linelist_csv(read_moog(moog_file), path, overwrite=False)


@pytest.mark.parametrize(
    "text, match",
    [
        ("hello world\nthis is not a line list\n", "neither a MOOG line list"),
        ("title\n 15000.0 26.0 5.0 -1.0\n 15001.0 26.0 5.0 -1.0\n 15002.0 banana 5.0\n", "line 4"),
        ("title\n 15000.0 26.0 5.0 -1.0\n 15001.0 99999.0 5.0 -1.0\n", "line 3"),
        ("wavelength,species,loggf,elow_ev,medium\n15000,Fe I,-1,5,water\n", "medium 'water' unknown"),
        ("wavelength,species,loggf,elow_ev,medium\n15000,Fe I,-1,5,air\n15001,Zz I,-1,x,air\n", "line 3"),
        ("wavelength,species,loggf,medium\n15000,Fe I,-1,air\n", "lacks column"),
        ("", "empty file"),
    ],
)
def test_bad_files_give_one_clear_error(tmp_path, text, match):
    path = tmp_path / "bad.txt"
    path.write_text(text)
    with pytest.raises(GapvizError, match=match) as info:
        read_linelist(path)
    assert str(path) in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(GapvizError, match="no such file"):
        read_linelist(tmp_path / "nope.moog")


def test_shipped_linemake_lists():
    paths = linemake_paths()
    assert len(paths) == 7
    df = read_linelists(paths)
    assert len(df) == 5650 + 8587 + 14987 + 4472 + 8034 + 4090 + 917
    counts = df["species"].value_counts()
    assert counts["CO"] == 14987 and counts["CN"] == 8587 and counts["Fe I"] == 2093 and counts["OH"] == 2196
    assert np.all(np.diff(df["wavelength"]) >= 0)
    assert df.loc[df["is_molecule"], "d0_ev"].notna().all()
    part = lines_in_range(df, 15200.0, 15300.0)
    assert part["wavelength"].between(15200.0, 15300.0).all() and 0 < len(part) < len(df)


def test_read_linelists_needs_a_file():
    with pytest.raises(GapvizError, match="no line-list files"):
        read_linelists([])
