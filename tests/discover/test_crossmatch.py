"""Cross-matching candidates with the theory's and a reference line list."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gapviz.discover.crossmatch import POSITION_TOLERANCE, crossmatch, lines_in_range
from gapviz.errors import GapvizError


def _list(wl, species, loggf=None):
    return pd.DataFrame({"wavelength": np.asarray(wl, float), "species": species,
                         "loggf": loggf if loggf is not None else [-1.0] * len(wl), "elow_ev": 3.0})


CANDS = pd.DataFrame({"wavelength": [15750.00, 15800.00, 15900.00], "depth": [0.05, 0.04, 0.03]})


def test_known_strong_line_is_in_linelist_weak_or_far_is_not():
    theory = _list([15750.2, 15800.1, 15905.0], ["Mg I", "Fe I", "Si I"])
    depth = np.array([0.30, 0.005, 0.5])  # strong; too weak to explain 0.04; strong but 5 Å away
    out = crossmatch(CANDS, theory, depth, resolution=22500.0)
    assert out["in_linelist"].tolist() == [True, False, False]
    assert out["nearest_species"].tolist() == ["Mg I", "Fe I", "Si I"]
    np.testing.assert_allclose(out["nearest_wavelength"], [15750.2, 15800.1, 15905.0])


def test_line_just_outside_the_position_tolerance_does_not_count():
    fwhm = 15750.0 / 22500.0
    for tol in (POSITION_TOLERANCE, 1.0):
        theory = _list([15750.0 + 1.05 * tol * fwhm], ["Fe I"])
        assert not crossmatch(CANDS.iloc[:1], theory, np.array([0.5]), position_tolerance=tol)["in_linelist"].iloc[0]
        theory = _list([15750.0 + 0.95 * tol * fwhm], ["Fe I"])
        assert crossmatch(CANDS.iloc[:1], theory, np.array([0.5]), position_tolerance=tol)["in_linelist"].iloc[0]


def test_known_line_is_in_linelist_and_offset_missing_line_is_not():
    """A strength problem is centred on its known line; a missing line half an element away is absent
    (the old one-element window called it known), even with a strong known line that close."""
    fwhm = 15750.0 / 22500.0
    theory = _list([15750.0, 15800.0 + 0.5 * fwhm], ["Fe I", "CN"])
    out = crossmatch(CANDS.iloc[:2], theory, np.array([0.2, 0.2]))
    assert out["in_linelist"].tolist() == [True, False]
    assert out["linelist_depth"].tolist() == [0.2, 0.0]
    assert crossmatch(CANDS.iloc[:2], theory, np.array([0.2, 0.2]), position_tolerance=1.0)["in_linelist"].all()


def test_identification_is_the_strongest_reference_line_in_the_element():
    theory = _list([15700.0], ["Fe I"])
    ref = _list([15749.9, 15750.1, 15760.0], ["CN", "Mg I", "OH"], loggf=[-3.0, -1.0, 0.0])
    out = crossmatch(CANDS, theory, np.array([0.2]), reference=ref)
    assert out["identification"].tolist() == ["Mg I 15750.10", "", ""]
    out = crossmatch(CANDS, theory, np.array([0.2]), reference=ref, reference_depth=np.array([0.3, 0.1, 0.0]))
    assert out["identification"].iloc[0] == "CN 15749.90"


def test_line_list_with_no_lines_in_range_is_a_clear_error():
    wl = np.linspace(15200, 15250, 100)
    with pytest.raises(GapvizError, match=r"theory\.csv: no lines in the spectra's range 15200\.00-15250\.00"):
        lines_in_range(_list([5000.0, 5001.0], ["Fe I", "Fe I"]), wl, "theory.csv")
    assert len(lines_in_range(_list([15210.0, 16000.0], ["Fe I", "Fe I"]), wl, "x")) == 1


def test_identification_prefers_the_attributed_species_and_lines_the_theory_lacks():
    from gapviz.discover.crossmatch import identify

    theory = _list([15800.10], ["CN"])
    reference = _list([15800.10, 15800.20, 15799.90, 15800.30], ["CN", "CO", "CO", "Fe I"])
    depth = np.array([0.20, 0.02, 0.03, 0.10])
    cands = pd.DataFrame({"wavelength": [15800.0], "depth": [0.04], "in_linelist": [False]})
    assert identify(cands, theory, reference, depth)["identification"].iloc[0] == "Fe I 15800.30"  # strongest lacking
    cands["attributed_species"] = ["CO"]
    assert identify(cands, theory, reference, depth)["identification"].iloc[0] == "CO 15799.90"
    cands["in_linelist"] = [True]  # a strength problem: the theory's own CN line may be the one
    cands["attributed_species"] = ["CN"]
    assert identify(cands, theory, reference, depth)["identification"].iloc[0] == "CN 15800.10"
    assert identify(cands, theory, None, None)["identification"].iloc[0] == ""
