"""gapviz.mock.compare: which differences between two mock folders a Tolerance lets through, and how they read."""

import numpy as np

from gapviz.mock.compare import EXACT, Tolerance, mock_differences
from gapviz.mock.experiment import ERR_BITS, SYNTHETIC_STEP

LOOSE = Tolerance(flux_steps=1, flux_err_steps=1, model_rtol=1e-5, chi2_rtol=1e-4, label_rtol=1e-12)


def test_a_copy_is_the_same_data(tiny_mock_dir, tiny_mock_copy):
    assert mock_differences(tiny_mock_dir, tiny_mock_copy) == []
    assert mock_differences(tiny_mock_dir, tiny_mock_copy, LOOSE) == []


def test_exact_names_each_changed_value(tiny_mock_dir, tiny_mock_copy, edit_h5):
    edit_h5(tiny_mock_copy / "synthetic.h5", "flux", (1, 2), lambda v: v + SYNTHETIC_STEP)
    assert mock_differences(tiny_mock_dir, tiny_mock_copy, EXACT) == [
        f"synthetic.h5:/flux: 1 of {12 * 128} values differ (up to 9.54e-07; 0.07% differ at all)"]
    assert mock_differences(tiny_mock_dir, tiny_mock_copy, LOOSE) == []


def test_flux_err_step_is_relative_and_bad_pixels_exact(tiny_mock_dir, tiny_mock_copy, edit_h5):
    path = tiny_mock_copy / "observed.h5"
    j = int(np.flatnonzero(np.isfinite(_values(path, "flux_err")[0]))[0])

    def one_step(v):
        return v + np.ldexp(1.0, np.frexp(np.float64(v))[1] - ERR_BITS)

    edit_h5(path, "flux_err", (0, j), one_step)
    assert mock_differences(tiny_mock_dir, tiny_mock_copy, LOOSE) == []
    edit_h5(path, "flux_err", (0, j), one_step)  # two steps from the original
    assert [p.split(":")[0:2] for p in mock_differences(tiny_mock_dir, tiny_mock_copy, LOOSE)] == [
        ["observed.h5", "/flux_err"]]
    edit_h5(path, "flux_err", (0, j), np.inf)  # a new bad pixel
    assert mock_differences(tiny_mock_dir, tiny_mock_copy, Tolerance(flux_err_steps=1e9)) == [
        "observed.h5:/flux_err: the non-finite values (bad pixels: flux_err = inf) differ"]


def _values(path, key):
    import h5py

    with h5py.File(path, "r") as f:
        return f[key][()]


def test_ids_line_tables_and_exact_numbers_never_loosen(tiny_mock_dir, tiny_mock_copy, edit_h5):
    edit_h5(tiny_mock_copy / "observed.h5", "star_id", 4, b"mock-999999")
    edit_h5(tiny_mock_copy / "truth.h5", "removed/species", 0, b"Zz I")
    edit_h5(tiny_mock_copy / "truth.h5", "removed/loggf", 0, lambda v: v * (1 + 1e-15))
    edit_h5(tiny_mock_copy / "truth.h5", "snr", 0, lambda v: v * (1 + 1e-15))
    edit_h5(tiny_mock_copy / "synthetic.h5", "labels/teff", 0, lambda v: v * (1 + 1e-15))
    with (tiny_mock_copy / "linelist.csv").open("a") as f:
        f.write("\n")
    found = {p.split(" ")[0] for p in mock_differences(tiny_mock_dir, tiny_mock_copy, LOOSE)}
    assert found == {"observed.h5:/star_id:", "truth.h5:/removed/species:", "truth.h5:/removed/loggf:",
                     "truth.h5:/snr:", "synthetic.h5:/labels/teff:", "linelist.csv:"}


def test_relative_tolerances_apply_to_their_own_fields(tiny_mock_dir, tiny_mock_copy, edit_h5):
    truth = tiny_mock_copy / "truth.h5"
    edit_h5(truth, "removed/depth_max", 0, lambda v: v * (1 + 5e-6))
    edit_h5(truth, "chi2nu_theory_true", 0, lambda v: v * (1 + 5e-5))
    edit_h5(truth, "labels/fe_h", 0, lambda v: v + 1e-13 * abs(v))
    assert mock_differences(tiny_mock_dir, tiny_mock_copy, LOOSE) == []
    assert len(mock_differences(tiny_mock_dir, tiny_mock_copy, EXACT)) == 3
    tighter = Tolerance(flux_steps=1, flux_err_steps=1, model_rtol=1e-6, chi2_rtol=1e-5, label_rtol=1e-14)
    assert [p.split(":")[1] for p in mock_differences(tiny_mock_dir, tiny_mock_copy, tighter)] == [
        "/chi2nu_theory_true", "/labels/fe_h", "/removed/depth_max"]


def test_command_may_name_another_folder_but_not_other_settings(tiny_mock_dir, tmp_path, tiny_mock):
    tiny_mock(tmp_path / "elsewhere", seed=7)
    assert mock_differences(tiny_mock_dir, tmp_path / "elsewhere") == []
    tiny_mock(tmp_path / "other", seed=7, n_synthetic=13)
    problems = mock_differences(tiny_mock_dir, tmp_path / "other")
    assert any(p.startswith("truth.h5: attribute command is") and "'12'" in p and "'13'" in p for p in problems)
    assert "synthetic.h5:/flux: float32(12, 128) here, float32(13, 128) there" in problems


def test_missing_file_and_extra_dataset(tiny_mock_dir, tiny_mock_copy):
    import h5py

    (tiny_mock_copy / "reference_linelist.csv").unlink()
    with h5py.File(tiny_mock_copy / "synthetic.h5", "r+") as f:
        f["extra"] = np.zeros(3)
    assert mock_differences(tiny_mock_dir, tiny_mock_copy) == [
        "synthetic.h5: datasets ['extra'] are in one file only",
        f"reference_linelist.csv: missing in {tiny_mock_copy}",
    ]
