"""gapviz.io.moog_writer.write_moog: MOOG line lists out, round-tripping through gapviz's own reader."""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest

from gapviz.errors import GapvizError
from gapviz.io.linelist import (
    MOLECULE_D0_EV,
    air_to_vacuum,
    decode_moog_species,
    linemake_paths,
    moog_isotopes,
    read_linelist,
    read_linelists,
    vacuum_to_air,
)
from gapviz.io.moog_writer import moog_species_code, write_moog


@pytest.fixture(scope="module")
def linemake_sample() -> pd.DataFrame:
    """Up to 150 lines of every (species, isotopes) of the shipped linemake lists: atoms and ions, CN/CO
    isotopologues, C2, OH, CH, HF, HCl, FeH, H2O."""
    table = read_linelists(linemake_paths())
    parts = [g.iloc[np.linspace(0, len(g) - 1, min(len(g), 150)).astype(int)]
             for _, g in table.groupby(["species", "isotopes"], sort=True)]
    return pd.concat(parts).sort_values("wavelength", kind="stable").reset_index(drop=True)


def _assert_same_lines(back: pd.DataFrame, df: pd.DataFrame, wl_tol: float = 1e-3, gf_tol: float = 1e-3):
    assert len(back) == len(df)
    df = df.sort_values("wavelength", kind="stable").reset_index(drop=True)
    assert list(back["species"]) == list(df["species"])
    want_iso = df["isotopes"] if "isotopes" in df else pd.Series([""] * len(df))
    assert list(back["isotopes"]) == list(want_iso.fillna("").astype(str))
    np.testing.assert_allclose(back["loggf"], df["loggf"], atol=gf_tol)
    np.testing.assert_allclose(back["elow_ev"], df["elow_ev"], atol=gf_tol)
    np.testing.assert_allclose(back["wavelength"], df["wavelength"], atol=wl_tol, rtol=0)


def test_linemake_sample_round_trips(linemake_sample, tmp_path):
    species = set(linemake_sample["species"])
    assert {"Fe I", "CN", "CO", "C2", "OH", "HF", "HCl", "FeH", "H2O"} <= species
    assert (linemake_sample["ion"] == 1).any()
    assert {"12,14", "13,14", "12,16", "13,16", "12,18"} <= set(linemake_sample["isotopes"])
    path = write_moog(linemake_sample, tmp_path / "sample.moog")
    back = read_linelist(path)
    _assert_same_lines(back, linemake_sample)
    # the shipped lists carry three decimals: the writer reproduces them exactly
    np.testing.assert_array_equal(back["loggf"], linemake_sample["loggf"])
    np.testing.assert_array_equal(back["wavelength_air"], linemake_sample["wavelength_air"])
    mol = back["is_molecule"].to_numpy()
    np.testing.assert_allclose(back["d0_ev"][mol], linemake_sample["d0_ev"][mol], atol=1e-3)
    assert back["d0_ev"][~mol].isna().all()


@pytest.mark.parametrize("path", linemake_paths(), ids=lambda p: p.name.split("_")[1])
def test_each_shipped_list_reproduces_its_columns(path, tmp_path):
    """The first 300 rows of each shipped list come back as the same four columns, byte for byte."""
    with gzip.open(path, "rt") as fh:
        source = [line for _, line in zip(range(300), fh)]
    excerpt = tmp_path / "excerpt.moog"
    excerpt.write_text("excerpt\n" + "".join(source))
    df = read_linelist(excerpt)
    out = write_moog(df, tmp_path / "out.moog")
    written = out.read_text().splitlines()[1:]
    order = np.argsort([float(line[:10]) for line in source], kind="stable")
    assert [written[i][:40] for i in range(len(written))] == [source[j][:40] for j in order]
    _assert_same_lines(read_linelist(out), df, wl_tol=1e-9, gf_tol=0)


def test_fixed_columns_title_and_order(tmp_path):
    df = pd.DataFrame({"wavelength": [15300.0, 15100.0, 15200.0], "species": ["CO", "Fe II", "OH"],
                       "loggf": [-5.5, -1.25, -4.0], "elow_ev": [1.0, 3.2, 0.5],
                       "isotopes": ["13,16", "", ""]})
    path = write_moog(df, tmp_path / "t.moog", title="my title")
    lines = path.read_text().splitlines()
    assert lines[0] == "my title"
    rows = lines[1:]
    assert [r[10:20] for r in rows] == ["      26.1", "     108.0", " 608.01316"]
    wl_air = [float(r[:10]) for r in rows]
    assert wl_air == sorted(wl_air)
    np.testing.assert_allclose(air_to_vacuum(np.array(wl_air)), [15100.0, 15200.0, 15300.0], atol=1e-3)
    assert [float(r[20:30]) for r in rows] == [3.2, 0.5, 1.0]
    assert [float(r[30:40]) for r in rows] == [-1.25, -4.0, -5.5]
    assert len(rows[0].rstrip()) == 40  # atoms: no damping, no D0
    assert rows[1][40:50].strip() == "" and float(rows[1][50:60]) == MOLECULE_D0_EV["OH"]
    assert float(rows[2][50:60]) == MOLECULE_D0_EV["CO"]


