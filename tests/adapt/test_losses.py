"""gapviz.adapt.losses: each loss term on a case checkable by hand."""

import math

import pytest
import torch

from gapviz.adapt import losses as L


def test_masked_chi2_floors_sigma_and_masks_pixels():
    flux = torch.tensor([[1.0, 1.0, 1.0, 1.0, float("nan")]])
    model = torch.tensor([[1.01, 1.01, 0.98, 1.5, 0.0]])
    err = torch.tensor([[0.01, 0.002, 0.02, 0.1, 0.01]])  # 0.002 → floor 0.005; 0.1 > 0.05 masked; NaN flux masked
    sigma, mask = L.effective_sigma(flux, err, sigma_floor=0.005, sigma_max=0.05)
    assert mask.tolist() == [[1, 1, 1, 0, 0]]
    assert sigma[0, 1].item() == pytest.approx(0.005)
    # residuals/σ: 1, 2, -1 → χ² = 1 + 4 + 1 over 3 usable pixels
    assert L.masked_chi2(model, flux, sigma, mask).item() == pytest.approx(2.0, rel=1e-5)
    assert L.chi2nu_per_star(model, flux, sigma, mask, n_param=1).item() == pytest.approx(3.0, rel=1e-5)


def test_chi2nu_per_star_degrees_of_freedom_are_floored_at_one():
    """dof = usable pixels − n_param (gapviz.stats.degrees_of_freedom), at least 1; the numpy twin agrees."""
    import numpy as np

    from gapviz.stats import chi2nu

    flux = torch.ones(3, 4)
    model = flux + 0.01  # 1 σ off at every pixel
    sigma = torch.full_like(flux, 0.01)
    mask = torch.tensor([[1.0, 1, 1, 1], [1, 1, 0, 0], [0, 0, 0, 0]])
    got = L.chi2nu_per_star(model, flux, sigma, mask, n_param=3)
    # 4 usable: 4 / (4 − 3); 2 usable: 2 / max(2 − 3, 1); none usable: 0 / 1
    assert got.tolist() == pytest.approx([4.0, 2.0, 0.0], rel=1e-5)
    err = np.where(mask.numpy() > 0, 0.01, np.nan)
    assert chi2nu((flux - model).numpy(), err, n_param=3) == pytest.approx(got.numpy(), rel=1e-5)
    assert L.chi2nu_per_star(model, flux, sigma, mask).tolist() == pytest.approx([1.0, 1.0, 0.0], rel=1e-5)


def test_effective_sigma_without_errors_is_the_floor():
    flux = torch.ones(2, 3)
    sigma, mask = L.effective_sigma(flux, None, 0.005, 0.05)
    assert torch.all(sigma == 0.005) and torch.all(mask == 1)


def test_label_correction_split_penalties():
    z = torch.tensor([[0.1, -0.2]])
    assert L.label_loss(z, torch.zeros_like(z)).item() == pytest.approx((0.01 + 0.04) / 2)
    delta = torch.tensor([[0.01, 0.02]])
    sigma = torch.tensor([[0.01, 0.01]])
    assert L.correction_penalty(delta, sigma, torch.ones_like(delta)).item() == pytest.approx((1 + 4) / 2)
    assert L.correction_penalty(delta, sigma, torch.tensor([[1.0, 0.0]])).item() == pytest.approx(1.0)
    assert L.split_penalty(torch.tensor([[3.0, 4.0]])).item() == pytest.approx(12.5)


def test_gan_losses_on_known_logits():
    real, fake = torch.tensor([1.0, 1.0]), torch.tensor([0.0, 0.0])
    assert L.discriminator_loss(real, fake, "lsgan").item() == 0.0
    assert L.generator_loss(fake, "lsgan").item() == pytest.approx(0.5)
    assert L.discriminator_loss(torch.tensor([2.0]), torch.tensor([-3.0]), "hinge").item() == 0.0
    assert L.discriminator_loss(torch.tensor([0.0]), torch.tensor([0.0]), "hinge").item() == pytest.approx(2.0)
    assert L.generator_loss(torch.tensor([0.5, 1.5]), "hinge").item() == pytest.approx(-1.0)
    assert L.discriminator_loss(torch.tensor([0.0]), torch.tensor([0.0]), "bce").item() == pytest.approx(2 * math.log(2))
    assert L.generator_loss(torch.tensor([0.0]), "bce").item() == pytest.approx(math.log(2))
