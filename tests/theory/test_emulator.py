"""gapviz.theory.emulator: the Payne-style emulator: training, persistence, the label box."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gapviz.errors import GapvizError
from gapviz.io.spectra import Spectra
from gapviz.theory.emulator import Emulator, fit_emulator

NAMES = ["teff", "logg", "fe_h"]
LO = np.array([4000.0, 1.0, -1.0])
HI = np.array([6000.0, 4.0, 0.5])


def fake_synthetic(n: int = 300, n_pix: int = 64, seed: int = 0) -> Spectra:
    """Easy labelled set: 6 Gaussian lines whose depths follow teff, logg and fe_h smoothly."""
    rng = np.random.default_rng(seed)
    wavelength = np.linspace(15200.0, 15220.0, n_pix)
    labels = rng.uniform(LO, HI, (n, 3))
    z = (labels - LO) / (HI - LO) - 0.5
    centres = np.linspace(15202.0, 15218.0, 6)
    coef = np.array([[1.0, 0.2, 0.8], [-0.8, 0.3, 1.0], [0.5, -0.5, 1.2], [0.0, 0.6, 0.9], [1.2, 0.0, 0.5], [-0.3, -0.2, 1.1]])
    depth = 0.4 * np.exp(z @ coef.T)  # (n, 6)
    prof = np.exp(-0.5 * ((wavelength[:, None] - centres[None]) / 0.6) ** 2)  # (npix, 6)
    flux = np.exp(-depth @ prof.T)
    return Spectra(wavelength, flux, labels={k: labels[:, i] for i, k in enumerate(NAMES)}, domain="synthetic")


@pytest.fixture(scope="module")
def trained():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        s = fake_synthetic()
        emu, report = fit_emulator(s, hidden=64, max_epochs=300, max_minutes=1.0, batch_size=64, seed=0,
                                   progress=False)
    finally:
        torch.set_num_threads(before)  # the caller's setting comes back
    return s, emu, report


def test_training_lowers_validation_error(trained):
    s, emu, report = trained
    baseline = float(np.sqrt(np.mean((s.flux - s.flux.mean(0)) ** 2)))  # rms of predicting the mean spectrum
    assert report.val_rms < 0.003 < baseline
    assert report.val_rms < 0.1 * baseline
    assert report.n_train + report.n_val == s.n_star and report.n_val == 30
    # the held-out error is what the model really does on unseen labels
    fresh = fake_synthetic(100, seed=7)
    fresh_rms = np.sqrt(np.mean((emu.predict(fresh.label_array(NAMES)) - fresh.flux) ** 2))
    assert fresh_rms < 2 * report.val_rms + 1e-3


def test_forward_is_differentiable_and_bounded(trained):
    _, emu, _ = trained
    x = torch.tensor([[5000.0, 2.5, -0.2]], requires_grad=True)
    flux = emu(x)
    assert flux.shape == (1, 64) and float(flux.detach().min()) > 0 and float(flux.detach().max()) < 1.2
    flux.sum().backward()
    assert torch.all(torch.isfinite(x.grad)) and float(x.grad.abs().sum()) > 0
    assert emu.label_names == NAMES
    np.testing.assert_allclose(emu.wavelength, np.linspace(15200.0, 15220.0, 64))


def test_same_seed_same_emulator():
    s = fake_synthetic(80, n_pix=16)
    kw = dict(hidden=16, max_epochs=4, max_minutes=1.0, batch_size=32, progress=False)
    a, ra = fit_emulator(s, seed=3, **kw)
    b, rb = fit_emulator(s, seed=3, **kw)
    c, _ = fit_emulator(s, seed=4, **kw)
    labels = s.label_array()
    np.testing.assert_array_equal(a.predict(labels), b.predict(labels))
    assert ra.val_rms == rb.val_rms
    assert not np.array_equal(a.predict(labels), c.predict(labels))


def test_save_load_round_trip(trained, tmp_path):
    s, emu, report = trained
    path = emu.save(tmp_path / "emu.pt", report=report)
    payload = torch.load(path, weights_only=True)  # a plain dict, no pickled classes
    assert payload["label_names"] == NAMES and payload["report"]["val_rms"] == report.val_rms
    back = Emulator.load(path)
    labels = s.label_array()
    np.testing.assert_array_equal(back.predict(labels), emu.predict(labels))
    np.testing.assert_array_equal(back.wavelength, emu.wavelength)
    np.testing.assert_array_equal(back.label_min.numpy(), s.label_array().min(0))
    assert back.label_names == NAMES and back.hidden == 64
    with pytest.raises(GapvizError, match="refusing to overwrite"):
        emu.save(path, overwrite=False)
    assert [p.name for p in tmp_path.iterdir()] == ["emu.pt"]  # no temporary file left behind


def test_payload_round_trip_in_memory(trained):
    s, emu, report = trained
    back = Emulator.from_payload(emu.payload())
    np.testing.assert_array_equal(back.predict(s.label_array()), emu.predict(s.label_array()))
    assert back.report["val_rms"] == report.val_rms  # fit_emulator leaves its report on the model
    broken = emu.payload()
    del broken["state_dict"]["net.0.weight"]
    with pytest.raises(GapvizError, match="damaged gapviz emulator"):
        Emulator.from_payload(broken, source="run/model.pt")


def test_load_rejects_other_files(tmp_path):
    bad = tmp_path / "notes.pt"
    bad.write_text("not a torch file")
    with pytest.raises(GapvizError, match="notes.pt"):
        Emulator.load(bad)
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(3)}, other)
    with pytest.raises(GapvizError, match="not a gapviz emulator"):
        Emulator.load(other)
    with pytest.raises(GapvizError, match="no such emulator file"):
        Emulator.load(tmp_path / "missing.pt")


def test_label_box(trained):
    _, emu, _ = trained
    lo, hi = emu.label_min.numpy(), emu.label_max.numpy()
    inside = (lo + hi) / 2
    edge = hi + 0.04 * (hi - lo)  # within the 5 % default tolerance
    outside = inside.copy()
    outside[1] = hi[1] + 0.5 * (hi[1] - lo[1])
    np.testing.assert_array_equal(emu.in_range(np.stack([inside, edge, outside])), [True, False, False])
    np.testing.assert_array_equal(emu.in_range(np.stack([inside, edge, outside]), tolerance=0.05), [True, True, False])
    emu.predict(np.stack([inside, edge]), validate=True)
    with pytest.raises(GapvizError, match=r"outside the emulator's training box.*logg="):
        emu.predict(np.stack([inside, outside]), validate=True)
    assert emu.predict(outside[None]).shape == (1, 64)  # without validation it extrapolates silently
    with pytest.raises(GapvizError, match=r"expected \(n, 3\)"):
        emu.predict(np.zeros((2, 4)))


def test_fit_needs_labels():
    s = fake_synthetic(20)
    with pytest.raises(GapvizError, match="no /labels"):
        fit_emulator(Spectra(s.wavelength, s.flux), progress=False)
    with pytest.raises(GapvizError, match=r"missing label\(s\) \['mg_fe'\]"):
        fit_emulator(s, label_names=["teff", "mg_fe"], progress=False)
