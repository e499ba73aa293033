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


ABUNDANCE_LABELS = ["teff", "logg", "fe_h", "c_fe", "n_fe", "o_fe"]


def test_shipped_abundance_terms_carry_the_c_o_budget():
    # SME locks carbon in CO: CN weakens with [O/Fe] and OH with [C/Fe]; the shipped terms say so (the
    # benchmark measures SME's d log depth / d [X/Fe] at +1.1 (C), -0.8 (O) for CN, -0.9 (C), +1.6 (O) for OH)
    species = cal.load_calibration("sme")["species"]
    assert species["CN"]["o_fe_slope"] < -0.5 and species["CN"]["c_fe_slope"] > 0.5
    assert species["OH"]["c_fe_slope"] < -0.3 and species["OH"]["o_fe_slope"] > 0.3
    assert all(species[a][t] == 0.0 for a in ("Fe I", "atoms") for t in cal.ABUNDANCE_TERMS)


def test_abundance_terms_move_log_tau_by_the_label_and_only_with_it(lines):
    import torch
    kw = {"label_names": ABUNDANCE_LABELS, "min_depth": 0}
    data = cal.load_calibration("sme")
    model = LineModel(lines, GRID, calibration=data, **kw)
    star = np.array([[4700.0, 2.5, 0.0, 0.0, 0.0, 0.0]])
    moved = star + np.array([[0.0, 0.0, 0.0, 0.2, -0.1, 0.3]])
    shift = (model.log_tau_linear(torch.as_tensor(moved, dtype=torch.float32))
             - model.log_tau_linear(torch.as_tensor(star, dtype=torch.float32))).detach().numpy()[0]
    plain = LineModel(lines, GRID, **kw)
    own = (plain.log_tau_linear(torch.as_tensor(moved, dtype=torch.float32))
           - plain.log_tau_linear(torch.as_tensor(star, dtype=torch.float32))).detach().numpy()[0]
    for j, species in enumerate(model.linelist["species"]):
        t = data["species"].get(species) or data["species"]["atoms"]
        want = own[j] + 0.2 * t["c_fe_slope"] - 0.1 * t["n_fe_slope"] + 0.3 * t["o_fe_slope"]
        assert shift[j] == pytest.approx(want, abs=2e-3)
    # labels without [X/Fe] give the model without the terms (they read as 0)
    short = LineModel(lines, GRID, calibration=data, label_names=LABELS, min_depth=0)
    np.testing.assert_allclose(short.line_depths(STAR), model.line_depths(np.column_stack([STAR, np.zeros((2, 3))])),
                               rtol=1e-6)


def test_fit_abundance_slopes_recovers_the_molecules_terms(lines):
    """Depths made by a calibration with known abundance terms are fitted back from a zero start."""
    data = cal.load_calibration("sme")
    truth = {**data, "species": {k: dict(v) for k, v in data["species"].items()}}
    truth["species"]["CN"].update(c_fe_slope=0.9, n_fe_slope=-0.2, o_fe_slope=-0.8)
    truth["species"]["OH"].update(c_fe_slope=-0.6, n_fe_slope=0.0, o_fe_slope=0.7)
    start = {**data, "species": {k: {**v, **dict.fromkeys(cal.ABUNDANCE_TERMS, 0.0)} for k, v in data["species"].items()}}
    kw = {"label_names": ABUNDANCE_LABELS, "min_depth": 0}
    made = LineModel(lines, GRID, calibration=truth, **kw)
    base = [[4700.0, 2.5, 0.0], [3900.0, 1.8, 0.0], [4300.0, 2.5, -0.5]]
    steps = [(0, 0, 0), (0.25, 0, 0), (-0.25, 0, 0), (0, 0.3, 0), (0, 0, 0.25), (0, 0, -0.25)]
    labels = np.array([b + list(d) for b in base for d in steps])
    depths = made.line_depths(labels).astype(np.float64)
    model = LineModel(lines, GRID, calibration=start, **kw)
    fitted = cal.fit_abundance_slopes(model, start, labels, depths, np.ones(depths.shape, bool), min_depth=0.01)
    for species in ("CN", "OH"):
        assert (model.linelist["species"] == species).sum() > 20  # the window has both
        for term in cal.ABUNDANCE_TERMS:
            assert fitted["species"][species][term] == pytest.approx(truth["species"][species][term], abs=0.03), (species, term)
    assert fitted["species"]["Fe I"] == start["species"]["Fe I"]  # atoms are left alone
    cal.load_calibration(fitted)  # a valid calibration


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
