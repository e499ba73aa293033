"""gapviz analyze (apply then find) -> store + candidates -> score, on a toy adaptation with known missing lines."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pandas as pd
import pytest

from gapviz.cli import main
from gapviz.errors import GapvizError
from gapviz.evaluate.store_score import score_store
from gapviz.io.grids import sample_wavelength
from gapviz.io.linelist import write_linelist_csv
from gapviz.io.spectra import write_spectra
from gapviz.mock.truth import Truth, write_truth
from gapviz.testing.toy import ToyAdaptation, standard_toy, toy_line_depths, toy_observed, toy_population, toy_synthetic
from gapviz.workflow.analyze import analyze

WL = sample_wavelength()
N = 300


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    d = tmp_path_factory.mktemp("case")
    model, theory, reference, removed = standard_toy(WL)
    labels = toy_population(N, 11)
    obs = toy_observed(model, labels, seed=12)
    write_spectra(obs, d / "obs.h5")
    write_spectra(toy_synthetic(model, toy_population(N, 13)), d / "syn.h5")
    write_linelist_csv(theory, d / "ll.csv")
    write_linelist_csv(reference, d / "ref.csv")
    truth = Truth(removed=removed, perturbed=pd.DataFrame({"wavelength": [], "species": [], "delta_loggf": []}),
                  labels=dict(zip(["teff", "logg", "fe_h", "mg_fe"], labels.T)), star_id=obs.star_id,
                  snr=np.full(N, 100.0), chi2nu_theory_true=np.ones(N), attrs={"resolution": 22500.0})
    write_truth(truth, d / "truth.h5")
    # the toy theory holds only Fe I lines, so species attribution could name nothing else: the label rule
    result = analyze(None, d / "obs.h5", d / "ll.csv", d / "store", synthetic=d / "syn.h5",
                     reference_linelist=d / "ref.csv", adaptation=model, line_depths=toy_line_depths,
                     chunk_size=100, progress=False, attribution="regression")
    return d, model, removed, result


def test_analyze_finds_the_missing_lines_and_writes_the_table(case):
    d, model, removed, result = case
    table = pd.read_csv(d / "store" / "candidates.csv", keep_default_na=False)
    for col in ("wavelength", "depth", "equivalent_width", "significance", "in_linelist", "nearest_species",
                "nearest_wavelength", "attributed_label", "attribution_confidence", "score", "identification",
                "n_stars", "width", "rank"):
        assert col in table.columns, col
    assert len(table) == len(removed)  # the extra lines and nothing at the well-modelled theory lines
    for _, line in removed.iterrows():
        row = table.iloc[np.argmin(np.abs(table["wavelength"] - line["wavelength"]))]
        assert abs(row["wavelength"] - line["wavelength"]) < 0.1
        assert row["in_linelist"] in (False, "False")
        assert row["identification"].startswith(line["species"])
        assert row["depth"] == pytest.approx(line["depth_ref"], rel=0.2)
    assert list(table["rank"]) == list(range(1, len(table) + 1))
    assert result.chi2nu_adapted_median < result.chi2nu_theory_median
    assert 0.9 < result.chi2nu_adapted_median < 1.1
    assert "stars" in result.summary() and "->" in result.summary()
    summary = result.summary()
    assert "features the theory lacks" in summary  # the missing lines, best first, with their identification
    assert f"{result.candidates['wavelength'].iloc[0]:10.2f}" in summary and "Mg I" in summary
    # the table keeps wavelengths to better than 0.01 Å (a spectroscopist's line identification needs it)
    np.testing.assert_allclose(table["wavelength"], result.candidates["wavelength"], atol=1e-3)


def test_a_theory_line_too_weak_in_the_model_is_a_strength_problem(case, tmp_path):
    d, model, removed, _ = case
    # a theory list that *has* the Mg line (strong in its line model): flagged in_linelist, ranked after
    ll = pd.read_csv(d / "ref.csv")
    ll = ll[ll["species"].isin(["Fe I", "Mg I"])]
    ll.to_csv(tmp_path / "with_mg.csv", index=False)
    depth_fn = lambda lines, *a: np.where(lines["species"].isin(["Fe I", "Mg I"]), 0.3, 0.0)  # noqa: E731
    result = analyze(None, d / "obs.h5", tmp_path / "with_mg.csv", tmp_path / "s", adaptation=model,
                     line_depths=depth_fn, progress=False)
    c = result.candidates
    mg = c.iloc[np.argmin(np.abs(c["wavelength"] - removed["wavelength"].iloc[0]))]
    assert bool(mg["in_linelist"]) and mg["nearest_species"] == "Mg I"
    assert mg["rank"] == len(c)  # absent lines rank first


def test_stars_the_theory_explains_give_an_empty_table_not_an_error(tmp_path):
    model, theory, *_ = standard_toy(WL)
    clean = ToyAdaptation(model.wavelength, model.lines, [], model.resolution)  # nothing missing
    write_spectra(toy_observed(clean, toy_population(60, 3), seed=4), tmp_path / "obs.h5")
    write_linelist_csv(theory, tmp_path / "ll.csv")
    result = analyze(None, tmp_path / "obs.h5", tmp_path / "ll.csv", tmp_path / "s", adaptation=clean,
                     line_depths=toy_line_depths, progress=False)
    assert result.candidates.empty
    table = pd.read_csv(tmp_path / "s" / "candidates.csv")
    assert table.empty and {"wavelength", "attributed_label", "score"} <= set(table.columns)
    assert "0 candidates" in result.summary()


def test_incompatible_grid_is_refused(case, tmp_path):
    d, model, *_ = case
    other, theory, *_ = standard_toy(WL[:512])
    with pytest.raises(GapvizError, match="wavelength grids differ: RUN_DIR run0 .*512 pixels.*obs.h5 has 1024"):
        analyze("run0", d / "obs.h5", d / "ll.csv", tmp_path / "s", adaptation=other,
                line_depths=toy_line_depths, progress=False)
    assert not (tmp_path / "s" / "store.nc").exists()


def test_line_list_out_of_range_is_refused(case, tmp_path):
    d, model, *_ = case
    pd.DataFrame({"wavelength": [5000.0], "species": ["Fe I"], "loggf": [-1.0], "elow_ev": [1.0],
                  "medium": ["vacuum"]}).to_csv(tmp_path / "optical.csv", index=False)
    with pytest.raises(GapvizError, match="optical.csv: no lines in the spectra's range"):
        analyze(None, d / "obs.h5", tmp_path / "optical.csv", tmp_path / "s", adaptation=model,
                line_depths=toy_line_depths, progress=False)


def test_cli_refuses_an_existing_store(case, capsys):
    d, *_ = case
    rc = main(["analyze", str(d / "nowhere"), "--observed", str(d / "obs.h5"), "--linelist", str(d / "ll.csv"),
               "--out", str(d / "store")])
    assert rc == 2
    assert "store.nc: a store already exists here" in capsys.readouterr().err


def test_baseline_method_finds_the_lines_without_attribution(case, tmp_path):
    d, _, removed, _ = case
    rc = main(["analyze", "-", "--method", "baseline", "--observed", str(d / "obs.h5"), "--synthetic",
               str(d / "syn.h5"), "--linelist", str(d / "ll.csv"), "--out", str(tmp_path / "b")])
    assert rc == 0
    table = pd.read_csv(tmp_path / "b" / "candidates.csv", keep_default_na=False)
    for w in removed["wavelength"]:
        assert np.min(np.abs(table["wavelength"] - w)) < 0.2
    assert set(table["attributed_label"]) == {"none"}
    scores = score_store(d / "store", d / "truth.h5", baseline_store=tmp_path / "b", write=False)
    assert scores["methods"]["baseline"]["n_candidates"] == len(table)
    assert scores["methods"]["baseline"]["recall"] == 1.0


def test_score_against_truth_side_by_side_with_baseline(case, capsys):
    d, *_ = case
    rc = main(["score", str(d / "store"), "--truth", str(d / "truth.h5")])
    assert rc == 0
    out = capsys.readouterr().out
    assert "adapted" in out and "baseline" in out
    scores = json.loads((d / "store" / "score.json").read_text())
    adapted = scores["methods"]["adapted"]
    # two of the three toy lines are deeper than 2 % and labelled; the constant one has label ""
    assert adapted["recall"] == 1.0 and adapted["precision"] == 1.0
    assert adapted["attribution_accuracy"] == 1.0 and adapted["n_attribution_targets"] == 2
    assert scores["methods"]["baseline"]["recall"] == 1.0
    assert scores["methods"]["baseline"]["attribution_accuracy"] == 0.0
    assert scores["label_scatter"]["teff"]["std"] < 200.0  # the population spread is 500 K


def test_truth_that_does_not_match_is_refused(case, tmp_path):
    d, *_ = case
    with h5py.File(d / "truth.h5") as src, h5py.File(tmp_path / "short.h5", "w") as dst:
        for key in src:
            if key in ("labels", "star_id", "snr", "chi2nu_theory_true"):
                continue
            src.copy(key, dst)
        dst.create_dataset("star_id", data=np.array([b"x"] * 5))
        g = dst.create_group("labels")
        g.create_dataset("teff", data=np.zeros(5))
    with pytest.raises(GapvizError, match=r"short.h5: has 5 stars \(/star_id\) but the store has 300"):
        score_store(d / "store", tmp_path / "short.h5", write=False)
    with h5py.File(tmp_path / "noremoved.h5", "w") as f:
        f.create_group("labels")
        f.create_dataset("star_id", data=np.array([b"x"]))
    with pytest.raises(GapvizError, match="noremoved.h5: missing.*removed"):
        score_store(d / "store", tmp_path / "noremoved.h5", write=False)


@pytest.mark.e2e
def test_run_chain_on_a_tiny_mock_and_a_run_from_another_grid(tmp_path, capsys):
    """gapviz mock (tiny) -> gapviz run (train -> analyze -> score); then the real RUN_DIR on another grid."""
    assert main(["mock", str(tmp_path / "mock"), "--n-synthetic", "300", "--n-observed", "100"]) == 0
    rc = main(["run", "--sample", str(tmp_path / "mock"), "--out", str(tmp_path / "out"), "--minutes", "0.3"])
    assert rc == 0
    out = capsys.readouterr().out
    assert "precision" in out and "baseline" in out
    scores = json.loads((tmp_path / "out" / "store" / "score.json").read_text())
    assert {"adapted", "baseline"} <= set(scores["methods"])
    assert scores["methods"]["adapted"]["n_target_lines"] > 0
    assert set(scores["label_scatter"]) >= {"teff", "logg", "fe_h"}
    table = pd.read_csv(tmp_path / "out" / "store" / "candidates.csv")
    assert len(table) == scores["methods"]["adapted"]["n_candidates"]
    # the trained run refuses an observed set on a different grid, with one clear error
    from gapviz.io.spectra import read_spectra

    obs = read_spectra(tmp_path / "mock" / "observed.h5")
    write_spectra(obs.__class__(obs.wavelength[:512], obs.flux[:, :512], obs.flux_err[:, :512],
                                star_id=obs.star_id, domain="observed"), tmp_path / "half.h5")
    rc = main(["analyze", str(tmp_path / "out" / "run"), "--observed", str(tmp_path / "half.h5"),
               "--linelist", str(tmp_path / "mock" / "linelist.csv"), "--out", str(tmp_path / "s2")])
    assert rc == 2
    err = capsys.readouterr().err
    assert "wavelength grids differ" in err and "RUN_DIR" in err and "half.h5" in err
