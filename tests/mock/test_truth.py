import numpy as np
import pandas as pd
import pytest

from gapviz.errors import GapvizError
from gapviz.mock.truth import Truth, read_truth, write_truth


def test_truth_round_trip(tmp_path):
    removed = pd.DataFrame({"wavelength": [15200.1, 15300.2], "species": ["CN", "Fe I"], "element": ["N", "Fe"],
                            "label": ["n_fe", "fe_h"], "loggf": [-1.0, -2.0], "depth_ref": [0.1, 0.05],
                            "blended": [True, False]})
    perturbed = pd.DataFrame({"wavelength": np.zeros(0), "species": np.zeros(0, str), "delta_loggf": np.zeros(0)})
    t = Truth(removed, perturbed, {"teff": np.array([4700.0, 5000.0])}, np.array(["mock-000000", "mock-000001"]),
              np.array([60.0, 90.0]), np.array([3.0, 4.0]), {"seed": 3, "command": "gapviz mock x"})
    write_truth(t, tmp_path / "truth.h5")
    back = read_truth(tmp_path / "truth.h5")
    pd.testing.assert_frame_equal(back.removed[removed.columns], removed)
    assert back.star_id.tolist() == ["mock-000000", "mock-000001"]
    assert back.attrs["seed"] == 3 and back.attrs["command"] == "gapviz mock x"
    assert len(back.perturbed) == 0


def test_read_truth_rejects_other_files(tmp_path):
    with pytest.raises(GapvizError, match="no such file"):
        read_truth(tmp_path / "nope.h5")
    (tmp_path / "x.h5").write_text("not hdf5")
    with pytest.raises(GapvizError, match="HDF5"):
        read_truth(tmp_path / "x.h5")


def test_labels_and_columns_come_back_in_experiment_order(tmp_path):
    removed = pd.DataFrame({"wavelength": [15200.1], "species": ["CN"], "blended": [False]})
    perturbed = pd.DataFrame({"wavelength": [15201.0], "species": ["CO"], "delta_loggf": [0.1]})
    labels = {"teff": np.array([4700.0]), "logg": np.array([2.5]), "fe_h": np.array([0.0])}
    t = Truth(removed, perturbed, labels, np.array(["mock-000000"]), np.array([60.0]), np.array([3.0]),
              {"label_names": "teff,logg,fe_h"})
    write_truth(t, tmp_path / "truth.h5")
    back = read_truth(tmp_path / "truth.h5")
    assert list(back.labels) == ["teff", "logg", "fe_h"]
    assert list(back.removed.columns) == ["wavelength", "species", "blended"]
