"""gapviz.workflow.ingest: many files → one spectra file and a report; bad files skipped and reported, the
same content whatever the number of workers, nothing left behind by an interruption or a failure."""

from __future__ import annotations

import csv
from pathlib import Path

import h5py
import numpy as np
import pytest

import gapviz.io.ingest as io_ingest
from gapviz.errors import GapvizError
from gapviz.io.append import SpectraAppender
from gapviz.io.spectra import read_spectra
from gapviz.workflow.ingest import expand_paths, ingest, report_path

from ..ingest_files import GOOD, broken_files


@pytest.fixture
def inputs(tmp_path) -> list[Path]:
    """The 5 shipped files with a truncated FITS and a junk file among them."""
    truncated, junk = broken_files(tmp_path / "bad", "apStar-truncated.fits", "junk.bin", keep_bytes=100_000)
    return GOOD[:2] + [truncated] + GOOD[2:4] + [junk] + GOOD[4:]


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def _content(path: Path) -> dict:
    out = {}
    with h5py.File(path) as f:
        f.visititems(lambda name, obj: out.__setitem__(name, obj[()]) if isinstance(obj, h5py.Dataset) else None)
        out["attrs"] = dict(f.attrs)
    return out


def test_ingest_writes_the_good_files_and_reports_the_bad(tmp_path, inputs):
    out = tmp_path / "out" / "observed.h5"
    result = ingest(inputs, out, progress=False)
    assert (result.n_files, result.n_ok, len(result.skipped)) == (7, 5, 2)
    s = read_spectra(out)
    assert s.n_star == 5 and s.n_pix == 7214 and s.domain == "observed"
    assert s.labels == {}  # header values are not labels
    assert list(s.star_id) == ["2M17335483-2753043", "2M19485057+5005279", "2M01183798+8403419",
                               "2M00242666+5341178", "2M19410822+4019319"]
    with h5py.File(out) as f:
        np.testing.assert_allclose(f["header_labels/teff"][:4], [3676.877, 5226.245, 6500.0, 4500.0], atol=1e-3)
        assert np.isnan(f["header_labels/teff"][4])
        assert f["header_labels/teff"].attrs["units"] == "K"
        assert "not ASPCAP labels" in f["header_labels"].attrs["description"]
        np.testing.assert_allclose(f["snr"][:4], [154.155, 137.489, 44.967, 89.595], atol=1e-3)
        assert f["flux_err_estimated"][:].tolist() == [0, 0, 0, 0, 1]
        assert f.attrs["ingest_grid"] == "aspcap"
    with open(report_path(out), newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["status"] for r in rows] == ["ok", "ok", "skipped", "ok", "ok", "skipped", "ok"]
    assert [r["row"] for r in rows if r["status"] == "ok"] == ["0", "1", "2", "3", "4"]
    assert "truncated" in rows[2]["reason"] and "unknown file kind" in rows[5]["reason"]
    assert rows[0]["star_id"] == "2M17335483-2753043" and rows[0]["snr"] == "154.16"
    assert rows[2]["path"] == str(inputs[2])
    assert "1 more" not in result.warning() and result.warning().startswith("2 of 7 files skipped")
    assert _leftovers(out.parent) == ["observed.h5", "observed.ingest.csv"]


def test_two_workers_write_the_same_content_as_one(tmp_path, inputs):
    one = ingest(inputs, tmp_path / "one.h5", workers=1, progress=False)
    two = ingest(inputs, tmp_path / "two.h5", workers=2, progress=False)
    a, b = _content(one.out), _content(two.out)
    a["attrs"].pop("ingest_report"), b["attrs"].pop("ingest_report")
    assert a.keys() == b.keys()
    for key in a:
        if isinstance(a[key], np.ndarray):
            np.testing.assert_array_equal(a[key], b[key], err_msg=key)
        else:
            assert a[key] == b[key], key
    assert one.report.read_text() == two.report.read_text()


