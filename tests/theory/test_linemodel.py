"""gapviz.theory.LineModel: physics trends, realism against a real APOGEE giant, API and errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from gapviz.errors import GapvizError
from gapviz.io.grids import aspcap_wavelength, sample_wavelength
from gapviz.io.linelist import linemake_paths, read_linelists
from gapviz.theory import LineModel
from gapviz.theory.profiles import gaussian_profile_matrix, saturate

REAL_GIANT = Path(__file__).resolve().parents[2] / "data_samples" / "apogee" / "sp19410822.txt"
NAMES = ("teff", "logg", "fe_h", "c_fe", "n_fe", "o_fe", "mg_fe", "si_fe", "ca_fe", "ti_fe", "ni_fe")


def labels(teff=4700.0, logg=2.5, fe_h=0.0, **x_fe) -> np.ndarray:
    row = dict.fromkeys(NAMES, 0.0)
    row.update(teff=teff, logg=logg, fe_h=fe_h, **x_fe)
    return np.array([[row[n] for n in NAMES]])


@pytest.fixture(scope="module")
def linelist() -> pd.DataFrame:
    return read_linelists(linemake_paths())


@pytest.fixture(scope="module")
def model(linelist) -> LineModel:
    """Full linemake list on the shipped sample grid (4 windows x 256 px)."""
    return LineModel(linelist, sample_wavelength(), resolution=22500.0, label_names=NAMES)


def test_shapes_range_and_kept_lines(model, linelist):
    lab = np.vstack([labels(), labels(3800.0, 1.0, -0.5), labels(6000.0, 4.3, 0.3)])
    flux = model.spectra(lab)
    assert flux.shape == (3, model.wavelength.size) and flux.dtype == np.float32
    assert np.all(flux > 0) and np.all(flux <= 1)
    assert flux.min() < 0.7  # there are real lines
    depth = model.line_depths(lab)
    assert depth.shape == (3, len(model.linelist)) and np.all((depth >= 0) & (depth < 1))
    assert model.nline == len(model.linelist) and model.n_dropped > 0
    assert len(model.linelist) + model.n_dropped == len(linelist)
    assert model.spectra(lab[0]).shape == (1, model.wavelength.size)
    np.testing.assert_array_equal(model.spectra(lab), flux)  # deterministic


def test_forward_is_differentiable(model):
    x = torch.tensor(labels(4500.0, 2.0, -0.2, mg_fe=0.1), dtype=torch.float32, requires_grad=True)
    model(x).sum().backward()
    grad = x.grad[0]
    assert torch.all(torch.isfinite(grad))
    for name in ("teff", "logg", "fe_h", "mg_fe", "c_fe", "o_fe"):
        assert grad[NAMES.index(name)] != 0, name


def test_gradient_matches_finite_difference(linelist):
    m = LineModel(linelist, sample_wavelength(), label_names=NAMES, dtype=torch.float64)
    x0 = labels(4600.0, 2.2, -0.1, mg_fe=0.05, c_fe=-0.1)
    x = torch.tensor(x0, requires_grad=True)
    m(x).sum().backward()
    for name, h in (("mg_fe", 1e-4), ("teff", 0.05), ("logg", 1e-4)):
        k = NAMES.index(name)
        up, down = x0.copy(), x0.copy()
        up[0, k] += h
        down[0, k] -= h
        numeric = (m.spectra(up).sum() - m.spectra(down).sum()) / (2 * h)
        assert x.grad[0, k].item() == pytest.approx(numeric, rel=1e-3, abs=1e-6), name


def test_mg_raises_mg_lines_only(model):
    base, rich = labels(4700.0, 2.5, 0.0), labels(4700.0, 2.5, 0.0, mg_fe=0.4)
    is_mg = (model.linelist["species"] == "Mg I").to_numpy()
    assert is_mg.sum() >= 3
    d0, d1 = model.line_depths(base)[0], model.line_depths(rich)[0]
    assert np.all(d1[is_mg] > d0[is_mg]) and np.array_equal(d1[~is_mg], d0[~is_mg])
    f0, f1 = model.spectra(base)[0], model.spectra(rich)[0]
    mg_wl = model.linelist["wavelength"].to_numpy()[is_mg]
    far = np.min(np.abs(model.wavelength[:, None] - mg_wl[None, :]), axis=1) > 2.0  # Å, > 6 σ
    assert np.abs(f1 - f0)[far].max() < 1e-6
    assert (f0 - f1)[~far].max() > 0.01


def test_molecules_strengthen_towards_low_teff(model):
    species = model.linelist["species"].to_numpy()
    warm, cool = model.line_depths(labels(4800.0, 2.0))[0], model.line_depths(labels(4000.0, 2.0))[0]
    for mol in ("CN", "CO", "OH"):
        sel = species == mol
        assert sel.sum() > 10
        # the band as a whole and its strongest line; CO's few high-excitation lines may weaken (Boltzmann)
        assert cool[sel].sum() > 2.0 * warm[sel].sum(), mol
        assert cool[sel].max() > 2.0 * warm[sel].max(), mol
    for mol in ("CN", "OH"):
        assert np.all(cool[species == mol] > warm[species == mol]), mol
    giant, m_dwarf = model.line_depths(labels(4700.0, 2.5))[0], model.line_depths(labels(3300.0, 4.8))[0]
    for mol in ("H2O", "FeH"):
        sel = species == mol
        assert giant[sel].max() < 0.06 and m_dwarf[sel].max() > 0.15, mol


def test_ions_gain_on_neutrals_at_low_gravity(model):
    species = model.linelist["species"].to_numpy()
    fe1, fe2 = species == "Fe I", species == "Fe II"
    assert fe1.any() and fe2.any()
    dwarf, giant = model.line_depths(labels(5000.0, 4.5))[0], model.line_depths(labels(5000.0, 1.5))[0]
    assert giant[fe2].max() / giant[fe1].max() > dwarf[fe2].max() / dwarf[fe1].max()


def test_binned_forward_matches_line_by_line_sum(linelist):
    """The (species, excitation-node) binning reproduces the exact per-line optical-depth sum."""
    m = LineModel(linelist, sample_wavelength(), label_names=NAMES, dtype=torch.float64)
    lab = torch.tensor(np.vstack([labels(4700.0, 2.5), labels(3500.0, 0.8, -0.3), labels(6200.0, 4.2, 0.2)]))
    profiles = gaussian_profile_matrix(
        m.wavelength, m.linelist["wavelength"].to_numpy(float), m.line_sigma, 4.0, torch.float64
    )
    with torch.no_grad():
        tau_lines = torch.pow(10.0, m.log_tau_linear(lab))
        exact = torch.exp(-saturate(torch.sparse.mm(profiles, tau_lines.T).T, m._log_k)).numpy()
        fast = m(lab).numpy()
    assert np.abs(fast - exact).max() < 0.005
    assert np.abs(np.log(fast) / np.log(exact) - 1.0)[exact < 0.99].max() < 0.02


def test_line_strengths_do_not_depend_on_the_other_lines(model, linelist):
    """Removing lines (as the mock does) leaves every other line's strength unchanged."""
    small = LineModel(linelist[linelist["species"] == "Fe I"], sample_wavelength(), label_names=NAMES)
    in_full = (model.linelist["species"] == "Fe I").to_numpy()
    np.testing.assert_array_equal(small.linelist["wavelength"], model.linelist["wavelength"][in_full])
    lab = np.vstack([labels(), labels(3900.0, 1.2, -0.8, mg_fe=0.3)])
    np.testing.assert_allclose(small.line_depths(lab), model.line_depths(lab)[:, in_full], rtol=1e-5)


