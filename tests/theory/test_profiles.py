"""gapviz.theory.profiles: Doppler widths, the saturation (curve of growth) and the Gaussian profile matrix."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gapviz.theory.profiles import (
    C_KMS,
    cog_table,
    doppler_b,
    gaussian_profile_matrix,
    saturate,
    saturation_factor,
)


def test_doppler_b_by_hand():
    # Fe (55.845 amu) at 5000 K: thermal sqrt(2kT/m) = 1.22018 km/s; with 1.5 km/s microturbulence
    # b = 15000 Å × sqrt(1.22018² + 1.5²) / c
    b = doppler_b(np.array([15000.0]), np.array([55.845]), 5000.0, 1.5)
    assert b[0] == pytest.approx(15000.0 * np.hypot(1.22018, 1.5) / C_KMS, rel=1e-4)
    assert doppler_b(np.array([15000.0]), np.array([1.008]), 5000.0, 0.0)[0] > 5 * doppler_b(
        np.array([15000.0]), np.array([55.845]), 5000.0, 0.0)[0]  # hydrogen: sqrt(55.4) ≈ 7.4 times wider


def test_saturation_follows_the_voigt_curve_of_growth():
    log_tau0, log_f = cog_table()
    inside = (log_tau0 >= -3) & (log_tau0 <= 7)
    fit = torch.log10(saturation_factor(torch.tensor(10.0 ** log_tau0[inside]))).numpy()
    assert np.abs(fit - (log_f - log_tau0)[inside]).max() < 0.02  # dex
    r = saturation_factor(torch.tensor([0.0, 1e-4, 1.0, 1e3, 1e40])).numpy()
    assert r[0] == 1.0 and r[1] > 0.9999 and np.all(np.diff(r) < 0) and r[-1] > 0


def test_saturate_is_linear_for_weak_lines_and_keeps_zeros():
    tau = torch.tensor([0.0, 1e-6, 1e-3, 10.0, 1e4], dtype=torch.float64)
    out = saturate(tau, 0.3)
    assert out[0] == 0.0
    assert out[1] == pytest.approx(1e-6, rel=1e-5)
    assert torch.all(out[2:] < tau[2:]) and torch.all(torch.diff(out) > 0)  # saturated, still growing


def test_gaussian_profile_matrix_unit_peaks_cut_at_nsigma():
    grid = np.arange(100.0)
    m = gaussian_profile_matrix(grid, np.array([20.0, 70.5]), np.array([2.0, 3.0]), 4.0, torch.float64).to_dense()
    assert m.shape == (100, 2)
    assert m[20, 0] == 1.0 and m[22, 0] == pytest.approx(np.exp(-0.5))
    assert m[:, 0].nonzero().flatten().tolist() == list(range(12, 28))  # 20 ± 4σ = [12, 28), right edge open
    assert m[:, 1].max() == pytest.approx(np.exp(-0.5 * (0.5 / 3.0) ** 2))


def test_tau_of_inverts_flux_of_with_and_without_a_depth_ceiling():
    from gapviz.theory.profiles import flux_of, tau_of

    tau = torch.tensor([0.0, 1e-4, 0.03, 0.5, 3.0, 40.0], dtype=torch.float64)
    for depth_max in (None, 0.6):
        flux = flux_of(tau, 0.7, depth_max)
        assert torch.all(flux[1:] < flux[:-1]) and flux[0] == 1.0
        back = tau_of(flux, 0.7, depth_max)
        assert back[0] == 0.0
        assert torch.allclose(back[1:], tau[1:], rtol=2e-4)
    assert tau_of(torch.tensor([1.2]), 0.7)[0] == 0.0  # above the continuum: nothing there
