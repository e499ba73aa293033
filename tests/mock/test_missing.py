import numpy as np

from gapviz.labels import DEFAULT_LABELS
from gapviz.mock.missing import (
    blend_ratio,
    element_to_label,
    line_element,
    loggf_perturbations,
    stratified_choice,
)


def test_stratified_choice_takes_same_fraction_per_species():
    species = np.array(["CO"] * 1000 + ["CN"] * 100 + ["Fe I"] * 10)
    eligible = np.ones(species.size, bool)
    eligible[:500] = False  # half the CO lines are weak
    pick = stratified_choice(species, eligible, 0.3, np.random.default_rng(0))
    assert not pick[~eligible].any()
    assert pick[species == "CO"].sum() == 150
    assert pick[species == "CN"].sum() == 30
    assert pick[species == "Fe I"].sum() == 3
    assert not stratified_choice(species, eligible, 0.0, np.random.default_rng(0)).any()
    assert np.array_equal(stratified_choice(species, eligible, 1.0, np.random.default_rng(0)), eligible)


def test_stochastic_rounding_reaches_single_line_species():
    species = np.array(["Ti I"])
    hits = sum(stratified_choice(species, np.ones(1, bool), 0.3, np.random.default_rng(s))[0] for s in range(400))
    assert 80 < hits < 160  # ~ 0.3 x 400


def test_molecule_and_atom_labels():
    assert line_element("CN", "C,N") == "N"
    assert line_element("CO", "C,O") == "C"
    assert line_element("OH", "O,H") == "O"
    assert line_element("H2O", "H,O") == "O"
    assert line_element("FeH", "Fe,H") == "Fe"
    assert line_element("C2", "C") == "C"
    assert line_element("Mg I", "Mg") == "Mg"
    assert element_to_label("N", DEFAULT_LABELS) == "n_fe"
    assert element_to_label("Fe", DEFAULT_LABELS) == "fe_h"
    assert element_to_label("Al", DEFAULT_LABELS) == "fe_h"  # no al_fe label: Al follows [Fe/H]
    assert element_to_label("Al", DEFAULT_LABELS + ("al_fe",)) == "al_fe"
    assert element_to_label("H", DEFAULT_LABELS) == ""


def test_blend_ratio_compares_deepest_kept_line_within_resolution_element():
    wl = np.array([15000.0, 15000.5, 15002.0, 15010.0, 15010.3, 15020.0])
    depth = np.array([0.10, 0.06, 0.5, 0.10, 0.04, 0.2])
    kept = np.array([False, True, True, False, True, True])
    out = blend_ratio(wl, depth, kept, np.array([0, 3]), resolution=20000.0)  # λ/R = 0.75 Å
    np.testing.assert_allclose(out, [0.6, 0.4])  # 15002 and 15020 are too far
    per_star = np.stack([depth, depth * 0 + 0.01])  # second target judged where everything is 0.01 deep
    np.testing.assert_allclose(blend_ratio(wl, per_star, kept, np.array([0, 3]), 20000.0), [0.6, 1.0])


def test_loggf_perturbation_off_by_default_scatter():
    species = np.array(["CO"] * 100)
    eligible = np.ones(100, bool)
    assert not loggf_perturbations(eligible, 0.1, 0.0, np.random.default_rng(0), species).any()
    d = loggf_perturbations(eligible, 0.1, 0.2, np.random.default_rng(0), species)
    assert (d != 0).sum() == 10
