"""gapviz.repair.review (decisions beside the store) and gapviz.repair.species_fit (which species makes a feature)."""

from __future__ import annotations

import math
import multiprocessing

import numpy as np
import pandas as pd
import pytest

from gapviz.errors import GapvizError
from gapviz.io.linelist import read_linelist
from gapviz.repair.population import Population
from gapviz.repair.review import (
    Decision,
    check_decision,
    read_review,
    record_decision,
    reviewed_linelist,
)
from gapviz.repair.species_fit import species_fits
from gapviz.theory.linemodel import LineModel

SHA = "a" * 64


def repaired_table() -> pd.DataFrame:
    """A repaired list as REPAIR_DIR/linelist.csv holds it: one kept, one added (candidate 1), one recalibrated
    (candidate 0: a known line checked alone), one added (candidate 2)."""
    return pd.DataFrame({
        "wavelength": [15200.5, 15201.25, 15202.0, 15203.75], "species": ["Mg I", "Fe I", "Si I", "CO"],
        "loggf": [-1.0, -0.6, -0.5, -5.1], "elow_ev": [4.3, 5.0, 5.9, 0.8], "medium": "vacuum",
        "isotopes": ["", "", "", "12,16"], "change": ["kept", "added", "recalibrated", "added"],
        "loggf_before": [np.nan, np.nan, -1.5, np.nan], "loggf_err": [np.nan, 0.05, 0.03, 0.1],
        "candidate": [np.nan, 1, 0, 2]})


def test_a_decision_is_recorded_and_read_back(tmp_path):
    path = tmp_path / "review.csv"
    record_decision(path, Decision(15201.25, "Fe I", 1, "accept", choice="added"), SHA)
    record_decision(path, Decision(15202.0, "Si I", 0, "edit", choice="recalibrated", loggf=-1.2, elow_ev=5.9), SHA)
    table = read_review(path)
    assert list(table["decision"]) == ["accept", "edit"] and list(table["candidate"]) == [1, 0]
    assert table["loggf"].iloc[1] == pytest.approx(-1.2) and table["source_sha256"].iloc[0] == SHA
    # a second decision on the same change replaces the first
    record_decision(path, Decision(15201.25, "Fe I", 1, "reject", choice="added"), SHA)
    table = read_review(path)
    assert len(table) == 2 and table.set_index("species").at["Fe I", "decision"] == "reject"
    assert not list(tmp_path.glob(".review.csv.*.tmp"))  # no temporary file left behind


def _writer(path: str, start: float, n: int) -> None:
    for k in range(n):
        record_decision(path, Decision(start + k, "Fe I", k + 1, "accept", choice="added"), SHA)


def test_two_writers_at_once_lose_nothing(tmp_path):
    path = tmp_path / "review.csv"
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_writer, args=(str(path), start, 15)) for start in (15300.0, 15500.0)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    table = read_review(path)
    assert len(table) == 30
    assert sorted(table["wavelength"]) == [15300.0 + k for k in range(15)] + [15500.0 + k for k in range(15)]


def test_decisions_apply_to_the_repaired_list():
    review = pd.DataFrame([
        {"wavelength": 15201.25, "species": "Fe I", "candidate": 1, "decision": "reject"},
        {"wavelength": 15202.0, "species": "Si I", "candidate": 0, "decision": "reject"},
        {"wavelength": 15203.75, "species": "CO", "candidate": 2, "decision": "edit", "loggf": -4.5,
         "elow_ev": 0.5, "edit_wavelength": 15203.8, "edit_species": "OH"},
    ]).assign(source_sha256=SHA)
    out = reviewed_linelist(repaired_table(), review, SHA)
    assert list(out["species"]) == ["Mg I", "Si I", "OH"]  # the rejected added Fe I line is dropped
    si = out.set_index("species").loc["Si I"]
    assert si["loggf"] == -1.5 and si["change"] == "kept" and si["review"] == "rejected"  # log gf restored
    oh = out.set_index("species").loc["OH"]
    assert (oh["loggf"], oh["elow_ev"], oh["wavelength"], oh["review"]) == (-4.5, 0.5, 15203.8, "edited")
    # accepted and undecided stay as proposed
    same = reviewed_linelist(repaired_table(), review.iloc[:0], SHA)
    np.testing.assert_array_equal(same["loggf"], repaired_table()["loggf"])
    assert list(same["review"]) == ["", "undecided", "undecided", "undecided"]


