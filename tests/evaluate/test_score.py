"""Precision / recall / attribution against a mock truth table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gapviz.errors import GapvizError
from gapviz.evaluate.score import format_scores, label_scatter, score_candidates

R = 22500.0
REMOVED = pd.DataFrame({
    "wavelength": [15300.0, 15400.0, 15500.0, 15600.0, 15700.0],
    "species": ["Mg I", "CN", "Fe I", "OH", "Ti I"],
    "label": ["mg_fe", "c_fe", "fe_h", "o_fe", "ti_fe"],
    "depth_ref": [0.10, 0.04, 0.03, 0.01, 0.25],  # the 0.01 line is below the 2 % target cut
    "blended": [False, False, True, False, False],
})


def _cands(rows):
    return pd.DataFrame(rows, columns=["wavelength", "depth", "in_linelist", "attributed_label"])


def test_precision_recall_f1_and_blends():
    cands = _cands([
        (15300.2, 0.08, False, "mg_fe"),   # finds Mg I, right label
        (15400.1, 0.03, False, "teff"),    # finds CN, wrong label
        (15500.1, 0.03, True, "none"),     # in line list, but the target is blended: counts as found
        (15600.0, 0.01, False, "o_fe"),    # matches a removed line below 2 %: a true positive, not a target
        (15800.0, 0.05, False, "none"),    # false positive
        (15700.3, 0.20, True, "ti_fe"),    # flagged in_linelist, target not blended: not found
    ])
    s = score_candidates(cands, REMOVED, R)
    assert s["n_target_lines"] == 4 and s["n_found"] == 3
    assert s["recall"] == pytest.approx(0.75)
    assert s["n_candidates_absent"] == 4 and s["n_true_positive"] == 3
    assert s["precision"] == pytest.approx(0.75)
    assert s["f1"] == pytest.approx(0.75)
    assert s["precision_all_absorption"] == pytest.approx(5 / 6)  # only 15800 is near no removed line
    assert s["attribution_by_label"]["mg_fe"] == {"n": 1, "correct": 1}
    assert s["attribution_by_label"]["c_fe"] == {"n": 1, "correct": 0}
    assert s["n_attribution_targets"] == 3
    assert s["attribution_accuracy"] == pytest.approx(1 / 3)  # mg right; CN wrong; blended Fe "none" wrong
    assert s["attribution_commonest_label"] == pytest.approx(1 / 3)  # three labels, one target each
    assert s["attribution_balanced"] == pytest.approx(1 / 3)
    assert s["recall_any_kind"] == pytest.approx(0.75)  # no emission candidate here: the same as recall
    bins = {(b["depth_lo"], b["depth_hi"]): b for b in s["recall_by_depth"]}
    assert bins[(0.02, 0.05)]["n_lines"] == 2 and bins[(0.02, 0.05)]["recall"] == 1.0
    assert bins[(0.2, 1.0)]["recall"] == 0.0


def test_match_needs_one_resolution_element():
    fwhm = 15300.0 / R
    near = score_candidates(_cands([(15300.0 + 0.9 * fwhm, 0.1, False, "x")]), REMOVED, R)
    far = score_candidates(_cands([(15300.0 + 1.1 * fwhm, 0.1, False, "x")]), REMOVED, R)
    assert near["n_found"] == 1 and far["n_found"] == 0
    assert far["precision"] == 0.0


def test_emission_candidates_are_not_counted_as_absent_lines():
    s = score_candidates(_cands([(15300.0, -0.1, False, "x")]), REMOVED, R)
    assert s["n_candidates_absent"] == 0 and s["n_found"] == 0 and s["precision"] is None


def test_label_scatter_matches_by_star_id_and_refuses_other_sets():
    true = {"teff": np.array([4000.0, 4500.0, 5000.0])}
    out = label_scatter({"teff": np.array([5010.0, 4490.0, 4010.0])}, np.array(["c", "b", "a"]),
                        true, np.array(["a", "b", "c"]), "truth.h5")
    assert out["teff"]["bias"] == pytest.approx(10.0)
    assert out["teff"]["std"] == pytest.approx(np.std([10.0, -10.0, 10.0]), rel=1e-5)
    with pytest.raises(GapvizError, match="truth.h5: /star_id has 3 stars but the store has 2"):
        label_scatter({"teff": np.zeros(2)}, np.array(["a", "b"]), true, np.array(["a", "b", "c"]), "truth.h5")
    with pytest.raises(GapvizError, match="lacks the store's stars"):
        label_scatter({"teff": np.zeros(3)}, np.array(["a", "b", "x"]), true, np.array(["a", "b", "c"]), "truth.h5")


def test_format_scores_lists_methods_side_by_side():
    s = score_candidates(_cands([(15300.2, 0.08, False, "mg_fe")]), REMOVED, R)
    text = format_scores({"methods": {"adapted": s, "baseline": s}})
    assert "adapted" in text.splitlines()[1] and "baseline" in text.splitlines()[1]
    assert "recall" in text and text.splitlines()[0].startswith("The finder against the mock's truth")
    text = format_scores({"methods": {"adapted": s}, "label_scatter": {"teff": {"bias": 12.5, "std": 40.0,
                                                                                "mad_std": 30.0}}})
    assert "Inferred labels against the truth" in text
    assert text.splitlines()[-1].split() == ["teff", "12.5", "40", "30"]


def test_an_emission_feature_does_not_find_a_blended_missing_line():
    """A theory line too strong (emission in the correction) is not the missing absorption line beside it."""
    emission = _cands([(15500.1, -0.03, True, "none")])
    s = score_candidates(emission, REMOVED, R)
    assert s["n_found"] == 0 and s["n_candidates_in_linelist"] == 0
    absorption = _cands([(15500.1, 0.03, True, "none")])
    s = score_candidates(absorption, REMOVED, R)
    assert s["n_found"] == 1 and s["n_candidates_in_linelist"] == 1 and s["n_candidates_absent"] == 0


def test_recall_any_kind_counts_an_emission_feature_at_a_blended_line():
    cands = _cands([(15500.1, -0.02, False, "none")])  # emission (theory too strong) at the blended Fe I line
    s = score_candidates(cands, REMOVED, R)
    assert s["recall"] == 0.0
    assert s["recall_any_kind"] == pytest.approx(0.25)  # 1 of the 4 targets


def test_identification_accuracy_by_species_and_by_line():
    cands = _cands([(15300.2, 0.08, False, "mg_fe"), (15400.1, 0.03, False, "c_fe"), (15500.1, 0.03, True, "fe_h")])
    cands["identification"] = ["Mg I 15300.00", "CN 15400.45", "Ti I 15500.10"]
    s = score_candidates(cands, REMOVED, R)
    assert s["n_found"] == 3
    assert s["identification_species_accuracy"] == pytest.approx(2 / 3)  # Mg I and CN right, Ti I wrong
    assert s["identification_line_accuracy"] == pytest.approx(1 / 3)  # only the Mg I line itself
    assert score_candidates(cands.drop(columns="identification"), REMOVED, R)["identification_line_accuracy"] is None
