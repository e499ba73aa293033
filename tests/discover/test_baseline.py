"""The no-learning baseline: median(observed) - median(synthetic)."""

from __future__ import annotations

import numpy as np

from gapviz.discover.baseline import baseline_candidates, median_spectrum
from gapviz.io.grids import sample_wavelength
from gapviz.io.spectra import write_spectra
from gapviz.testing.toy import ToyLine, standard_toy, toy_observed, toy_population, toy_synthetic

WL = sample_wavelength()


def test_baseline_flags_absent_lines_by_the_synthetic_median(tmp_path):
    model, theory, _, removed = standard_toy(WL)
    # one theory line 0.06 deeper in the stars than in the theory: present in the synthetic median
    model.extra.append(ToyLine(model.lines[1].wavelength, 0.06, (0.0, 0.0, 0.0, 0.0)))
    write_spectra(toy_observed(model, toy_population(400, 1), seed=2), tmp_path / "o.h5")
    write_spectra(toy_synthetic(model, toy_population(400, 3)), tmp_path / "s.h5")
    med = median_spectrum(tmp_path / "o.h5", max_stars=100)
    assert med.n_star == 100 and med.median.shape == WL.shape and np.all(med.sem[np.isfinite(med.sem)] > 0)
    _, _, found = baseline_candidates(tmp_path / "o.h5", tmp_path / "s.h5", theory)
    for w in removed["wavelength"]:
        row = found.iloc[np.argmin(np.abs(found["wavelength"] - w))]
        assert abs(row["wavelength"] - w) < 0.1 and not row["in_linelist"]
    strength = found.iloc[np.argmin(np.abs(found["wavelength"] - model.lines[1].wavelength))]
    assert abs(strength["wavelength"] - model.lines[1].wavelength) < 0.1 and strength["in_linelist"]
    assert set(found["attributed_label"]) == {"none"}