def test_small_chunks_give_the_same_rows(tmp_path, inputs):
    big = ingest(inputs, tmp_path / "big.h5", progress=False)
    small = ingest(inputs, tmp_path / "small.h5", progress=False, chunk_rows=2)
    np.testing.assert_array_equal(read_spectra(big.out).flux, read_spectra(small.out).flux)


def test_interrupt_while_reading_leaves_nothing(tmp_path, inputs, monkeypatch):
    calls = []
    real = io_ingest.read_for_ingest

    def interrupted(path, grid="aspcap"):
        calls.append(path)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(path, grid)

    monkeypatch.setattr(io_ingest, "read_for_ingest", interrupted)
    out = tmp_path / "o" / "observed.h5"
    out.parent.mkdir()
    with pytest.raises(KeyboardInterrupt):
        ingest(inputs, out, progress=False, chunk_rows=1)  # two rows already flushed to the temporary file
    assert _leftovers(out.parent) == []


def test_interrupt_with_workers_leaves_nothing(tmp_path, inputs, monkeypatch):
    real = SpectraAppender.append

    def append(self, *a, **k):
        if self.n_star == 2:
            raise KeyboardInterrupt
        return real(self, *a, **k)

    monkeypatch.setattr(SpectraAppender, "append", append)
    with pytest.raises(KeyboardInterrupt):
        ingest(inputs, tmp_path / "observed.h5", workers=2, progress=False, chunk_rows=1)
    assert _leftovers(tmp_path) == ["bad"]


def test_existing_output_is_refused_without_overwrite(tmp_path, inputs):
    out = tmp_path / "observed.h5"
    ingest(inputs[:2], out, progress=False)
    before = out.read_bytes()
    with pytest.raises(GapvizError, match=f"{out}: already exists.*--overwrite"):
        ingest(inputs, out, progress=False)
    assert out.read_bytes() == before
    out.unlink()  # the report alone is refused too
    with pytest.raises(GapvizError, match="observed.ingest.csv: already exists"):
        ingest(inputs, out, progress=False)
    result = ingest(inputs, out, overwrite=True, progress=False)
    assert read_spectra(out).n_star == result.n_ok == 5


def test_nothing_readable_is_an_error_with_a_report(tmp_path, inputs):
    out = tmp_path / "observed.h5"
    with pytest.raises(GapvizError, match=r"none of the 2 files could be read .*apStar-truncated.fits: not a readable"):
        ingest([inputs[2], inputs[5]], out, progress=False)
    assert _leftovers(tmp_path) == ["bad", "observed.ingest.csv"]
    assert report_path(out).read_text().count("skipped") == 2


def test_a_directory_stands_for_its_files_without_the_output(tmp_path, inputs):
    folder = tmp_path / "in"
    folder.mkdir()
    for p in inputs:
        (folder / p.name).write_bytes(p.read_bytes())
    (folder / ".hidden").write_text("x")
    out = folder / "observed.h5"
    first = ingest([folder], out, progress=False)
    assert (first.n_files, first.n_ok) == (7, 5)
    again = ingest([folder], out, overwrite=True, progress=False)  # its own output and report are not inputs
    assert (again.n_files, again.n_ok) == (7, 5)
    assert [p.name for p in expand_paths([folder], exclude=(out,))][:2] == ["apStar-dr17-2M17335483-2753043.fits",
                                                                           "apStar-dr17-2M19485057+5005279.fits"]


def test_sample_grid(tmp_path):
    result = ingest(GOOD[:1], tmp_path / "s.h5", grid="sample", progress=False)
    assert read_spectra(result.out).n_pix == 1024


@pytest.mark.parametrize("kw, message", [({"workers": 0}, "--workers 0"), ({"grid": "native"}, "--grid 'native'")])
def test_bad_options(tmp_path, kw, message):
    with pytest.raises(GapvizError, match=message):
        ingest(GOOD[:1], tmp_path / "o.h5", progress=False, **kw)


def test_output_that_is_a_directory_is_refused(tmp_path):
    with pytest.raises(GapvizError, match="is a directory"):
        ingest(GOOD[:1], tmp_path, progress=False)
