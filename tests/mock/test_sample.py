"""The shipped mock sample (data_samples/mock) follows the contract and is what the code makes today.

Regenerating it must give the same data within ``TOLERANCE`` (gapviz.mock.compare says what each field may
loosen; everything else, from star ids to the removed-line table's line data, must match exactly). Measured
(seed 42, 2000 + 2000 stars): on the machine that made the sample the files regenerate byte-identical; with
torch's portable CPU kernels (ATEN_CPU_CAPABILITY=default, one thread) and numpy's baseline SIMD
(NPY_DISABLE_CPU_FEATURES) 0.018 % of synthetic and 0.008 % of observed flux values move by exactly one stored
step (9.5e-7, 7.6e-6), one flux_err by one 2^-10 step, the removed lines' depths by ≤ 1.5e-7 relative,
χ²ν(theory, true labels) by ≤ 6.9e-6 relative and the observed stars' labels by ≤ 3e-15 relative. A user's
machine (numpy 2.4.6, torch 2.13.0+cpu) saw one synthetic step in 0.3 % of the values.
"""

import shlex
from pathlib import Path

import numpy as np
import pytest

from gapviz.cli import main
from gapviz.io.spectra import read_spectra
from gapviz.mock.compare import Tolerance, mock_differences
from gapviz.mock.effects import ObservingEffects
from gapviz.mock.experiment import OBSERVED_STEP, OUTPUT_FILES, SYNTHETIC_STEP
from gapviz.mock.truth import read_truth

SAMPLE = Path(__file__).resolve().parents[2] / "data_samples" / "mock"

#: One stored step of flux (2^-20 synthetic, 2^-17 observed) and of flux_err (2^-10 relative); float32 line
#: model numbers in the truth to 1e-5 relative, χ²ν to 1e-4, the observed stars' labels to 1e-12.
TOLERANCE = Tolerance(flux_steps=1, flux_err_steps=1, model_rtol=1e-5, chi2_rtol=1e-4, label_rtol=1e-12)


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
def test_sample_regenerates_within_tolerance(tmp_path):
    command = shlex.split(read_truth(SAMPLE / "truth.h5").attrs["command"])
    assert command[:3] == ["gapviz", "mock", "data_samples/mock"]
    assert main(["mock", str(tmp_path / "again"), *command[3:]]) == 0
    problems = mock_differences(SAMPLE, tmp_path / "again", TOLERANCE)
    assert problems == [], (
        "data_samples/mock is stale (beyond the tolerance in tests/mock/test_sample.py); regenerate it with "
        f"{shlex.join(command)} --overwrite:\n" + "\n".join(problems)
    )


def test_tolerance_allows_one_rounding_step_only(tiny_mock_copy, tiny_mock_dir, edit_h5):
    """What a CPU's last bits can do passes; one step more fails."""
    edit_h5(tiny_mock_copy / "synthetic.h5", "flux", (0, 5), lambda v: v + SYNTHETIC_STEP)
    edit_h5(tiny_mock_copy / "observed.h5", "flux", (3, 7), lambda v: v - OBSERVED_STEP)
    edit_h5(tiny_mock_copy / "truth.h5", "labels/teff", 2, lambda v: v * (1 + 1e-15))
    assert mock_differences(tiny_mock_dir, tiny_mock_copy, TOLERANCE) == []
    edit_h5(tiny_mock_copy / "observed.h5", "flux", (3, 8), lambda v: v + 2 * OBSERVED_STEP)
    assert mock_differences(tiny_mock_dir, tiny_mock_copy, TOLERANCE) == [
        (f"observed.h5:/flux: 1 of {15 * 128} values differ by more than 1 step(s) of 7.63e-06 "
         "(up to 1.53e-05; 0.10% differ at all)")]


def _changed(tiny_lines, change):
    if change == "loggf":  # the strongest line 0.01 dex stronger: a line-list change, not in the attributes
        tiny_lines.loc[tiny_lines["loggf"].idxmax(), "loggf"] += 0.01
        return {"lines": tiny_lines}
    return {"seed": {"seed": 8}, "resolution_observed": {"effects": ObservingEffects(resolution_observed=20000.5)},
            "snr_range": {"effects": ObservingEffects(snr_range=(50.0, 200.01))}}[change]


@pytest.mark.parametrize("change", ["seed", "loggf", "resolution_observed", "snr_range"])
def test_tolerance_catches_a_changed_mock(tmp_path, tiny_mock, tiny_mock_dir, tiny_lines, change):
    """A real change of the mock fails the check through its data, not only through its recorded settings,
    even one that moves no flux by more than a step (the S/N range: only the noise scales)."""
    tiny_mock(tmp_path / "changed", **{"seed": 7, **_changed(tiny_lines, change)})
    problems = mock_differences(tiny_mock_dir, tmp_path / "changed", TOLERANCE)
    assert [p for p in problems if ": attribute " not in p] != []
