"""The mock gap with the real LineModel and the shipped line lists, on one 256-pixel window."""

import numpy as np
import pytest

from gapviz.io.grids import sample_wavelength
from gapviz.io.linelist import read_linelist
from gapviz.io.spectra import read_spectra
from gapviz.mock.effects import ObservingEffects
from gapviz.mock.experiment import MockConfig, default_linelist_paths, run_mock
from gapviz.mock.truth import read_truth
from gapviz.theory.linemodel import LineModel

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
    line, at_line, far = _dip(wavelength, resid, truth)
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
