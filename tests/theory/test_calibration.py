"""LineModel's opt-in SME calibration (gapviz.theory.calibration, docs/CALIBRATION.md)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from gapviz.errors import GapvizError
from gapviz.io.linelist import linemake_paths, read_linelists
from gapviz.theory import calibration as cal
from gapviz.theory.linemodel import LineModel

LABELS = ["teff", "logg", "fe_h"]
STAR = np.array([[4700.0, 2.5, 0.0], [4000.0, 1.3, 0.1]])
GRID = np.arange(15500.0, 15600.0, 0.2)


@pytest.fixture(scope="module")
def lines():
    df = read_linelists(linemake_paths())
    return df[(df["wavelength"] > 15490) & (df["wavelength"] < 15610)].reset_index(drop=True)


def test_shipped_calibration_loads_with_provenance():
    data = cal.load_calibration("sme")
    assert data["c12_c13"] == 20.0
    assert {"Fe I", "CN", "CO", "OH"} <= set(data["species"])
    assert "command" in data["provenance"] and "date" in data["provenance"]
    assert cal.load_calibration(None) is None
    assert cal.load_calibration(cal.SME_CALIBRATION_PATH)["species"] == data["species"]


def test_none_is_the_uncalibrated_model(lines):
    a = LineModel(lines, GRID, label_names=LABELS)
    b = LineModel(lines, GRID, label_names=LABELS, calibration=None)
    assert np.array_equal(a.spectra(STAR), b.spectra(STAR))
    assert np.array_equal(a.line_depths(STAR), b.line_depths(STAR))


def test_sme_changes_depths_as_stored(lines):
    kw = {"label_names": LABELS, "min_depth": 0}
    plain = LineModel(lines, GRID, **kw)
    data = cal.load_calibration("sme")
    calibrated = LineModel(lines, GRID, calibration="sme", **kw)
    assert not np.allclose(plain.spectra(STAR), calibrated.spectra(STAR))
    # log τ_lin moves by exactly the stored terms of each line's species (plus the isotopic fraction)
    import torch
    x = torch.as_tensor(STAR, dtype=torch.float32)
    shift = (calibrated.log_tau_linear(x) - plain.log_tau_linear(x)).detach().numpy().astype(float)
    theta = 5040.0 / STAR[:, 0]
    iso = cal.isotope_offsets(plain.linelist, data["c12_c13"])
    chi = plain._chi_np
    for j, species in enumerate(plain.linelist["species"]):
        t = data["species"].get(species) or (None if plain.linelist["is_molecule"][j] else data["species"]["atoms"])
        if t is None:
            want = iso[j]
        else:
            want = (t["offset"] + t["theta_slope"] * (theta - data["theta_ref"])
                    + t["logg_slope"] * (STAR[:, 1] - data["logg_ref"]) + t["fe_h_slope"] * (STAR[:, 2] - data["fe_h_ref"])
                    + t["theta2_slope"] * (theta - data["theta_ref"]) ** 2 - t["chi_scale"] * theta * chi[j] + iso[j])
        np.testing.assert_allclose(shift[:, j], want, atol=2e-3)
    # a dict or a path give the same model
    same = LineModel(lines, GRID, calibration=data, **kw)
    assert np.array_equal(same.line_depths(STAR), calibrated.line_depths(STAR))


def test_13co_is_folded(lines):
    co = lines[lines["species"] == "CO"]
    iso = co["isotopes"].fillna("")
    if not (iso == "13,16").any():
        pytest.skip("no 13CO line in this window")
    off = cal.isotope_offsets(co, 20.0)
    assert np.allclose(off[(iso == "13,16").to_numpy()], np.log10(1 / 21) + np.log10(0.99757))


@pytest.mark.parametrize("bad", [
    "no-such-calibration.json", 3.0, {"species": []}, {"species": {"Fe I": {"offset": "x"}}},
    {"species": {"Fe I": {"slope": 1.0}}}, {"species": {}, "c12_c13": -1}, {"species": {"Fe I": {"offset": float("nan")}}},
])
def test_bad_calibration_is_a_gapviz_error(lines, bad):
    with pytest.raises(GapvizError):
        LineModel(lines, GRID, label_names=LABELS, calibration=bad)


def test_unreadable_json_is_a_gapviz_error(lines, tmp_path):
    path = tmp_path / "c.json"
    path.write_text("{not json")
    with pytest.raises(GapvizError):
        cal.load_calibration(path)
    path.write_text(json.dumps({"species": {"Fe I": {"offset": 0.5}}}))
    assert cal.load_calibration(str(path))["species"]["Fe I"]["offset"] == 0.5


def test_calibrated_linemodel_matches_sme_isolated_depths(monkeypatch, tmp_path):
    pytest.importorskip("pysme")
    from gapviz.theory.sme import SMESettings, sme_linelist, synthesize

    monkeypatch.chdir(tmp_path)  # SME writes syntherr.log into the working directory
    df = read_linelists(linemake_paths())
    theta = 5040.0 / 4700.0
    picks = []
    for species in ("Fe I", "Si I", "Mg I", "Ti I", "Ni I", "Ca I", "CN", "OH", "CO"):
        sub = df[(df["species"] == species) & (df["isotopes"].fillna("").isin(["", "12,14", "12,16", "16,1", "1,16"]))]
        strength = sub["loggf"] - theta * sub["elow_ev"] / (0.85 if species in ("CN", "OH", "CO") else 1.0)
        picks.append(sub.loc[strength.sort_values().index[-3]])  # a strong but not the strongest line
    lines = __import__("pandas").DataFrame(picks).reset_index(drop=True)
    lines["wavelength"] = 15600.0 + 7.0 * np.arange(len(lines))  # isolated slots on grid points
    grid = np.round(np.arange(15596.5, lines["wavelength"].iloc[-1] + 3.5, 0.1), 6)
    centre = np.searchsorted(grid, lines["wavelength"].to_numpy() - 0.05)
    labels = {"teff": 4000.0, "logg": 1.3, "fe_h": 0.1, "vmic": 1.5}  # a held-out star of the benchmark
    table, _ = sme_linelist(lines, c12_c13=20.0)
    sme = 1.0 - synthesize(table, grid, labels, SMESettings(resolution=22500.0, c12_c13=20.0))[centre]
    lm = LineModel(lines, grid, resolution=22500.0, label_names=LABELS, min_depth=0, calibration="sme")
    depth = lm.line_depths(np.array([[4000.0, 1.3, 0.1]]))[0]
    rel = np.abs(depth - sme) / sme
    assert (sme > 0.05).all()
    # measured (pysme-astro 1.2, shipped json): median 7.6 %, worst 19.6 % (the Ni I line, +20 % at every star
    # tried); the benchmark's held-out median is 6-7 % (docs/CALIBRATION.md)
    assert np.median(rel) < 0.10, (sme, depth)
    assert rel.max() < 0.25, (sme, depth)
