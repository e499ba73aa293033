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
