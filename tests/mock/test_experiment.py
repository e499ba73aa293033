"""run_mock end to end on a tiny window with the LineModel stand-in (fast; the real model is in test_gap.py)."""

import h5py
import numpy as np
import pytest

from gapviz.errors import GapvizError
from gapviz.io.grids import sample_wavelength
from gapviz.io.linelist import read_linelist
from gapviz.io.spectra import read_spectra
from gapviz.mock.experiment import OUTPUT_FILES, MockConfig, run_mock
from gapviz.mock.truth import read_truth


def _run(tmp_path, name, fake_model, tiny_lines, **kw):
    cfg = MockConfig(out_dir=tmp_path / name, n_synthetic=kw.pop("n_synthetic", 12),
                     n_observed=kw.pop("n_observed", 15), wavelength=sample_wavelength()[:128], **kw)
    return run_mock(cfg, model_factory=fake_model, linelist=tiny_lines)


def _datasets(path):
    out = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, obj: out.__setitem__(name, obj[()]) if isinstance(obj, h5py.Dataset) else None)
        out["attrs"] = {k: str(v) for k, v in f.attrs.items() if k != "command"}
    return out


def _same(a, b):
    assert a.keys() == b.keys()
    for k in a:
        if k == "attrs":
            assert a[k] == b[k]
        else:
            np.testing.assert_array_equal(a[k], b[k], err_msg=k)


def test_same_seed_same_data_other_seed_differs(tmp_path, fake_model, tiny_lines):
    _run(tmp_path, "a", fake_model, tiny_lines, seed=7)
    _run(tmp_path, "b", fake_model, tiny_lines, seed=7)
    _run(tmp_path, "c", fake_model, tiny_lines, seed=8)
    for name in ("synthetic.h5", "observed.h5", "truth.h5"):
        _same(_datasets(tmp_path / "a" / name), _datasets(tmp_path / "b" / name))
    for name in ("linelist.csv", "reference_linelist.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    a, c = _datasets(tmp_path / "a" / "observed.h5"), _datasets(tmp_path / "c" / "observed.h5")
    assert not np.allclose(a["flux"], c["flux"])
    sa, sc = _datasets(tmp_path / "a" / "synthetic.h5"), _datasets(tmp_path / "c" / "synthetic.h5")
    assert not np.allclose(sa["labels/teff"], sc["labels/teff"])


def test_files_follow_contract(tmp_path, fake_model, tiny_lines):
    result = _run(tmp_path, "x", fake_model, tiny_lines, seed=1, missing_fraction=0.5)
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


def test_removed_lines_absent_from_theory_list_and_in_reference(tmp_path, fake_model, tiny_lines):
    _run(tmp_path, "x", fake_model, tiny_lines, seed=2, missing_fraction=0.5)
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


def test_loggf_perturbations_recorded(tmp_path, fake_model, tiny_lines):
    _run(tmp_path, "x", fake_model, tiny_lines, seed=3, loggf_scatter=0.3, perturb_fraction=0.5)
    out = tmp_path / "x"
    pert = read_truth(out / "truth.h5").perturbed
    assert len(pert) > 0 and (pert["delta_loggf"] != 0).all()
    theory, reference = read_linelist(out / "linelist.csv"), read_linelist(out / "reference_linelist.csv")
    row = pert.iloc[0]
    t = theory.loc[(np.abs(theory.wavelength - row.wavelength) < 2e-4) & (theory.species == row.species)]
    r = reference.loc[(np.abs(reference.wavelength - row.wavelength) < 2e-4) & (reference.species == row.species)]
    assert len(t) == len(r) == 1
    assert np.isclose(t.loggf.iloc[0] - r.loggf.iloc[0], row.delta_loggf, atol=2e-4)


def test_refuses_existing_out_dir(tmp_path, fake_model, tiny_lines):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "keep.txt").write_text("mine")
    with pytest.raises(GapvizError, match="--overwrite"):
        _run(tmp_path, "x", fake_model, tiny_lines)
    _run(tmp_path, "x", fake_model, tiny_lines, overwrite=True)
    assert (tmp_path / "x" / "keep.txt").read_text() == "mine"


def test_observed_is_full_model_at_observed_resolution_when_other_effects_off(tmp_path, fake_model, tiny_lines):
    from gapviz.mock.effects import ObservingEffects

    effects = ObservingEffects(continuum=False, noise=False, bad_pixels=False, resolution_observed=15000.0)
    _run(tmp_path, "x", fake_model, tiny_lines, seed=4, effects=effects)
    out = tmp_path / "x"
    obs, truth = read_spectra(out / "observed.h5"), read_truth(out / "truth.h5")
    labels = np.stack([truth.labels[n] for n in MockConfig.label_names], axis=1)
    reference = read_linelist(out / "reference_linelist.csv")
    at_obs = fake_model(reference, obs.wavelength, 15000.0, MockConfig.label_names).spectra(labels)
    at_theory = fake_model(reference, obs.wavelength, 22500.0, MockConfig.label_names).spectra(labels)
    np.testing.assert_allclose(obs.flux, at_obs, atol=2e-4)
    assert np.abs(obs.flux - at_theory).max() > 0.01  # the LSF differs from the theory's
    assert truth.attrs["resolution_observed"] == 15000.0


def test_synthetic_is_noiseless_theory_at_its_labels(tmp_path, fake_model, tiny_lines):
    _run(tmp_path, "x", fake_model, tiny_lines, seed=5)
    out = tmp_path / "x"
    syn = read_spectra(out / "synthetic.h5")
    theory = fake_model(read_linelist(out / "linelist.csv"), syn.wavelength, 22500.0, MockConfig.label_names)
    np.testing.assert_allclose(syn.flux, theory.spectra(syn.label_array(MockConfig.label_names)), atol=2e-4)


def test_max_depth_one_removes_from_every_strong_line(tmp_path, fake_model, tiny_lines):
    result = _run(tmp_path, "x", fake_model, tiny_lines, seed=6, missing_fraction=1.0, max_depth=1.0)
    truth = read_truth(tmp_path / "x" / "truth.h5")
    assert len(result.removed) == truth.attrs["n_strong_lines"] == truth.attrs["n_eligible_lines"]
    assert (result.removed["depth_max"] > 0.25).any()
