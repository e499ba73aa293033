"""gapviz.evaluate.repair_score: a repair's changes scored against a mock's truth."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from gapviz.errors import GapvizError
from gapviz.evaluate.repair_score import format_repair_scores, score_repair
from gapviz.mock.truth import Truth, write_truth

R = 22500.0


@pytest.fixture
def truth_path(tmp_path):
    removed = pd.DataFrame({"wavelength": [15200.0, 15300.0, 15400.0, 15500.0], "species": ["CO", "CO", "Fe I", "CN"],
                            "element": ["C", "C", "Fe", "C"], "label": ["c_fe", "c_fe", "fe_h", "n_fe"],
                            "loggf": [-6.0, -6.5, -1.0, -2.0], "elow_ev": [0.5, 0.6, 5.0, 1.0],
                            "depth_ref": [0.08, 0.03, 0.10, 0.01], "depth_max": [0.1, 0.05, 0.12, 0.02],
                            "blend_ratio": [0.0] * 4, "blended": [False] * 4})
    perturbed = pd.DataFrame({"wavelength": [15600.0, 15700.0], "species": ["Fe I", "Mg I"],
                              "delta_loggf": [0.2, 0.0], "gamvw_true": [np.nan, -7.2]})
    truth = Truth(removed, perturbed, {"teff": np.array([4500.0, 4800.0])}, np.array(["a", "b"]),
                  np.array([100.0, 100.0]), np.array([1.0, 1.0]), {"resolution": R})
    path = tmp_path / "truth.h5"
    write_truth(truth, path)
    return path


def _changes(tmp_path, rows, report=None):
    out = tmp_path / "rep"
    out.mkdir(exist_ok=True)
    pd.DataFrame(rows).to_csv(out / "changes.csv", index=False)
    (out / "report.json").write_text(json.dumps(report or {"resolution": R}))
    return out


def test_added_recalibrated_damping_and_labels(tmp_path, truth_path):
    rows = [
        {"choice": "added", "wavelength": 15200.1, "species": "CO", "loggf": -5.9, "loggf_before": np.nan,
         "loggf_err": 0.1},                                               # real, right species, 0.1 dex off
        {"choice": "added", "wavelength": 15400.2, "species": "Si I", "loggf": -1.0, "loggf_before": np.nan,
         "loggf_err": 0.1},                                               # real, wrong species
        {"choice": "added", "wavelength": 15800.0, "species": "OH", "loggf": -5.0, "loggf_before": np.nan,
         "loggf_err": 0.1},                                               # not real
        {"choice": "recalibrated", "wavelength": 15600.0, "species": "Fe I", "loggf": -1.25, "loggf_before": -1.0,
         "loggf_err": 0.05},                                              # right line, 0.05 off the −0.2 wanted
        {"choice": "recalibrated", "wavelength": 15650.0, "species": "Fe I", "loggf": -1.0, "loggf_before": -1.2,
         "loggf_err": 0.05},                                              # an unperturbed line changed
        {"choice": "damping", "wavelength": 15700.0, "species": "Mg I", "loggf": -0.5, "loggf_before": -0.5,
         "loggf_err": np.nan},
    ]
    report = {"resolution": R, "labels": {"names": ["teff"], "star_id": ["b", "a"], "before": [[4900.0], [4600.0]],
                                          "after": [[4820.0], [4500.0]]}}
    scores = score_repair(_changes(tmp_path, rows, report), truth_path)
    a, r, d = scores["added"], scores["recalibrated"], scores["damping"]
    assert a["n_added"] == 3 and a["added_real"] == pytest.approx(2 / 3)
    assert a["n_removed_deeper_2pc"] == 3 and a["added_recall"] == pytest.approx(2 / 3)  # 15300 CO not added
    assert a["species_accuracy"] == pytest.approx(0.5)
    assert a["n_loggf_lines"] == 1 and a["loggf_error_median"] == pytest.approx(0.1)
    assert r["n_recalibrated"] == 2 and r["n_recal_of_perturbed"] == 1 and r["recal_precision"] == 0.5
    assert r["recal_error_median"] == pytest.approx(0.05)
    assert d["n_damping_right"] == 1 and d["damped_recovered"] == 1.0
    assert scores["labels"]["teff"] == {"before": pytest.approx(100.0), "after": pytest.approx(10.0)}
    text = format_repair_scores(scores)
    assert "added lines: 3" in text and "label bias" in text


def test_a_folder_without_changes_is_refused(tmp_path, truth_path):
    with pytest.raises(GapvizError, match="no changes.csv"):
        score_repair(tmp_path, truth_path)
