import numpy as np

from gapviz.io.grids import chip_of, sample_wavelength
from gapviz.mock.effects import (
    ObservingEffects,
    bad_pixel_mask,
    continuum_error,
    observe,
    photon_sigma,
)


def test_continuum_error_smooth_and_within_amplitude():
    wl = sample_wavelength()
    f = continuum_error(wl, 30, np.random.default_rng(0), amplitude=(0.005, 0.01), degree=3)
    assert f.shape == (30, wl.size)
    for chip in np.unique(chip_of(wl)):
        pix = chip_of(wl) == chip
        peak = np.abs(f[:, pix] - 1).max(axis=1)
        assert np.all(peak >= 0.005 - 1e-12) and np.all(peak <= 0.01 + 1e-12)
    # smooth: pixel-to-pixel changes inside a window are tiny compared with the amplitude
    assert np.abs(np.diff(f[:, :256], axis=1)).max() < 0.001


def test_noise_matches_flux_err_and_bad_pixels_marked():
    rng = np.random.default_rng(1)
    wl = sample_wavelength()
    clean = np.full((200, wl.size), 0.8)
    eff = ObservingEffects(continuum=False, snr_range=(50.0, 100.0), n_bad_pixels=(2, 4))
    flux, err, snr = observe(clean, wl, eff, rng)
    assert np.all((snr >= 50) & (snr <= 100))
    bad = ~np.isfinite(err)
    nbad = bad.sum(axis=1)
    assert np.all((nbad >= 2) & (nbad <= 4))
    good = ~bad
    np.testing.assert_allclose(err[good], (np.sqrt(0.8) / snr[:, None] * np.ones_like(clean))[good])
    pull = ((flux - clean) / err)[good]
    assert abs(pull.mean()) < 0.02 and abs(pull.std() - 1) < 0.02
    assert np.all(np.isfinite(flux))


def test_effects_switch_off_independently():
    wl = sample_wavelength()[:100]
    clean = np.full((5, wl.size), 0.9)
    off = ObservingEffects(continuum=False, noise=False, bad_pixels=False)
    flux, err, snr = observe(clean, wl, off, np.random.default_rng(2))
    np.testing.assert_allclose(flux, clean)
    np.testing.assert_allclose(err, photon_sigma(clean, snr))
    only_cont = ObservingEffects(noise=False, bad_pixels=False)
    flux2, _, _ = observe(clean, wl, only_cont, np.random.default_rng(2))
    assert 0.004 < np.abs(flux2 / clean - 1).max() < 0.0101


def test_bad_pixel_mask_never_all():
    m = bad_pixel_mask((3, 2), np.random.default_rng(0), (5, 5))
    assert np.all(m.sum(axis=1) == 1)