def test_a_review_of_another_repair_is_refused():
    foreign = pd.DataFrame([{"wavelength": 16000.0, "species": "Fe I", "candidate": 7, "decision": "accept",
                             "source_sha256": SHA}])
    with pytest.raises(GapvizError, match="name changes this repair does not make"):
        reviewed_linelist(repaired_table(), foreign, SHA)
    other_list = foreign.assign(wavelength=15201.25, candidate=1, source_sha256="b" * 64)
    with pytest.raises(GapvizError, match="another line list"):
        reviewed_linelist(repaired_table(), other_list, SHA)


@pytest.mark.parametrize(("decision", "message"), [
    (Decision(15201.0, "Fe I", 1, "edit", "added", loggf=4.0, elow_ev=1.0), r"log gf 4.0: expected .*\[-10, 3\]"),
    (Decision(15201.0, "Fe I", 1, "edit", "added", loggf=-1.0, elow_ev=-1.0), "E_low"),
    (Decision(15201.0, "Fe I", 1, "edit", "added", loggf=-1.0, elow_ev=1.0, edit_species="Xx I"), "not a species"),
    (Decision(15201.0, "Fe I", 1, "edit", "added", loggf=-1.0, elow_ev=1.0, edit_species="Ti I"),
     "not one of the store's line list"),
    (Decision(15201.0, "Fe I", 1, "edit", "added", loggf=-1.0, elow_ev=1.0, edit_wavelength=17000.0),
     "outside the store's range"),
    (Decision(15202.0, "Si I", 0, "edit", "recalibrated", loggf=-1.0, elow_ev=5.9, edit_species="Fe I"),
     "keeps its wavelength and species"),
    (Decision(15201.0, "Fe I", 1, "maybe"), "decision 'maybe' unknown"),
])
def test_bad_values_are_refused_with_a_clear_message(decision, message):
    with pytest.raises(GapvizError, match=message):
        check_decision(decision, species={"Fe I", "Si I", "CO"}, wavelength_range=(15200.0, 15300.0))


def test_a_good_edit_passes():
    check_decision(Decision(15201.0, "Fe I", 1, "edit", "added", loggf=-1.0, elow_ev=1.0, edit_species="CO",
                            edit_wavelength=15201.1), species={"Fe I", "CO"}, wavelength_range=(15200.0, 15300.0))


def test_the_injected_species_wins(tmp_path):
    """A CO line injected into a population whose [C/Fe] varies apart from teff: CO fits best, Fe I worse."""
    wl = np.arange(15195.0, 15215.0, 0.21)
    rng = np.random.default_rng(5)
    n = 150
    labels = np.column_stack([rng.uniform(3800, 5000, n), rng.uniform(0.8, 3.0, n), rng.normal(0, 0.15, n),
                              rng.uniform(-0.5, 0.6, n), np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n),
                              np.zeros(n), np.zeros(n), np.zeros(n)])
    names = ["teff", "logg", "fe_h", "c_fe", "n_fe", "o_fe", "mg_fe", "si_fe", "ca_fe", "ti_fe", "ni_fe"]
    path = tmp_path / "co.csv"
    pd.DataFrame([{"wavelength": 15205.0, "species": "CO", "loggf": -7.0, "elow_ev": 0.5, "medium": "vacuum"}]
                 ).to_csv(path, index=False)
    line = LineModel(read_linelist(path), wl, label_names=names, min_depth=0.0).spectra(labels).astype(float)
    assert 0.05 < 1 - line.min() < 0.45  # weak to moderate, in the deepest star
    err = 0.004
    obs = line + rng.normal(0, err, line.shape)
    pop = Population(wl, names, labels, obs, np.ones_like(obs), np.full(obs.shape, 1 / err**2))
    table = species_fits(pop, 15205.0, ["Fe I", "Si I", "CO", "OH"], resolution=22500.0)
    assert table["species"].iloc[0] == "CO" and table["elow_ev"].iloc[0] == 0.5
    assert table["delta_bic"].iloc[1] > 25  # the runner-up is far behind
    assert table["delta_chi2"].iloc[0] < -1000 and math.isfinite(table["loggf"].iloc[0])
    assert table["loggf"].iloc[0] == pytest.approx(-7.0, abs=0.05)


