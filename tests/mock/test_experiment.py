"""run_mock: on a tiny window with the LineModel stand-in (fast), then with the real LineModel and the shipped
line lists on one 256-pixel window (the gap it makes)."""

import numpy as np
import pytest

from gapviz.errors import GapvizError
from gapviz.io.grids import sample_wavelength
from gapviz.io.linelist import read_linelist
from gapviz.io.spectra import read_spectra
from gapviz.mock.compare import mock_differences
from gapviz.mock.effects import ObservingEffects
from gapviz.mock.experiment import (
    OUTPUT_FILES,
    MockConfig,
    default_linelist_paths,
    run_mock,
)
from gapviz.mock.truth import read_truth
from gapviz.theory.linemodel import LineModel


def test_same_seed_same_data_other_seed_differs(tmp_path, tiny_mock, tiny_mock_dir):
    tiny_mock(tmp_path / "b", seed=7)  # tiny_mock_dir is seed 7 too
    tiny_mock(tmp_path / "c", seed=8)
    assert mock_differences(tiny_mock_dir, tmp_path / "b") == []
    other = mock_differences(tiny_mock_dir, tmp_path / "c")
    assert any(p.startswith("observed.h5:/flux:") for p in other)
    assert any(p.startswith("synthetic.h5:/labels/teff:") for p in other)


def test_files_follow_contract(tmp_path, tiny_mock):
    result = tiny_mock(tmp_path / "x", seed=1, missing_fraction=0.5)
    out = tmp_path / "x"
    assert sorted(p.name for p in out.iterdir()) == sorted(OUTPUT_FILES)
    syn, obs = read_spectra(out / "synthetic.h5"), read_spectra(out / "observed.h5")
    assert syn.domain == "synthetic" and obs.domain == "observed"
    assert syn.flux_err is None and syn.n_star == 12
    assert set(syn.labels) == set(MockConfig.label_names) and syn.label_names[:3] == ["teff", "logg", "fe_h"]
    assert obs.labels == {} and obs.flux_err is not None and obs.n_star == 15
    assert obs.star_id[0] == "mock-000000" and obs.star_id[-1] == "mock-000014"
    assert np.isinf(obs.flux_err).any(axis=1).all()  # a few bad pixels per star
    truth = read_truth(out / "truth.h5")
    assert truth.star_id.tolist() == obs.star_id.tolist()
    assert set(truth.labels) == set(syn.labels) and truth.labels["teff"].shape == (15,)
    assert truth.attrs["seed"] == 1 and truth.attrs["resolution"] == 22500.0
    assert truth.attrs["resolution_observed"] == 20000.0 and "gapviz mock" in truth.attrs["command"]
    assert len(truth.removed) == len(result.removed) > 0
    assert set(truth.removed.columns) >= {"wavelength", "species", "element", "label", "loggf", "depth_ref", "blended"}
    assert (truth.removed["depth_max"] > 0.02).all() and (truth.removed["depth_max"] <= 0.25).all()
    assert np.all(np.isfinite(truth.chi2nu_theory_true))


def test_removed_lines_absent_from_theory_list_and_in_reference(tmp_path, tiny_mock):
    tiny_mock(tmp_path / "x", seed=2, missing_fraction=0.5)
    out = tmp_path / "x"
    theory, reference = read_linelist(out / "linelist.csv"), read_linelist(out / "reference_linelist.csv")
    removed = read_truth(out / "truth.h5").removed

    def found(line, table):  # the CSVs keep 4 decimals
        same = (np.abs(table.wavelength - line.wavelength) < 2e-4) & (table.species == line.species)
        return bool((same & (np.abs(table.loggf - line.loggf) < 2e-4)).any())

    assert len(theory) + len(removed) == len(reference)
    assert all(found(line, reference) for line in removed.itertuples())
    assert not any(found(line, theory) for line in removed.itertuples())
    # stratified: every species with strong lines loses about half of them
    assert set(removed["species"]) >= {"CN", "CO", "OH"}
    assert (removed.loc[removed.species == "CN", "label"] == "n_fe").all()


def test_loggf_perturbations_recorded(tmp_path, tiny_mock):
    tiny_mock(tmp_path / "x", seed=3, loggf_scatter=0.3, perturb_fraction=0.5)
    out = tmp_path / "x"
    pert = read_truth(out / "truth.h5").perturbed
    assert len(pert) > 0 and (pert["delta_loggf"] != 0).all()
    theory, reference = read_linelist(out / "linelist.csv"), read_linelist(out / "reference_linelist.csv")
    row = pert.iloc[0]
    t = theory.loc[(np.abs(theory.wavelength - row.wavelength) < 2e-4) & (theory.species == row.species)]
    r = reference.loc[(np.abs(reference.wavelength - row.wavelength) < 2e-4) & (reference.species == row.species)]
    assert len(t) == len(r) == 1
    assert np.isclose(t.loggf.iloc[0] - r.loggf.iloc[0], row.delta_loggf, atol=2e-4)


def test_refuses_existing_out_dir(tmp_path, tiny_mock):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "keep.txt").write_text("mine")
    with pytest.raises(GapvizError, match="--overwrite"):
        tiny_mock(tmp_path / "x")
    tiny_mock(tmp_path / "x", overwrite=True)
    assert (tmp_path / "x" / "keep.txt").read_text() == "mine"


