"""The label fitter's Jacobian by hand (gapviz.adapt.tangents, PhysicalAdapter.decode_obs_tangents) against
forward-mode autodiff, for both observed decoders with continuum coefficients, and the fits it gives."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gapviz.adapt import infer
from gapviz.adapt.config import ModelConfig
from gapviz.adapt.networks import build_networks
from gapviz.adapt.tangents import hidden_tangents

from .adapt_helpers import toy_emulator

SMALL = dict(enc_filters=[4], enc_strides=[4], enc_dense=[16], correction_hidden=[16, 16], dis_filters=[4],
             dis_strides=[4], dis_dense=[8], continuum_degree=2, split_z=2)


class _Forward:
    """The adapted forward as ``Adaptation._forward_adapted(None)`` builds it, on an untrained adapter whose
    decoder weights are randomised so that every term of the Jacobian is far from zero."""

    def __init__(self, decoder: str, seed: int = 0, continuum_degree: int = 2):
        torch.manual_seed(seed)
        cfg = ModelConfig(**{**SMALL, "continuum_degree": continuum_degree}, observed_decoder=decoder)
        self.gen = build_networks(cfg, 64, 0.6, 0.05, toy_emulator(64))[0]
        with torch.no_grad():
            for p in self.gen.parameters():
                if p.requires_grad:
                    p.add_(0.3 * torch.randn_like(p))
        self.emulator, self.L = self.gen.emulator, self.gen.n_label

    def __call__(self, params):
        return self.gen.decode_obs(self.emulator.scale(params[:, : self.L]).float(), params[:, self.L :].float())

    def tangents(self, params, dparams_dz, pixel_weight=None):
        _, width = self.emulator._box(params[:, : self.L])
        return self.gen.decode_obs_tangents(self.emulator.scale(params[:, : self.L]).float(), params[:, self.L :].float(),
                                            (dparams_dz[: self.L] / width).float(), dparams_dz[self.L :].float(),
                                            pixel_weight)


def _problem(fwd, n=6, seed=1):
    g = torch.Generator().manual_seed(seed)
    P = fwd.L + fwd.gen.split_z
    lo = torch.cat([fwd.emulator.label_min.double(), torch.full((P - fwd.L,), -3.0, dtype=torch.float64)])
    width = torch.cat([(fwd.emulator.label_max - fwd.emulator.label_min).double(),
                       torch.full((P - fwd.L,), 6.0, dtype=torch.float64)])
    weight = torch.rand(n, 64, generator=g) + 0.1
    prob = infer._Problem(fwd, torch.ones(n, 64), weight, lo, width, torch.float64)
    return prob, torch.rand(n, P, generator=g, dtype=torch.float64) - 0.5


@pytest.mark.parametrize("decoder, continuum_degree", [("correction", 2), ("emulator_copy", 2), ("correction", -1)])
def test_the_jacobian_by_hand_is_autodiff_s_with_continuum_and_pixel_weights(decoder, continuum_degree):
    fwd = _Forward(decoder, continuum_degree=continuum_degree)
    prob, z = _problem(fwd)
    model, jac = prob.jacobian(z)  # autodiff: (n, npix, P)
    sw = prob.sqrt_weight
    m, jw = prob.tangents(z, sw)  # by hand, weighted: (n, P, npix)
    torch.testing.assert_close(m, model, rtol=1e-5, atol=1e-6)
    expected = jac.permute(0, 2, 1) * sw[:, None, :]
    assert expected.abs().amax((0, 2)).min() > 1e-3  # every parameter moves the model: nothing tested at zero
    torch.testing.assert_close(jw, expected, rtol=1e-4, atol=1e-5)


def test_normal_equations_by_hand_equal_those_from_autodiff():
    fwd = _Forward("correction", seed=3)
    prob, z = _problem(fwd, n=5)
    rows = torch.arange(5)
    c_hand, a_hand, g_hand = prob.normal_equations(z, rows)
    fwd_autodiff = lambda p: fwd(p)  # noqa: E731  (a plain callable: no tangents, the fitter's fallback)
    prob2 = infer._Problem(fwd_autodiff, prob.flux, prob.weight, prob.lo, prob.width, torch.float64)
    c_ad, a_ad, g_ad = prob2.normal_equations(z, rows)
    torch.testing.assert_close(c_hand, c_ad)
    torch.testing.assert_close(a_hand, a_ad, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(g_hand, g_ad, rtol=1e-4, atol=1e-4)


def test_fits_through_the_adapter_agree_with_and_without_the_jacobian_by_hand():
    fwd = _Forward("correction", seed=5)
    rng = np.random.default_rng(0)
    P = fwd.L + fwd.gen.split_z
    lo = np.r_[fwd.emulator.label_min.numpy(), [-3.0] * (P - fwd.L)]
    hi = np.r_[fwd.emulator.label_max.numpy(), [3.0] * (P - fwd.L)]
    truth = lo + (hi - lo) * rng.uniform(0.25, 0.75, (24, P))
    with torch.no_grad():
        flux = fwd(torch.as_tensor(truth)).numpy()
    err = np.full_like(flux, 0.002)
    flux = flux + err * rng.standard_normal(flux.shape)
    init = truth + 0.05 * (hi - lo) * rng.standard_normal(truth.shape)
    by_hand = infer.fit_labels(fwd, flux, err, lo, hi, init=init, n_starts=2, device="cpu")
    autodiff = infer.fit_labels(lambda p: fwd(p), flux, err, lo, hi, init=init, n_starts=2, device="cpu")
    np.testing.assert_allclose(by_hand.chi2, autodiff.chi2, rtol=1e-3)
    np.testing.assert_allclose(by_hand.labels, autodiff.labels, atol=1e-3 * (hi - lo).max())
    np.testing.assert_allclose(by_hand.labels_err, autodiff.labels_err, rtol=1e-2)
    assert np.median(by_hand.chi2nu) < 1.3  # and the fit is a real one: the noise level, not a stall


def test_hidden_tangents_refuses_an_unknown_layer():
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2))
    assert hidden_tangents(net, torch.zeros(2, 3), torch.ones(3)) is None
