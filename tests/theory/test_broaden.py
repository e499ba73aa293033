"""gapviz.theory.broaden: a theory seen through a broader line-spread function."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from gapviz.errors import GapvizError
from gapviz.theory.broaden import Broadened, extra_fwhm_kms, kernel, observed_resolution
from gapviz.theory.linemodel import LineModel

NAMES = ["teff", "logg", "fe_h"]
# two stretches with a gap between them, as the APOGEE chips are; log-uniform steps
WL = np.concatenate([15700.0 * np.exp(np.arange(160) * 4.145 / 299792.458),
                     15760.0 * np.exp(np.arange(120) * 4.145 / 299792.458)])
LINES = pd.DataFrame({"wavelength": [15705.0, 15712.3, 15713.0, 15765.0], "species": ["Fe I"] * 4,
                      "loggf": [-1.0, -1.5, -1.2, -0.8], "elow_ev": [5.0, 4.6, 5.2, 5.5]})


class Flux(nn.Module):
    """LineModel with an emulator's attributes."""

    def __init__(self, resolution):
        super().__init__()
        self.lm = LineModel(LINES, WL, resolution=resolution, label_names=NAMES, min_depth=0.0)
        self.label_names, self.n_pix = NAMES, WL.size
        self.label_min, self.label_max = torch.tensor([3500.0, 0.0, -2.0]), torch.tensor([6000.0, 5.0, 0.5])

    def forward(self, labels):
        return self.lm(labels)


def test_resolving_power_and_extra_fwhm_are_inverse():
    fwhm = extra_fwhm_kms(22500.0, 20000.0)
    assert fwhm == pytest.approx(299792.458 * np.sqrt(1 / 20000.0**2 - 1 / 22500.0**2))
    assert observed_resolution(22500.0, fwhm) == pytest.approx(20000.0)
    assert extra_fwhm_kms(22500.0, 25000.0) == 0.0  # sharper observations: nothing to add
    assert observed_resolution(22500.0, 0.0) == pytest.approx(22500.0)


class GaussianLines(nn.Module):
    """Gaussian absorption lines of FWHM λ/R and fixed area (scaled by the first label): the profile a
    spectrograph of resolving power R makes of weak unresolved lines; exact under convolution."""

    def __init__(self, resolution):
        super().__init__()
        centres = torch.tensor([15705.0, 15712.3, 15713.0, 15765.0], dtype=torch.float64)
        sigma = centres / resolution / (2 * np.sqrt(2 * np.log(2)))
        x = torch.as_tensor(WL)[None, :]
        gauss = torch.exp(-0.5 * ((x - centres[:, None]) / sigma[:, None]) ** 2)
        self.register_buffer("shape", gauss * (0.3 / (sigma[:, None] * np.sqrt(2 * np.pi))))  # area 0.3 Å
        self.label_names, self.n_pix = NAMES, WL.size
        self.label_min, self.label_max = torch.tensor([0.0, 0.0, 0.0]), torch.tensor([1.0, 1.0, 1.0])

    def forward(self, labels):
        return 1.0 - (labels[:, :1].to(self.shape.dtype) * self.shape.sum(0, keepdim=True))


def test_a_theory_broadened_is_the_theory_at_the_lower_resolving_power():
    labels = torch.tensor([[0.3, 0.0, 0.0], [0.6, 0.0, 0.0]], dtype=torch.float64)
    with torch.no_grad():
        sharp, broad = GaussianLines(22500.0)(labels), GaussianLines(20000.0)(labels)
        seen = Broadened(GaussianLines(22500.0), WL, extra_fwhm_kms(22500.0, 20000.0))(labels)
    before = float((sharp - broad).abs().max())
    after = float((seen - broad).abs().max())
    assert before > 0.02  # the two resolving powers differ visibly
    assert after < 0.03 * before
    # the equivalent width is kept (flux is redistributed, not lost)
    dl = np.gradient(WL)
    assert np.sum((1 - seen.numpy()) * dl, axis=1) == pytest.approx(np.sum((1 - sharp.numpy()) * dl, axis=1),
                                                                    rel=0.01)


def test_it_broadens_a_line_model_theory_and_its_gradient_flows():
    labels = torch.tensor([[4500.0, 2.0, 0.0]], requires_grad=True)
    seen = Broadened(Flux(22500.0), WL, 8.0)(labels)
    with torch.no_grad():
        sharp = Flux(22500.0)(labels)
    assert seen.shape == sharp.shape and float(seen.detach().min()) > float(sharp.min())  # shallower cores
    seen.sum().backward()
    assert torch.isfinite(labels.grad).all() and float(labels.grad.abs().sum()) > 0


def test_the_kernel_keeps_a_flat_spectrum_flat_and_never_reaches_across_the_gap():
    index, weight = kernel(WL, 10.0)
    assert np.allclose(weight.sum(axis=1), 1.0)
    gap = np.flatnonzero(np.diff(WL) > 1.0)[0]
    reach = np.where(weight > 0, index, -1)
    assert reach[: gap + 1].max() <= gap  # the first stretch's pixels use only the first stretch
    assert np.where(weight > 0, index, WL.size)[gap + 1:].min() >= gap + 1


def test_bad_broadening_is_refused_with_a_message():
    with pytest.raises(GapvizError, match="finite number"):
        kernel(WL, -1.0)
    with pytest.raises(GapvizError, match="increasing"):
        kernel(WL[::-1], 5.0)
    with pytest.raises(GapvizError, match="pixels"):
        Broadened(Flux(22500.0), WL[:-1], 5.0)
