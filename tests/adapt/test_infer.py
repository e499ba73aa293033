"""gapviz.adapt.infer: label inference through a differentiable forward model: recovery, honest errors, bounds, masks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gapviz.adapt.infer import LabelFit, fit_labels
from gapviz.errors import GapvizError
from gapviz.theory.emulator import Emulator

LO = np.array([4000.0, 1.0, -1.0, -0.3])
HI = np.array([6000.0, 4.0, 0.5, 0.4])


class Lines(torch.nn.Module):
    """Known forward model: 8 Gaussian lines; log depth linear in the scaled labels (teff, logg, fe_h, mg_fe)."""

    def __init__(self, n_pix: int = 160):
        super().__init__()
        rng = np.random.default_rng(11)
        self.wavelength = torch.linspace(15200.0, 15240.0, n_pix, dtype=torch.float64)
        self.centre = torch.linspace(15203.0, 15237.0, 8, dtype=torch.float64)
        coef = rng.uniform(-1.0, 1.0, (8, 4))
        coef[:, 2] = 1.0 + 0.3 * rng.random(8)  # every line follows metallicity
        coef[::2, 3] = 0.0
        coef[1::2, 3] = 1.5  # odd lines are Mg lines
        self.coef = torch.as_tensor(coef)
        self.lo, self.hi = torch.as_tensor(LO), torch.as_tensor(HI)

    def forward(self, labels: torch.Tensor) -> torch.Tensor:
        z = (labels.double() - self.lo) / (self.hi - self.lo) - 0.5
        depth = 0.5 * torch.exp(z @ self.coef.T)  # (n, 8)
        prof = torch.exp(-0.5 * ((self.wavelength[:, None] - self.centre) / 0.8) ** 2)  # (npix, 8)
        return torch.exp(-depth @ prof.T).float()


def noisy_stars(model, n: int, seed: int, box_margin: float = 0.05):
    rng = np.random.default_rng(seed)
    pad = box_margin * (HI - LO)
    truth = rng.uniform(LO + pad, HI - pad, (n, 4))
    with torch.no_grad():
        clean = model(torch.as_tensor(truth)).numpy().astype(np.float64)
    sigma = rng.uniform(0.005, 0.02, (n, 1)) * np.ones_like(clean)
    return truth, clean + sigma * rng.standard_normal(clean.shape), sigma


def test_recovers_labels_with_honest_errors():
    model = Lines()
    truth, flux, sigma = noisy_stars(model, 500, seed=1)
    fit = fit_labels(model, flux, sigma, LO, HI, device="cpu")
    assert isinstance(fit, LabelFit) and fit.labels.shape == fit.labels_err.shape == (500, 4)
    pull = (fit.labels - truth) / fit.labels_err
    assert np.all(np.mean(np.abs(pull) < 3, axis=0) >= 0.95)
    # the quoted σ matches the actual scatter of the estimates within 30 % for every label
    ratio = np.std(fit.labels - truth, axis=0) / np.sqrt(np.mean(fit.labels_err**2, axis=0))
    assert np.all((ratio > 0.7) & (ratio < 1.3)), ratio
    assert fit.converged.mean() > 0.95
    assert np.all(fit.n_pix == 160)
    assert abs(np.median(fit.chi2nu) - 1.0) < 0.1  # right model, right noise: χ²ν ≈ 1
    np.testing.assert_allclose(fit.chi2nu, fit.chi2 / (160 - 4))


def test_labels_stay_in_the_box_and_edges_are_flagged():
    model = Lines()
    beyond = np.array([[6500.0, 2.5, -0.2, 0.1], [5000.0, 2.5, -1.4, 0.1]])  # teff, fe_h beyond the box
    with torch.no_grad():
        flux = model(torch.as_tensor(beyond)).numpy()
    fit = fit_labels(model, flux, np.full_like(flux, 0.01), LO, HI, device="cpu")
    assert np.all((fit.labels >= LO) & (fit.labels <= HI))
    np.testing.assert_allclose(fit.labels[[0, 1], [0, 2]], [HI[0], LO[2]])
    assert fit.at_bound[0, 0] and fit.at_bound[1, 2] and not fit.at_bound[0, 1]


def test_masked_pixels_and_error_floor():
    model = Lines()
    truth, flux, sigma = noisy_stars(model, 40, seed=2)
    sigma[:, :30] = np.nan  # unusable: non-finite error
    sigma[:, 30:40] = 0.0  # unusable: zero error
    flux[:, 40:45] = np.nan  # unusable: non-finite flux
    fit = fit_labels(model, flux, sigma, LO, HI, device="cpu")
    assert np.all(fit.n_pix == 160 - 45)
    assert np.all(np.isfinite(fit.chi2)) and np.all(np.isfinite(fit.labels))
    floored = fit_labels(model, flux, sigma, LO, HI, err_floor=0.05, device="cpu")
    # σ floored far above the noise: χ² shrinks and the quoted errors grow
    assert np.all(floored.chi2 < fit.chi2)
    assert np.all(floored.labels_err > fit.labels_err)


def test_a_label_fixed_by_the_box():
    model = Lines()
    truth, flux, sigma = noisy_stars(model, 20, seed=6)
    lo, hi = LO.copy(), HI.copy()
    lo[3] = hi[3] = 0.1  # mg_fe held at 0.1 (truth varies: the fit absorbs it elsewhere, but stays finite)
    fit = fit_labels(model, flux, sigma, lo, hi, device="cpu")
    assert np.all(fit.labels[:, 3] == 0.1) and np.all(fit.labels_err[:, 3] == 0)
    assert np.all(np.isfinite(fit.labels)) and np.all(np.isfinite(fit.labels_err))


def test_initial_labels_and_single_start():
    model = Lines()
    truth, flux, sigma = noisy_stars(model, 30, seed=3)
    fit = fit_labels(model, flux, sigma, LO, HI, init=truth, n_starts=1, device="cpu")
    assert np.mean(np.abs(fit.labels - truth) < 3 * fit.labels_err) > 0.9
    # refining the 3 best starts per star can only find an equal or lower χ² than refining the best one
    one = fit_labels(model, flux, sigma, LO, HI, n_starts=8, device="cpu")
    three = fit_labels(model, flux, sigma, LO, HI, n_starts=8, n_refine=3, device="cpu")
    assert three.labels.shape == (30, 4) and np.all(three.chi2 <= one.chi2 * (1 + 1e-5))


def test_forward_without_forward_mode_uses_finite_differences():
    model = Lines()

    class NoJvp(torch.autograd.Function):  # reverse mode only: forward-mode AD raises
        @staticmethod
        def forward(ctx, x):
            return x * 1.0

        @staticmethod
        def backward(ctx, g):
            return g

    truth, flux, sigma = noisy_stars(model, 50, seed=4)
    fit = fit_labels(lambda x: model(NoJvp.apply(x)), flux, sigma, LO, HI, device="cpu")
    ref = fit_labels(model, flux, sigma, LO, HI, device="cpu")
    np.testing.assert_allclose(fit.labels_err, ref.labels_err, rtol=0.02)
    np.testing.assert_allclose(fit.labels, ref.labels, atol=0.2 * ref.labels_err.max())


def test_emulator_as_forward():
    torch.manual_seed(0)
    names = ["teff", "logg", "fe_h", "mg_fe"]
    emu = Emulator(names, LO, HI, np.linspace(15200.0, 15230.0, 200), hidden=32)
    truth = np.random.default_rng(5).uniform(LO + 0.1 * (HI - LO), HI - 0.1 * (HI - LO), (20, 4))
    flux = emu.predict(truth)
    # device "auto" follows the module's weights (here cpu), whatever accelerator the machine has
    fit = fit_labels(emu, flux, np.full_like(flux, 1e-4), emu.label_min.numpy(), emu.label_max.numpy())
    assert np.all(np.abs(fit.labels - truth) < 4 * fit.labels_err + 1e-6 * (HI - LO))


def test_bad_input():
    model = Lines()
    flux = np.ones((3, 160))
    with pytest.raises(GapvizError, match=r"flux_err has shape \(3, 10\), expected \(3, 160\)"):
        fit_labels(model, flux, np.ones((3, 10)), LO, HI)
    err = np.full((3, 160), 0.01)
    err[1, 3:] = np.nan
    with pytest.raises(GapvizError, match="star 1 has 3 usable pixel"):
        fit_labels(model, flux, err, LO, HI)
    with pytest.raises(GapvizError, match="label box"):
        fit_labels(model, flux, np.full((3, 160), 0.01), HI, LO)


# --- end to end on the shipped mock sample --------------------------------------------------------------
def plain_theory_on_mock(mock_dir, n_star: int = 300) -> tuple[float, LabelFit, np.ndarray]:
    """Train the emulator on mock synthetic.h5 (fixed epochs), fit observed stars; (val rms, fit, truth)."""
    import h5py

    from gapviz.io.spectra import read_spectra
    from gapviz.theory.emulator import fit_emulator

    emu, report = fit_emulator(read_spectra(mock_dir / "synthetic.h5"), max_epochs=250, max_minutes=5, progress=False)
    obs = read_spectra(mock_dir / "observed.h5").subset(slice(0, n_star))
    with h5py.File(mock_dir / "truth.h5", "r") as f:
        ids = [s.decode() if isinstance(s, bytes) else str(s) for s in f["star_id"][()]]
        rows = [ids.index(s) for s in obs.star_id]
        truth = np.stack([np.asarray(f[f"labels/{n}"][()])[rows] for n in emu.label_names], 1)
    fit = fit_labels(emu, obs.flux, obs.flux_err, emu.label_min.numpy(), emu.label_max.numpy(), device="cpu")
    return report.val_rms, fit, truth


@pytest.mark.e2e
def test_plain_theory_baseline_on_the_shipped_mock():
    from pathlib import Path

    mock = Path(__file__).resolve().parents[2] / "data_samples" / "mock"
    if not (mock / "synthetic.h5").is_file():
        pytest.skip(f"{mock} not shipped")
    val_rms, fit, truth = plain_theory_on_mock(mock)
    assert val_rms < 0.01
    assert np.median(fit.chi2nu) > 1.5  # the theory misses lines: well above 1 even at the best labels
    d = fit.labels - truth
    assert np.std(d[:, 0]) < 300 and np.std(d[:, 2]) < 0.15  # teff K, fe_h dex: still informative


# --- the fast fitter (method="lm") against the first one, on an emulator with known labels --------------
def emulator_stars(n: int = 40, n_pix: int = 300, seed: int = 7, noise: float = 2e-3, margin: float = 0.1):
    """A seeded untrained Emulator (3 labels in the unit box), noisy spectra it made from known labels."""
    from .adapt_helpers import toy_emulator

    emu = toy_emulator(n_pix=n_pix, n_label=3, seed=seed)
    rng = np.random.default_rng(seed)
    truth = rng.uniform(margin, 1 - margin, (n, 3))
    sigma = np.full((n, n_pix), noise)
    flux = emu.predict(truth) + sigma * rng.standard_normal(sigma.shape)
    return emu, truth, flux, sigma


def box(emu):
    return emu.label_min.numpy(), emu.label_max.numpy()


def test_fast_fitter_agrees_with_the_first_one_within_errors():
    emu, truth, flux, sigma = emulator_stars()
    new = fit_labels(emu, flux, sigma, *box(emu), device="cpu")
    old = fit_labels(emu, flux, sigma, *box(emu), device="cpu", method="legacy")
    assert new.converged.all() and old.converged.all()
    np.testing.assert_allclose(new.labels, old.labels, atol=0.1 * old.labels_err.min())  # ≪ the errors
    np.testing.assert_allclose(new.labels_err, old.labels_err, rtol=0.01)
    assert np.all(new.chi2 <= old.chi2 + 0.05)
    assert np.mean(np.abs(new.labels - truth) < 3 * new.labels_err) > 0.95


def test_emulator_jacobian_by_hand_matches_forward_mode():
    from gapviz.adapt.infer import _Problem

    emu, truth, flux, sigma = emulator_stars(n=6)
    lo, hi = box(emu)
    w = torch.as_tensor(1 / sigma**2, dtype=torch.float32)
    args = (torch.as_tensor(flux, dtype=torch.float32), w, torch.as_tensor(lo), torch.as_tensor(hi - lo), torch.float64)
    z = torch.as_tensor(truth - 0.5)
    rows = torch.arange(6)
    by_hand = _Problem(emu, *args).normal_equations(z, rows, dtype=torch.float64)
    autodiff = _Problem(lambda x: emu(x), *args).normal_equations(z, rows, dtype=torch.float64)  # not an Emulator
    for a, b in zip(by_hand, autodiff):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-4, atol=1e-6 * float(b.abs().max()))


def test_each_star_stops_on_its_own(monkeypatch):
    from gapviz.adapt import infer

    emu, truth, flux, sigma = emulator_stars(n=20, noise=1e-3)
    init = truth.copy()
    init[10:] = np.clip(truth[10:] + 0.3, 0, 1)  # half the stars start far off, half at their labels
    evaluations = np.zeros(20, int)
    original = infer._Problem.normal_equations

    def counting(self, z, rows, *a, **k):
        evaluations[rows.numpy()] += 1
        return original(self, z, rows, *a, **k)

    monkeypatch.setattr(infer._Problem, "normal_equations", counting)
    fit = fit_labels(emu, flux, sigma, *box(emu), init=init, n_starts=1, device="cpu")
    assert fit.converged.all()
    near, far = evaluations[:10], evaluations[10:]
    assert near.max() <= 4  # a step or two from the minimum, and the errors at the end
    assert far.mean() > near.mean()
    assert np.all(np.abs(fit.labels - truth) < 4 * fit.labels_err)


def test_fast_fitter_respects_the_box_masks_and_is_deterministic():
    emu, truth, flux, sigma = emulator_stars(n=12)
    lo, hi = box(emu)
    inner_lo, inner_hi = np.full(3, 0.3), np.full(3, 0.7)  # a box narrower than the truths spread
    fit = fit_labels(emu, flux, sigma, inner_lo, inner_hi, device="cpu")
    assert np.all((fit.labels >= inner_lo) & (fit.labels <= inner_hi))
    outside = (truth < 0.3 - 3 * 0.01) | (truth > 0.7 + 3 * 0.01)
    assert fit.at_bound[outside].mean() > 0.5
    # masked pixels (NaN σ, whatever the flux there) do not count
    err = sigma.copy()
    err[:, ::3] = np.nan
    junk = flux.copy()
    junk[:, ::3] = 50.0
    a = fit_labels(emu, flux, err, lo, hi, device="cpu")
    b = fit_labels(emu, junk, err, lo, hi, device="cpu")
    np.testing.assert_array_equal(a.labels, b.labels)
    np.testing.assert_array_equal(a.chi2, b.chi2)
    assert np.all(a.n_pix == 300 - 100)
    c = fit_labels(emu, flux, err, lo, hi, device="cpu")
    for name in ("labels", "labels_err", "chi2", "converged"):
        np.testing.assert_array_equal(getattr(a, name), getattr(c, name))


def test_unknown_method():
    model = Lines()
    with pytest.raises(GapvizError, match="method 'newton'"):
        fit_labels(model, np.ones((2, 160)), np.full((2, 160), 0.01), LO, HI, method="newton")
