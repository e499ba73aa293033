"""`gapviz mock --physics sme` on a tiny window: SME makes theory and stars, the truth's depths come from SME."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pysme")

from gapviz.io.grids import aspcap_wavelength  # noqa: E402
from gapviz.io.linelist import read_linelist  # noqa: E402
from gapviz.io.spectra import read_spectra  # noqa: E402
from gapviz.mock.experiment import MockConfig, run_mock  # noqa: E402
from gapviz.mock.sme_physics import TRUE_GAMVW, in_atmosphere_grid  # noqa: E402
from gapviz.mock.truth import read_truth  # noqa: E402


@pytest.fixture(scope="module")
def sme_mock(tmp_path_factory):
    out = tmp_path_factory.mktemp("sme") / "mock"
    wl = aspcap_wavelength()
    cfg = MockConfig(out_dir=out, n_synthetic=6, n_observed=6, physics="sme", damping_fraction=1.0,
                     wavelength=wl[(wl > 15735.0) & (wl < 15775.0)], missing_fraction=0.5, seed=3, progress=False)
    return run_mock(cfg), out


def test_sme_mock_writes_the_mock_files(sme_mock):
    result, out = sme_mock
    for name in ("synthetic.h5", "observed.h5", "linelist.csv", "reference_linelist.csv", "truth.h5"):
        assert (out / name).is_file()
    syn, obs, truth = read_spectra(out / "synthetic.h5"), read_spectra(out / "observed.h5"), read_truth(out / "truth.h5")
    assert truth.attrs["physics"] == "sme"
    names = list(syn.labels)
    assert in_atmosphere_grid(syn.label_array(names), names).all()  # no star in a MARCS hole
    assert np.isfinite(syn.flux).all() and syn.flux.max() <= 1.0 + 1e-5
    assert obs.flux_err is not None and np.isfinite(truth.chi2nu_theory_true).all()
    # the theory lacks lines, so the stars sit below it there: a real gap, χ²ν at the true labels > 1
    assert np.median(truth.chi2nu_theory_true) > 1.0
    assert len(read_linelist(out / "reference_linelist.csv")) - len(read_linelist(out / "linelist.csv")) == len(
        result.removed)


def test_truth_depths_are_measured_in_sme(sme_mock):
    result, out = sme_mock
    removed = read_truth(out / "truth.h5").removed
    assert len(removed) > 0
    assert ((removed["depth_ref"] >= -1e-3) & (removed["depth_ref"] < 1)).all()
    assert ((removed["depth_max"] >= -1e-3) & (removed["depth_max"] < 1)).all()
    assert (removed["depth_max"] > 0.01).any()


def test_damping_errors_are_recorded(sme_mock):
    perturbed = read_truth(sme_mock[1] / "truth.h5").perturbed
    damped = perturbed.dropna(subset=["gamvw_true"]) if "gamvw_true" in perturbed else perturbed.iloc[:0]
    assert len(damped) >= 1 and (damped["gamvw_true"] == TRUE_GAMVW).all()
