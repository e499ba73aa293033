"""gapviz apply at scale: a dask cluster's store equals one process's; an interrupted run resumes to it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from gapviz.cli import main
from gapviz.errors import GapvizError
from gapviz.store import parts
from gapviz.store.parts import PARTS_DIR
from gapviz.testing.toy import ToyAdaptation, toy_line_depths, write_toy_case
from gapviz.workflow import scale
from gapviz.workflow.analyze import analyze
from gapviz.workflow.apply import apply

CHUNK = 16


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    return write_toy_case(tmp_path_factory.mktemp("scale"), n_star=120, seed=12)


@pytest.fixture(scope="module")
def single(case, tmp_path_factory):
    """The single-process store everything here must equal."""
    out = tmp_path_factory.mktemp("single")
    return apply(None, case.observed, out, adaptation=case.model, chunk_size=CHUNK, progress=False).store_path


def assert_same_store(a: Path, b: Path) -> None:
    """Every variable equal, values, dtypes and attributes (the CF history line aside)."""
    with xr.open_dataset(a, mask_and_scale=False) as x, xr.open_dataset(b, mask_and_scale=False) as y:
        assert sorted(x.variables) == sorted(y.variables)
        for name in x.variables:
            assert x[name].variable.identical(y[name].variable), name
        drop = {"history"}
        assert {k: v for k, v in x.attrs.items() if k not in drop} == {k: v for k, v in y.attrs.items()
                                                                       if k not in drop}


@dataclass
class FailingToy(ToyAdaptation):
    """A toy whose adapted model fails on the ``fail_at``-th chunk: an interruption mid-way."""

    fail_at: int = 3
    calls: int = 0

    def adapted(self, flux, flux_err=None):
        self.calls += 1
        if self.calls == self.fail_at:
            raise RuntimeError("interrupted")
        return super().adapted(flux, flux_err)


def failing(model: ToyAdaptation, fail_at: int) -> FailingToy:
    return FailingToy(model.wavelength, model.lines, model.extra, model.resolution, list(model.label_names),
                      fail_at=fail_at)


def test_a_two_process_cluster_writes_the_single_process_store(case, single, tmp_path):
    result = apply(None, case.observed, tmp_path / "s", adaptation=case.model, chunk_size=CHUNK, workers=2,
                   progress=False)
    assert_same_store(single, result.store_path)
    assert not (tmp_path / "s" / PARTS_DIR).exists()
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == ["store.nc"]


def test_an_existing_cluster_by_its_address(case, single, tmp_path):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, dashboard_address=None,
                                  scheduler_kwargs={"dashboard": False}) as cluster:
        result = apply(None, case.observed, tmp_path / "s", adaptation=case.model, chunk_size=CHUNK,
                       scheduler=cluster.scheduler_address, progress=False)
    assert_same_store(single, result.store_path)


def test_an_interrupted_apply_keeps_its_chunks_and_resumes_on_a_cluster(case, single, tmp_path):
    out = tmp_path / "s"
    with pytest.raises(RuntimeError, match="interrupted"):
        apply(None, case.observed, out, adaptation=failing(case.model, 4), chunk_size=CHUNK, resume=True,
              progress=False)
    assert not (out / "store.nc").exists()
    kept = sorted((out / PARTS_DIR).glob("part-*.h5"))
    assert len(kept) == 3
    result = apply(None, case.observed, out, adaptation=case.model, chunk_size=CHUNK, workers=2, resume=True,
                   progress=False)
    assert result.resumed == 3 and result.n_chunks == 8
    assert "kept 3 of 8 chunk files" in result.summary()
    assert_same_store(single, result.store_path)
    assert not (out / PARTS_DIR).exists()


def test_without_resume_an_interrupted_run_starts_over(case, single, tmp_path):
    out = tmp_path / "s"
    with pytest.raises(RuntimeError, match="interrupted"):
        apply(None, case.observed, out, adaptation=failing(case.model, 2), chunk_size=CHUNK, resume=True,
              progress=False)
    stale = out / PARTS_DIR / "part-0000000000.h5"
    before = stale.stat().st_mtime_ns
    time.sleep(0.01)
    with pytest.raises(RuntimeError, match="interrupted"):  # in parts again, without resume: recomputed
        apply(None, case.observed, out, adaptation=failing(case.model, 2), chunk_size=CHUNK, workers=1,
              progress=False)
    assert stale.stat().st_mtime_ns != before and not (out / "store.nc").exists()
    with pytest.raises(RuntimeError, match="interrupted"):  # one process: the chunk files are removed
        apply(None, case.observed, out, adaptation=failing(case.model, 2), chunk_size=CHUNK, progress=False)
    assert not (out / PARTS_DIR).exists() and not (out / "store.nc").exists()
    assert not list(out.glob(".store.nc.*"))  # nothing half-written beside the store either
    result = apply(None, case.observed, out, adaptation=case.model, chunk_size=CHUNK, workers=1, progress=False)
    assert result.resumed == 0
    assert_same_store(single, result.store_path)
    with pytest.raises(GapvizError, match="a store already exists here"):  # as before: a store is refused
        apply(None, case.observed, out, adaptation=case.model, chunk_size=CHUNK, resume=True, progress=False)


def test_resume_refuses_the_chunks_of_other_inputs(case, tmp_path):
    out = tmp_path / "s"
    with pytest.raises(RuntimeError):
        apply(None, case.observed, out, adaptation=failing(case.model, 2), chunk_size=CHUNK, resume=True,
              progress=False)
    with pytest.raises(GapvizError, match=r"\.apply-parts: the interrupted apply there was for other inputs "
                                          r"\(chunk_size differ: chunk_size=16\); run without --resume"):
        apply(None, case.observed, out, adaptation=case.model, chunk_size=2 * CHUNK, resume=True, progress=False)


def test_a_killed_apply_resumes_to_the_same_store(case, single, tmp_path, monkeypatch):
    """SIGKILL mid-way (no cleanup runs at all): no store.nc, finished chunks kept and reused."""
    out = tmp_path / "s"
    script = textwrap.dedent(f"""
        import time
        from gapviz.testing.toy import ToyAdaptation, standard_toy
        from gapviz.io.grids import sample_wavelength
        from gapviz.workflow.apply import apply

        class Slow(ToyAdaptation):
            def adapted(self, flux, flux_err=None):
                time.sleep(0.4)
                return super().adapted(flux, flux_err)

        m = standard_toy(sample_wavelength())[0]
        slow = Slow(m.wavelength, m.lines, m.extra, m.resolution)
        apply(None, {str(case.observed)!r}, {str(out)!r}, adaptation=slow, chunk_size={CHUNK}, resume=True,
              progress=False)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], env=os.environ | {"OMP_NUM_THREADS": "1"})
    try:
        deadline = time.monotonic() + 120
        while len(list((out / PARTS_DIR).glob("part-*.h5"))) < 2:
            assert proc.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline, "no chunk file written in time"
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert not (out / "store.nc").exists()
    kept = {p.name: p.stat().st_mtime_ns for p in (out / PARTS_DIR).glob("part-*.h5")}
    assert 2 <= len(kept) < 8
    seen = {}
    merge = parts.merge_part

    def spy(writer, start, path, acc):  # the kept chunk files are merged as they were, not rewritten
        seen[path.name] = path.stat().st_mtime_ns
        return merge(writer, start, path, acc)

    monkeypatch.setattr(parts, "merge_part", spy)
    result = apply(None, case.observed, out, adaptation=case.model, chunk_size=CHUNK, resume=True, progress=False)
    assert result.resumed == len(kept)
    assert all(seen[name] == mtime for name, mtime in kept.items())
    assert_same_store(single, result.store_path)


def test_the_commands_take_the_options(case, tmp_path, capsys):
    rc = main(["apply", str(tmp_path / "run"), "--observed", str(case.observed), "--out", str(tmp_path / "s"),
               "--workers", "0"])
    assert rc == 2 and "--workers 0: expected a number of processes >= 1" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["analyze", "R", "--observed", "O", "--linelist", "L", "--out", "S", "--workers", "2",
              "--scheduler", "tcp://x:1"])
    assert "not allowed with argument" in capsys.readouterr().err


def test_analyze_passes_the_options_to_its_apply(case, tmp_path, monkeypatch):
    calls = []
    orig = scale.apply_in_parts

    def spy(*args):
        calls.append(args[-5:-2])  # workers, scheduler, resume
        return orig(*args)

    monkeypatch.setattr(scale, "apply_in_parts", spy)
    r = analyze(None, case.observed, case.linelist, tmp_path / "s", adaptation=case.model,
                line_depths=toy_line_depths, chunk_size=CHUNK, progress=False, resume=True)
    assert calls == [(None, None, True)]
    assert np.isfinite(r.chi2nu_adapted_median) and not (tmp_path / "s" / PARTS_DIR).exists()