# --- gapviz repair STORE_DIR --review REVIEW_CSV --out DIR -----------------------------------------------------

@pytest.fixture()
def store_with_repair(tmp_path):
    """STORE_DIR (a store.nc file is all --review needs of it) with STORE_DIR/repair as gapviz repair writes it."""
    store = tmp_path / "store"
    (store / "repair").mkdir(parents=True)
    (store / "store.nc").write_bytes(b"")
    repaired_table().to_csv(store / "repair" / "linelist.csv", index=False)
    (store / "repair" / "overlay.json").write_text(f'{{"source_sha256": "{SHA}", "changes": []}}\n')
    return store


def test_the_cli_applies_a_review(store_with_repair, tmp_path, capsys):
    from gapviz.cli import main

    review = store_with_repair / "review.csv"
    record_decision(review, Decision(15201.25, "Fe I", 1, "reject", choice="added"), SHA)
    record_decision(review, Decision(15202.0, "Si I", 0, "edit", choice="recalibrated", loggf=-1.1, elow_ev=5.9), SHA)
    out = tmp_path / "reviewed"
    assert main(["repair", str(store_with_repair), "--review", str(review), "--out", str(out)]) == 0
    assert "1 rejected, 1 edited, 1 undecided" in capsys.readouterr().out.replace("0 accepted, ", "")
    lines = read_linelist(out / "linelist_plain.csv")
    assert list(lines["species"]) == ["Mg I", "Si I", "CO"]
    assert lines.set_index("species").at["Si I", "loggf"] == pytest.approx(-1.1)
    moog = read_linelist(out / "linelist.moog")
    assert len(moog) == 3 and moog.set_index("species").at["Si I", "loggf"] == pytest.approx(-1.1, abs=1e-3)
    assert list(pd.read_csv(out / "linelist.csv")["review"].fillna("")) == ["", "edited", "undecided"]

    # an existing --out is refused (and left as it was), --overwrite replaces it
    before = (out / "linelist.csv").read_bytes()
    assert main(["repair", str(store_with_repair), "--review", str(review), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "already exists" in err and "--overwrite" in err and "Traceback" not in err
    assert (out / "linelist.csv").read_bytes() == before
    assert main(["repair", str(store_with_repair), "--review", str(review), "--out", str(out), "--overwrite"]) == 0


def test_the_cli_refuses_a_review_of_another_store(store_with_repair, tmp_path, capsys):
    from gapviz.cli import main

    foreign = tmp_path / "review.csv"
    record_decision(foreign, Decision(16100.0, "CO", 4, "accept", choice="added"), SHA)
    assert main(["repair", str(store_with_repair), "--review", str(foreign), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "another store or repair" in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()
    other_list = tmp_path / "other.csv"
    record_decision(other_list, Decision(15201.25, "Fe I", 1, "accept", choice="added"), "b" * 64)
    assert main(["repair", str(store_with_repair), "--review", str(other_list), "--out", str(tmp_path / "o")]) == 2
    assert "another line list" in capsys.readouterr().err
    # no repair beside the store and no --from: one line saying what to pass
    bare = tmp_path / "bare"
    bare.mkdir()
    (bare / "store.nc").write_bytes(b"")
    assert main(["repair", str(bare), "--review", str(foreign), "--out", str(tmp_path / "o")]) == 2
    assert "--from REPAIR_DIR" in capsys.readouterr().err
