"""`gapviz repair`: a store's candidates become a repaired line list with its evidence; bad input is refused."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from gapviz.cli import main
from gapviz.io.linelist import read_linelist
from gapviz.testing.toy import toy_line_depths, write_toy_case
from gapviz.workflow.analyze import analyze
from gapviz.workflow.apply import apply


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    case = write_toy_case(tmp_path_factory.mktemp("toy"), n_star=200, seed=4)
    d = case.directory
    analyze(None, d / "observed.h5", d / "linelist.csv", d / "store", reference_linelist=d / "reference_linelist.csv",
            adaptation=case.model, line_depths=toy_line_depths, chunk_size=64, progress=False)
    return d, case


def test_repair_writes_the_list_its_evidence_and_the_verification(toy, tmp_path, capsys):
    d, case = toy
    out = tmp_path / "repair"
    assert main(["repair", str(d / "store"), "--out", str(out), "--full-linelist", str(d / "reference_linelist.csv"),
                 "--verify-stars", "50"]) == 0
    printed = capsys.readouterr().out
    assert "lines added" in printed and "share of the gap closed" in printed
    for name in ("linelist.csv", "linelist.moog", "changes.csv", "overlay.json", "report.json"):
        assert (out / name).is_file()
    original, repaired = read_linelist(d / "linelist.csv"), read_linelist(out / "linelist.csv")
    moog = read_linelist(out / "linelist.moog")
    assert len(moog) == len(repaired) >= len(original)
    report = json.loads((out / "report.json").read_text())
    assert report["verification"]["method"] == "linemodel" and report["verification"]["n_stars"] == 50
    assert report["verification"]["labels"] == "store"  # no theory.pt, no loop: at the store's labels
    med = report["verification"]["chi2nu_median"]
    assert med["repaired"] < med["original"]  # the repaired list fits the stars better where it changed
    # every removed line of the toy case that the finder found is now in the list
    added = repaired.loc[~repaired["wavelength"].round(3).isin(original["wavelength"].round(3))]
    for w in case.removed["wavelength"]:
        assert (abs(added["wavelength"] - w) < 0.2).any(), w


def test_repair_refuses_what_it_cannot_do(toy, tmp_path, capsys):
    d, case = toy
    applied = apply(None, d / "observed.h5", tmp_path / "no_find", adaptation=case.model, chunk_size=64,
                    progress=False)
    assert main(["repair", str(applied.store_path.parent), "--out", str(tmp_path / "r1")]) == 2
    assert "no candidates; run 'gapviz find" in capsys.readouterr().err
    other = tmp_path / "other.csv"
    other.write_text("wavelength,species,loggf,elow_ev,medium\n15000.0,Fe I,-1.0,5.0,vacuum\n")
    assert main(["repair", str(d / "store"), "--out", str(tmp_path / "r2"), "--linelist", str(other)]) == 2
    assert "does not match the store's" in capsys.readouterr().err
    existing = tmp_path / "r3"
    existing.mkdir()
    (existing / "mine.txt").write_text("keep me")
    assert main(["repair", str(d / "store"), "--out", str(existing), "--verify", "none"]) == 2
    err = capsys.readouterr().err
    assert "--overwrite" in err and err.count("\n") == 1
    assert (existing / "mine.txt").read_text() == "keep me" and len(list(existing.iterdir())) == 1


@pytest.mark.e2e
@pytest.mark.parametrize("theory", ["emulator", "linemodel"])
def test_repair_of_the_shipped_store_refits_the_labels_in_a_loop(tmp_path, capsys, theory):
    """The shipped store has its theory.pt: the loop runs, keeps its pass of least χ², reports the labels;
    through the emulator, or through LineModel itself (the shipped mock's grid was made by LineModel)."""
    from gapviz.evaluate.repair_score import score_store_repair

    root = Path(__file__).resolve().parents[2]
    out = tmp_path / "repair"
    assert main(["repair", str(root / "data_samples" / "store"), "--out", str(out), "--verify-stars", "12",
                 "--stars", "30", "--iterate", "2", "--linelist", str(root / "data_samples/mock/linelist.csv"),
                 "--reference-linelist", str(root / "data_samples/mock/reference_linelist.csv"),
                 "--theory", theory]) == 0
    printed = capsys.readouterr().out
    assert "pass 1:" in printed and "known lines checked against each other" in printed
    report = json.loads((out / "report.json").read_text())
    assert report["theory"] == theory
    passes = report["iterations"]
    assert 1 <= len(passes) <= 2
    assert passes[report["kept_pass"] - 1]["chi2"] == min(p["chi2"] for p in passes)
    labels = report["labels"]
    assert labels["n_stars"] == len(labels["star_id"]) == len(labels["after"]) <= 30
    assert report["written"]["added"] >= 1 and "the list written is explained at pass" in printed
    # verified at the labels the loop ends with, on stars of its population
    assert report["verification"]["labels"] == "loop" and report["verification"]["n_stars"] == 12
    checked = pd.read_csv(out / "line_offsets.csv")
    assert len(checked) == report["null"]["n_tested"] > 20 and {"residual", "z"} <= set(checked.columns)
    scores = score_store_repair(root / "data_samples" / "store", out, root / "data_samples/mock/truth.h5")
    assert scores["added"]["added_real"] > 0.8 and "teff" in scores["labels"]