@pytest.mark.parametrize(
    "species, isotopes, code",
    [("Fe I", "", "26.0"), ("Fe II", "", "26.1"), ("H I", "", "1.0"), ("U I", "", "92.0"), ("CN", "", "607.0"),
     ("CH", "", "106.0"), ("OH", "", "108.0"), ("H2O", "", "10108.0"), ("FeH", "", "126.0"),
     ("HCl", "1,35", "117.00135"), ("CO", "13,16", "608.01316"), ("CN", "12,14", "607.01214"),
     ("C2", "12,12", "606.01212"), ("TiO", "", "822.0"), ("TiO", "16,48", "822.01648"), ("Si2", "", "1414.0")],
)
def test_species_codes_and_their_inverse(species, isotopes, code):
    assert moog_species_code(species, isotopes) == code
    assert decode_moog_species(code)[0] == species
    assert moog_isotopes(code) == isotopes


def test_tiny_table_without_air_column_round_trips(tmp_path):
    df = pd.DataFrame({"wavelength": [15500.1234, 16000.5, 15000.0, 16500.25],
                       "species": ["Mg I", "CN", "H2O", "HF"], "loggf": [-0.1234, -3.0, -7.5, -2.0],
                       "elow_ev": [5.1, 0.7, 0.3, 1.2]})
    path = write_moog(df, tmp_path / "tiny.moog.gz")
    assert path.read_bytes()[:2] == b"\x1f\x8b"
    back = read_linelist(path)
    _assert_same_lines(back, df)
    assert set(back["isotopes"]) == {""}


def test_rows_without_air_wavelength_take_it_from_vacuum(tmp_path):
    air = round(float(vacuum_to_air(15100.0)), 3)
    df = pd.DataFrame({"wavelength": [15100.0, 15200.0], "wavelength_air": [air, np.nan],
                       "species": ["Fe I", "Fe I"], "loggf": [-1.0, -2.0], "elow_ev": [1.0, 2.0]})
    back = read_linelist(write_moog(df, tmp_path / "a.moog"))
    _assert_same_lines(back, df)
    assert back["wavelength_air"].iloc[0] == air  # the table's own air wavelength is written, not re-derived


def test_numeric_title_is_not_read_as_a_line(tmp_path):
    df = pd.DataFrame({"wavelength": [15100.0], "species": ["Fe I"], "loggf": [-1.0], "elow_ev": [1.0]})
    path = write_moog(df, tmp_path / "a.moog", title="15000 26.0 1 2\nsecond line")
    first = path.read_text().splitlines()[0]
    assert first.startswith("gapviz: ") and "\n" not in first
    assert len(read_linelist(path)) == 1


@pytest.mark.parametrize(
    "change, match",
    [({"species": ["Fe V"]}, "Fe V"),
     ({"species": ["Xx I"]}, "Xx I"),
     ({"species": ["Fe I"], "isotopes": ["56"]}, "atom"),
     ({"species": ["H2O"], "isotopes": ["1,1,16"]}, "wider"),
     ({"species": ["CO"], "isotopes": ["12"]}, "mass numbers"),
     ({"species": ["CO"], "isotopes": ["12,116"]}, "mass numbers"),
     ({"loggf": [np.nan]}, "loggf"),
     ({"wavelength": [-1.0]}, "wavelength")],
)
def test_bad_input_is_refused_and_nothing_written(tmp_path, change, match):
    base = {"wavelength": [15100.0], "species": ["Fe I"], "loggf": [-1.0], "elow_ev": [1.0]}
    df = pd.DataFrame({**base, **change})
    with pytest.raises(GapvizError, match=match):
        write_moog(df, tmp_path / "bad.moog")
    assert list(tmp_path.iterdir()) == []


def test_missing_columns_empty_table_and_overwrite(tmp_path):
    with pytest.raises(GapvizError, match="loggf"):
        write_moog(pd.DataFrame({"wavelength": [15100.0], "species": ["Fe I"], "elow_ev": [1.0]}), tmp_path / "a")
    with pytest.raises(GapvizError, match="no lines"):
        write_moog(pd.DataFrame(columns=["wavelength", "species", "loggf", "elow_ev"]), tmp_path / "a")
    df = pd.DataFrame({"wavelength": [15100.0], "species": ["Fe I"], "loggf": [-1.0], "elow_ev": [1.0]})
    path = write_moog(df, tmp_path / "a.moog")
    with pytest.raises(GapvizError, match="already exists"):
        write_moog(df, path, overwrite=False)
