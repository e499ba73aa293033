"""`gapviz run --sample linemodel|sme`: short names of the shipped mocks; a mock's theory picks the finder's calibration."""

from __future__ import annotations

from pathlib import Path

from gapviz.cli.run import _sample_dir
from gapviz.workflow.run import theory_calibration

ROOT = Path(__file__).resolve().parents[2]


def test_short_sample_names_point_at_the_shipped_mocks(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # not the checkout: found beside the source
    assert Path(_sample_dir("sme")).resolve() == ROOT / "data_samples" / "mock_sme"
    assert Path(_sample_dir("linemodel")).resolve() == ROOT / "data_samples" / "mock"
    assert _sample_dir("my/own/mock") == "my/own/mock"


def test_the_finder_uses_the_sme_calibration_for_sme_mocks_only():
    assert theory_calibration(ROOT / "data_samples" / "mock_sme" / "truth.h5") == "sme"
    assert theory_calibration(ROOT / "data_samples" / "mock" / "truth.h5") == "none"
