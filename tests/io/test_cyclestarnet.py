"""gapviz.io.cyclestarnet: Cycle-StarNet HDF5 spectra with a separate wavelength file."""

from __future__ import annotations

import numpy as np
import pytest

from gapviz.errors import GapvizError
from gapviz.io.cyclestarnet import read_cyclestarnet
from gapviz.labels import DEFAULT_LABELS


def test_cyclestarnet_named_split(tmp_path, cyclestarnet_file):
    path, flux, labels = cyclestarnet_file()
    wl = np.linspace(15200, 15230, 30)
    np.save(tmp_path / "wl.npy", wl)
    s = read_cyclestarnet(path, tmp_path / "wl.npy")
    np.testing.assert_allclose(s.flux, flux, rtol=1e-6)
    assert s.label_names == list(DEFAULT_LABELS[:3])
    np.testing.assert_array_equal(s.labels["fe_h"], labels[:, 2])
    named = read_cyclestarnet(path, wl, label_names=["TEFF", "logg", "mg_fe"])
    assert named.label_names == ["teff", "logg", "mg_fe"]
    val = read_cyclestarnet(path, wl, split="val")
    assert val.n_star == 2 and val.flux_err is None and val.labels == {}
    np.savez(tmp_path / "wl.npz", wavelength=wl)
    assert read_cyclestarnet(path, tmp_path / "wl.npz").n_pix == 30


def test_cyclestarnet_plain_keys_and_errors(tmp_path, cyclestarnet_file):
    path, _, _ = cyclestarnet_file(n_label=len(DEFAULT_LABELS) + 1, suffix="")
    wl = np.linspace(15200, 15230, 30)
    with pytest.raises(GapvizError, match="12 label columns.*pass label_names"):
        read_cyclestarnet(path, wl)
    with pytest.raises(GapvizError, match="12 label columns but 2 label_names"):
        read_cyclestarnet(path, wl, label_names=["teff", "logg"])
    with pytest.raises(GapvizError, match=r"expected \(nstar, 31\)"):
        read_cyclestarnet(path, np.linspace(15200, 15230, 31), label_names=[f"x{i}_fe" for i in range(12)])
    with pytest.raises(GapvizError, match="split 'test'"):
        read_cyclestarnet(cyclestarnet_file()[0], wl, split="test")
