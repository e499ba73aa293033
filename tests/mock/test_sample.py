"""The shipped mock sample (data_samples/mock) follows the contract and is what the code makes today."""

import shlex
from pathlib import Path

import h5py
import numpy as np
import pytest

from gapviz.cli import main
from gapviz.io.spectra import read_spectra
from gapviz.mock.experiment import OUTPUT_FILES
from gapviz.mock.truth import read_truth

SAMPLE = Path(__file__).resolve().parents[2] / "data_samples" / "mock"


def test_sample_is_complete_small_and_consistent():
    assert sorted(p.name for p in SAMPLE.iterdir()) == sorted(OUTPUT_FILES)
    assert sum(p.stat().st_size for p in SAMPLE.iterdir()) < 15e6
    syn, obs = read_spectra(SAMPLE / "synthetic.h5"), read_spectra(SAMPLE / "observed.h5")
    truth = read_truth(SAMPLE / "truth.h5")
    assert syn.n_pix == obs.n_pix == 1024 and syn.n_star == obs.n_star == 2000
    assert obs.labels == {} and syn.flux_err is None
    assert truth.star_id.tolist() == obs.star_id.tolist()
    assert truth.attrs["seed"] == 42 and len(truth.removed) > 50
    assert np.median(truth.chi2nu_theory_true) > 1.2


@pytest.mark.e2e
def test_sample_regenerates_exactly(tmp_path):
    command = shlex.split(read_truth(SAMPLE / "truth.h5").attrs["command"])
    assert command[:3] == ["gapviz", "mock", "data_samples/mock"]
    assert main(["mock", str(tmp_path / "again"), *command[3:]]) == 0
    for name in ("synthetic.h5", "observed.h5"):
        with h5py.File(SAMPLE / name) as a, h5py.File(tmp_path / "again" / name) as b:
            for key in ("flux", "wavelength"):
                assert np.array_equal(a[key][()], b[key][()]), (
                    f"data_samples/mock/{name}:/{key} is stale; regenerate it with: {' '.join(command)} --overwrite"
                )
    for name in ("linelist.csv", "reference_linelist.csv"):
        assert (SAMPLE / name).read_bytes() == (tmp_path / "again" / name).read_bytes(), f"{name} is stale"
