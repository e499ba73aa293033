"""gapviz.files.staged_folder: a folder of files appears whole or not at all."""

from __future__ import annotations

import pytest

from gapviz.errors import GapvizError
from gapviz.files import staged_folder


def _refuse(out_dir):
    raise GapvizError(f"{out_dir}: refused")


def test_a_new_folder_appears_whole_and_no_staging_folder_stays(tmp_path):
    out = tmp_path / "sub" / "out"
    with staged_folder(out, ["a.txt", "report.json"]) as staging:
        (staging / "a.txt").write_text("a")
        (staging / "report.json").write_text("{}")
        assert not out.exists()
    assert sorted(p.name for p in out.iterdir()) == ["a.txt", "report.json"]
    assert [p.name for p in out.parent.iterdir()] == ["out"]


def test_an_error_leaves_an_existing_folder_as_it_was(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.txt").write_text("old")
    with pytest.raises(RuntimeError):
        with staged_folder(out, ["a.txt"]) as staging:
            (staging / "a.txt").write_text("new")
            raise RuntimeError("half-way")
    assert (out / "a.txt").read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["out"]
    with pytest.raises(GapvizError, match="refused"):
        with staged_folder(out, ["a.txt"], _refuse) as staging:
            (staging / "a.txt").write_text("new")
    assert (out / "a.txt").read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["out"]
    with staged_folder(out, ["a.txt"]) as staging:  # no check: the files are replaced, others stay
        (staging / "a.txt").write_text("new")
    assert (out / "a.txt").read_text() == "new"
