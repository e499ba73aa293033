"""`gapviz mock` through the CLI on the 1024-pixel sample grid with the shipped line lists (slow-ish)."""

import h5py
import numpy as np
import pytest

from gapviz.cli import main
from gapviz.io.spectra import read_spectra
from gapviz.mock.truth import read_truth


def _datasets(path):
    out = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, obj: out.__setitem__(name, obj[()]) if isinstance(obj, h5py.Dataset) else None)
    return out


@pytest.mark.e2e
def test_cli_run_is_deterministic(tmp_path, capsys):
    args = ["--seed", "1", "--n-synthetic", "40", "--n-observed", "60"]
    assert main(["mock", str(tmp_path / "a"), *args]) == 0
    assert "removed" in capsys.readouterr().out
    assert main(["mock", str(tmp_path / "b"), *args]) == 0
    for name in ("synthetic.h5", "observed.h5", "truth.h5"):
        a, b = _datasets(tmp_path / "a" / name), _datasets(tmp_path / "b" / name)
        assert a.keys() == b.keys()
        for k in a:
            np.testing.assert_array_equal(a[k], b[k], err_msg=f"{name}:{k}")
    for name in ("linelist.csv", "reference_linelist.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    obs = read_spectra(tmp_path / "a" / "observed.h5")
    assert obs.n_pix == 1024 and obs.n_star == 60
    truth = read_truth(tmp_path / "a" / "truth.h5")
    assert "--seed 1" in truth.attrs["command"] and truth.attrs["seed"] == 1
    assert len(truth.removed) > 0
    assert main(["mock", str(tmp_path / "a"), *args]) == 2  # exists, no --overwrite
    assert main(["mock", str(tmp_path / "a"), *args, "--overwrite"]) == 0
