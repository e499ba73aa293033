"""gapviz.adapt.theory_fit: the theory alone as a label fitter, saved beside a store for gapviz find."""

import numpy as np
import pytest
import torch

from gapviz.adapt.theory_fit import TheoryFit
from gapviz.errors import GapvizError

from .adapt_helpers import toy_emulator


@pytest.fixture
def fitter():
    return TheoryFit(toy_emulator(n_pix=64, n_label=3, seed=3), sigma_floor=1e-3, sigma_max=1.0)


def _stars(fitter, n=6, seed=0):
    rng = np.random.default_rng(seed)
    labels = rng.uniform(0.2, 0.8, size=(n, 3))
    return labels, fitter.theory(labels).astype(np.float64)


def test_theory_is_the_emulator_in_chunks(fitter):
    labels, flux = _stars(fitter, n=300)
    with torch.no_grad():
        direct = fitter.emulator(torch.as_tensor(labels, dtype=torch.float32)).numpy()
    np.testing.assert_array_equal(flux, direct)
    assert flux.shape == (300, 64) and fitter.label_names == ["l0", "l1", "l2"]
    with pytest.raises(GapvizError, match=r"expected \(n, 3\)"):
        fitter.theory(np.zeros((2, 4)))


def test_fit_recovers_the_labels_and_ignores_pixels_without_an_error(fitter):
    labels, flux = _stars(fitter)
    err = np.full_like(flux, 1e-3)
    # garbage at pixels whose error says "unusable" must not move the fit
    flux[:, 10:20] = 5.0
    err[:, 10:20] = np.nan
    fit = fitter.fit_labels(flux, err)
    np.testing.assert_allclose(fit.labels, labels, atol=0.02)
    assert fit.label_names == ["l0", "l1", "l2"] and fit.labels_err.shape == labels.shape
    with pytest.raises(GapvizError, match="flux has 32 pixels, expected 64"):
        fitter.fit_labels(flux[:, :32], err[:, :32])


def test_save_and_load_round_trip(fitter, tmp_path):
    path = fitter.save(tmp_path / "theory.pt")
    back = TheoryFit.load(path)
    assert (back.sigma_floor, back.sigma_max) == (1e-3, 1.0)
    labels, flux = _stars(fitter)
    np.testing.assert_array_equal(back.theory(labels), flux)
    with pytest.raises(GapvizError, match="already exists"):
        fitter.save(path, overwrite=False)


def test_a_file_that_is_not_a_theory_is_refused(tmp_path):
    torch.save({"format": "something-else"}, tmp_path / "other.pt")
    with pytest.raises(GapvizError, match="other.pt: not a gapviz theory file"):
        TheoryFit.load(tmp_path / "other.pt")
    with pytest.raises(GapvizError, match="missing.pt: no theory file here"):
        TheoryFit.load(tmp_path / "missing.pt")


def test_line_model_theory_stands_in_for_the_emulator_and_fits_its_own_spectra():
    """``--theory linemodel``: LineModel with the theory's list in the emulator's place (its labels and box), so
    stars made by that LineModel are fitted back without an emulator's error."""
    import pandas as pd

    from gapviz.theory.emulator import Emulator
    from gapviz.theory.linemodel import LineModel

    names = ["teff", "logg", "fe_h", "mg_fe"]
    wl = np.linspace(15740.0, 15770.0, 300)
    lines = pd.DataFrame({"wavelength": [15745.0, 15749.0, 15753.0, 15757.0, 15761.0, 15765.0],
                          "species": ["Fe I", "Fe I", "Mg I", "Fe II", "Fe I", "Mg I"],
                          "loggf": [-1.0, -0.6, -0.8, -1.5, -2.5, -1.6], "elow_ev": [5.0, 3.2, 5.1, 3.9, 1.0, 5.9]})
    lines = lines.assign(wavelength_air=lines["wavelength"], elements=lines["species"].str.split().str[0], ion=0,
                         d0_ev=np.nan, is_molecule=False, isotopes="")
    untrained = Emulator(names, np.array([4000.0, 1.0, -1.0, -0.5]), np.array([5200.0, 3.5, 0.5, 0.5]), wl)
    fitter = TheoryFit(untrained, 1e-3, 1.0).with_line_model(lines, wl, 22500.0, None)
    assert fitter.label_names == names and fitter.device.type == "cpu"
    rng = np.random.default_rng(2)
    truth = np.column_stack([rng.uniform(4300, 4900, 8), rng.uniform(1.8, 3.0, 8), rng.uniform(-0.4, 0.2, 8),
                             rng.uniform(-0.3, 0.3, 8)])
    with torch.no_grad():
        flux = LineModel(lines, wl, label_names=names)(torch.as_tensor(truth, dtype=torch.float32)).numpy()
    np.testing.assert_allclose(fitter.theory(truth), flux, atol=1e-6)
    noisy = flux.astype(np.float64) + rng.normal(0.0, 1e-3, flux.shape)
    got = fitter.fit_labels(noisy, np.full(flux.shape, 1e-3)).labels
    assert np.median(np.abs(got[:, 0] - truth[:, 0])) < 30.0  # teff, K
    assert np.median(np.abs(got[:, 3] - truth[:, 3])) < 0.03  # [Mg/Fe]
    with pytest.raises(GapvizError, match="pixels, the emulator has"):
        TheoryFit(untrained, 1e-3, 1.0).with_line_model(lines, wl[:-1], 22500.0, None)
