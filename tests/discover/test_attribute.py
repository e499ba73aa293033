"""Attribution follows the label made to drive a feature."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gapviz.discover.attribute import attribute, choose_label, sensitivity_from_arrays
from gapviz.io.grids import sample_wavelength
from gapviz.io.linelist import write_linelist_csv
from gapviz.io.spectra import write_spectra
from gapviz.testing.toy import standard_toy, toy_line_depths, toy_observed, toy_population
from gapviz.workflow.analyze import analyze

WL = sample_wavelength()
NAMES = ["teff", "logg", "fe_h", "mg_fe"]


def test_largest_scaled_sensitivity_wins_with_its_share():
    sens = np.zeros((4, WL.size))
    i = 300
    sens[0, i - 3:i + 4] = 0.03  # teff
    sens[1, i - 3:i + 4] = 0.01  # logg
    cands = pd.DataFrame({"wavelength": [WL[i], WL[700]], "depth": [0.05, 0.05]})
    out = attribute(cands, sens, WL, NAMES)
    assert out["attributed_label"].tolist() == ["teff", "none"]  # nothing varies at pixel 700
    np.testing.assert_allclose(out["attribution_confidence"].iloc[0], 0.03**2 / (0.03**2 + 0.01**2), rtol=1e-6)


def test_abundance_labels_are_preferred_and_specific_beats_fe_h():
    spread = np.array([250.0, 0.4, 0.3, 0.1])
    # a missing Mg line (absorption: sensitivities negative): teff moves it most per sigma,
    # [Fe/H] and [Mg/Fe] equally per dex
    s = np.array([0.04, 0.0, -0.03, -0.01])
    assert choose_label(s, NAMES, 0.05, spread)[0] == "mg_fe"
    # a missing Fe line: [Mg/Fe] does almost nothing
    s = np.array([0.04, 0.0, -0.03, -0.001])
    label, conf = choose_label(s, NAMES, 0.05, spread)
    assert label == "fe_h" and conf == pytest.approx(0.03**2 / (0.03**2 + 0.001**2))
    # abundances too weak to matter: the strongest label wins
    s = np.array([0.04, 0.0, -0.002, -0.001])
    assert choose_label(s, NAMES, 0.05, spread)[0] == "teff"
    # an abundance that makes the absorption *weaker* is not the element that is missing
    s = np.array([0.01, 0.0, 0.0, 0.03])
    assert choose_label(s, NAMES, 0.05, spread)[0] == "mg_fe"  # falls back to the largest overall
    s = np.array([0.02, 0.0, -0.01, 0.03])
    assert choose_label(s, NAMES, 0.05, spread)[0] == "fe_h"


def test_feature_that_barely_varies_is_none():
    sens = np.zeros((4, WL.size))
    sens[2, 400] = 0.001  # 2 % of the depth per sigma
    out = attribute(pd.DataFrame({"wavelength": [WL[400]], "depth": [0.05]}), sens, WL, NAMES)
    assert out["attributed_label"].iloc[0] == "none"


@pytest.mark.parametrize("method", ["regression", "response"])
def test_attribution_follows_the_driving_label_end_to_end(tmp_path, method):
    model, theory, _, truth = standard_toy(WL)
    write_spectra(toy_observed(model, toy_population(400, 7), seed=8), tmp_path / "obs.h5")
    write_linelist_csv(theory, tmp_path / "ll.csv")
    result = analyze(None, tmp_path / "obs.h5", tmp_path / "ll.csv", tmp_path / "s", adaptation=model,
                     line_depths=toy_line_depths, attribution=method, progress=False)
    cands = result.candidates
    for _, line in truth.iterrows():
        near = cands[np.abs(cands["wavelength"] - line["wavelength"]) < 0.3]
        assert len(near) == 1, (line["wavelength"], cands[["wavelength", "depth"]])
        assert near["attributed_label"].iloc[0] == (line["label"] or "none")
        assert not near["in_linelist"].iloc[0]


def test_sensitivity_methods_scale_by_spread():
    agg = {"correction_label_slope": np.ones((2, 3)), "response_difference": np.ones((2, 3)),
           "label_spread": np.array([100.0, 0.1])}
    np.testing.assert_allclose(sensitivity_from_arrays(agg, "response")[:, 0], [100.0, 0.1])
    np.testing.assert_allclose(sensitivity_from_arrays(agg, "regression"), 1.0)
    with pytest.raises(ValueError):
        sensitivity_from_arrays(agg, "astrology")