def test_observed_is_full_model_at_observed_resolution_when_other_effects_off(tmp_path, tiny_mock, fake_model):
    effects = ObservingEffects(continuum=False, noise=False, bad_pixels=False, resolution_observed=15000.0)
    tiny_mock(tmp_path / "x", seed=4, effects=effects)
    out = tmp_path / "x"
    obs, truth = read_spectra(out / "observed.h5"), read_truth(out / "truth.h5")
    labels = np.stack([truth.labels[n] for n in MockConfig.label_names], axis=1)
    reference = read_linelist(out / "reference_linelist.csv")
    at_obs = fake_model(reference, obs.wavelength, 15000.0, MockConfig.label_names).spectra(labels)
    at_theory = fake_model(reference, obs.wavelength, 22500.0, MockConfig.label_names).spectra(labels)
    np.testing.assert_allclose(obs.flux, at_obs, atol=2e-4)
    assert np.abs(obs.flux - at_theory).max() > 0.01  # the LSF differs from the theory's
    assert truth.attrs["resolution_observed"] == 15000.0


def test_synthetic_is_noiseless_theory_at_its_labels(tmp_path, tiny_mock, fake_model):
    tiny_mock(tmp_path / "x", seed=5)
    out = tmp_path / "x"
    syn = read_spectra(out / "synthetic.h5")
    theory = fake_model(read_linelist(out / "linelist.csv"), syn.wavelength, 22500.0, MockConfig.label_names)
    np.testing.assert_allclose(syn.flux, theory.spectra(syn.label_array(MockConfig.label_names)), atol=2e-4)


def test_max_depth_one_removes_from_every_strong_line(tmp_path, tiny_mock):
    result = tiny_mock(tmp_path / "x", seed=6, missing_fraction=1.0, max_depth=1.0)
    truth = read_truth(tmp_path / "x" / "truth.h5")
    assert len(result.removed) == truth.attrs["n_strong_lines"] == truth.attrs["n_eligible_lines"]
    assert (result.removed["depth_max"] > 0.25).any()


# The real LineModel and the shipped line lists on one window: the gap run_mock makes.

WINDOW = slice(0, 256)  # 15200-15254 Å: CN, OH, Mn I, Fe I


def _experiment(out, **kw):
    kw.setdefault("missing_fraction", 0.5)
    cfg = MockConfig(out_dir=out, n_synthetic=20, seed=11, wavelength=sample_wavelength()[WINDOW], **kw)
    return out, run_mock(cfg)


@pytest.fixture(scope="module")
def experiment(tmp_path_factory):
    return _experiment(tmp_path_factory.mktemp("gap") / "exp", n_observed=80)


def _mean_residual(out):
    """Mean over stars of observed minus the theory at the stars' true labels, (npix,), and the truth."""
    obs = read_spectra(out / "observed.h5")
    truth = read_truth(out / "truth.h5")
    theory = LineModel(read_linelist(out / "linelist.csv"), obs.wavelength, resolution=22500.0,
                       label_names=list(truth.labels))
    model = theory.spectra(np.stack(list(truth.labels.values()), axis=1))
    ok = obs.usable()
    return obs.wavelength, np.where(ok, obs.flux - model, 0.0).sum(axis=0) / ok.sum(axis=0), truth


def _dip(wavelength, resid, truth):
    line = truth.removed.sort_values("depth_ref", ascending=False).iloc[0]  # deepest in the reference giant
    far = np.ones(wavelength.size, bool)
    for w in truth.removed.wavelength:
        far &= np.abs(wavelength - w) > 1.0
    return line, resid[np.abs(wavelength - line.wavelength) < 0.25].min(), far


def test_shipped_line_lists_exist():
    names = {p.name.split(".")[0] for p in default_linelist_paths()}
    assert len(names) >= 7  # atoms + CN, CO, OH (with HF, HCl), FeH, H2O, C2


def test_removed_lines_leave_dips_in_observed_minus_theory(experiment):
    wavelength, resid, truth = _mean_residual(experiment[0])
    line, at_line, _ = _dip(wavelength, resid, truth)
    assert line.depth_ref > 0.03
    assert at_line < -0.5 * line.depth_ref  # through LSF, continuum error and noise


def test_missing_lines_are_the_only_gap_when_effects_are_off(tmp_path):
    out, _ = _experiment(tmp_path / "exp", n_observed=10,
                         effects=ObservingEffects(lsf=False, continuum=False, noise=False, bad_pixels=False))
    wavelength, resid, truth = _mean_residual(out)
    line, at_line, far = _dip(wavelength, resid, truth)
    assert far.sum() > 20
    assert np.abs(resid[far]).max() < 2e-3  # nothing but the removed lines (and their far wings)
    assert at_line < -0.5 * line.depth_ref


def test_gap_is_clearly_larger_than_noise(experiment):
    out, result = experiment
    chi2 = read_truth(out / "truth.h5").chi2nu_theory_true
    assert np.median(chi2) > 1.2
    assert np.allclose(chi2, result.chi2nu_theory_true)


def test_missing_fraction_zero_keeps_every_line(tmp_path):
    _, result = _experiment(tmp_path / "x", n_observed=5, missing_fraction=0.0)
    assert len(result.removed) == 0
    assert (tmp_path / "x" / "linelist.csv").read_bytes() == (tmp_path / "x" / "reference_linelist.csv").read_bytes()