def test_reference_giant_depths_are_realistic(linelist):
    m = LineModel(linelist, aspcap_wavelength(), label_names=NAMES)
    depth = m.line_depths(labels(4700.0, 2.5, 0.0))[0]
    species = m.linelist["species"].to_numpy()
    strong_atoms = depth[np.isin(species, ["Fe I", "Mg I", "Si I", "Al I"])].max()
    assert 0.3 <= strong_atoms <= 0.6
    for mol in ("CO", "OH", "CN"):
        assert 0.05 <= depth[species == mol].max() <= 0.3, mol


def test_strongest_model_lines_fall_on_real_absorption(linelist):
    """Real continuum-normalised giant in NGC 6819 (apStar grid, vacuum Å, 0 = no data).

    The per-species opacity constants were fitted to this star (4 numbers); the line positions, the ranking
    within each species and the cross-species physics were not.
    """
    data = np.loadtxt(REAL_GIANT, skiprows=1)
    wavelength, flux = data[:, 0], data[:, 1]
    m = LineModel(linelist, wavelength, label_names=NAMES)
    depth = m.line_depths(labels(4700.0, 2.6, 0.0))[0]
    centre = m.linelist["wavelength"].to_numpy()
    picked, observed = [], []
    for i in np.argsort(depth)[::-1]:
        near = np.abs(wavelength - centre[i]) < 0.35  # Å: the line's core pixels
        if near.any() and np.all(flux[np.abs(wavelength - centre[i]) < 1.0] > 0):
            picked.append(i)
            observed.append(flux[near].min())
        if len(picked) == 30:
            break
    observed = np.array(observed)
    assert np.mean(observed < 0.95) > 0.8
    assert np.corrcoef(depth[picked], 1.0 - observed)[0, 1] > 0.2
    # and the whole spectrum: model absorption correlates with the observed one pixel by pixel
    good = flux > 0.05
    model_flux = m.spectra(labels(4700.0, 2.6, 0.0))[0]
    assert np.corrcoef(1.0 - model_flux[good], 1.0 - flux[good])[0, 1] > 0.5


def test_bad_input_errors(linelist):
    with pytest.raises(GapvizError, match="unknown label 'colour'"):
        LineModel(linelist, sample_wavelength(), label_names=("teff", "logg", "colour"))
    with pytest.raises(GapvizError, match="lacks 'logg'"):
        LineModel(linelist, sample_wavelength(), label_names=("teff", "fe_h"))
    with pytest.raises(GapvizError, match="none of the .* lines falls on the grid"):
        LineModel(linelist, np.linspace(5000.0, 5100.0, 500))
    with pytest.raises(GapvizError, match="lacks column"):
        LineModel(pd.DataFrame({"wavelength": [15500.0]}), sample_wavelength())


def test_wrong_label_shape(model):
    with pytest.raises(GapvizError, match=r"shape \(n, 11\)"):
        model.spectra(np.zeros((2, 3)))
