"""`gapviz ingest`: real APOGEE files and a text spectrum with a truncated FITS and a junk file among them
→ rc 0, the good ones written, a one-line warning; user errors one line without a traceback; Ctrl-C (a real
SIGINT, workers running) leaves neither output nor temporary file."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

import gapviz.io.ingest as io_ingest
from gapviz.cli import main
from gapviz.io.spectra import read_spectra

from ..ingest_files import GOOD, broken_files


@pytest.fixture
def inputs(tmp_path) -> list[str]:
    return [str(p) for p in GOOD + list(broken_files(tmp_path))]


def test_ingest_then_info(tmp_path, inputs, capsys):
    out = tmp_path / "observed.h5"
    assert main(["ingest", *inputs, "--out", str(out), "--workers", "2"]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("5 spectra from 7 files on the aspcap grid (7214 px)")
    assert f"wrote: {out}" in captured.out and f"report: {tmp_path / 'observed.ingest.csv'}" in captured.out
    err = captured.err.splitlines()
    assert len(err) == 1 and err[0].startswith("gapviz: warning: 2 of 7 files skipped (reasons in ")
    assert "first: truncated.fits: not a readable FITS file" in err[0]
    assert read_spectra(out).n_star == 5
    assert main(["info", str(out)]) == 0
    info = capsys.readouterr().out
    assert "stars: 5" in info and "= the ASPCAP grid" in info and "labels: none" in info


def test_no_warning_when_every_file_is_read(tmp_path, capsys):
    assert main(["ingest", str(GOOD[0]), "--out", str(tmp_path / "o.h5"), "--grid", "sample"]) == 0
    captured = capsys.readouterr()
    assert captured.err == "" and "1 spectra from 1 files on the sample grid (1024 px)" in captured.out


@pytest.mark.parametrize("extra, message", [
    (["--workers", "0"], "gapviz: error: --workers 0: expected a number of processes >= 1"),
    ([], "already exists; refusing to overwrite it (pass --overwrite to replace it)"),
])
def test_user_errors_are_one_line(tmp_path, extra, message, capsys):
    out = tmp_path / "o.h5"
    if not extra:
        out.write_bytes(b"keep me")
    assert main(["ingest", str(GOOD[0]), "--out", str(out), *extra]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and "Traceback" not in err
    if not extra:
        assert out.read_bytes() == b"keep me"


def test_nothing_readable_is_one_line_error(tmp_path, inputs):
    out = tmp_path / "o.h5"
    proc = subprocess.run([sys.executable, "-m", "gapviz", "ingest", *inputs[-2:], "--out", str(out)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.startswith("gapviz: error: none of the 2 files could be read") and proc.stderr.count("\n") == 1
    assert not out.exists() and (tmp_path / "o.ingest.csv").exists()


def test_interrupt_in_process_leaves_nothing(tmp_path, inputs, monkeypatch, capsys):
    real = io_ingest.read_for_ingest
    seen = []

    def read(path, grid="aspcap"):
        seen.append(path)
        if len(seen) == 4:
            raise KeyboardInterrupt
        return real(path, grid)

    monkeypatch.setattr(io_ingest, "read_for_ingest", read)
    out_dir = tmp_path / "out"
    assert main(["ingest", *inputs, "--out", str(out_dir / "observed.h5")]) == 130
    assert capsys.readouterr().err == "gapviz: interrupted\n"
    assert list(out_dir.iterdir()) == []


def _as_from_a_terminal() -> None:
    """A shell that starts pytest in the background (`pytest &`, `nohup`) leaves SIGINT ignored; children inherit
    that, and Python then never turns Ctrl-C into KeyboardInterrupt (seen: the child read all 1500 files and
    exited 0). Give the child what a terminal gives it."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGINT, signal.SIGTERM])


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_with_workers_leaves_nothing(tmp_path, signum):
    """A real Ctrl-C (or a batch system's SIGTERM) to the gapviz process while two workers read: exit 130, no
    output, no temporary file."""
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(1500):
        (folder / f"v{i:04d}.fits").symlink_to(GOOD[2 + i % 2])
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    proc = subprocess.Popen([sys.executable, "-m", "gapviz", "ingest", str(folder), "--out", str(out_dir / "o.h5"),
                             "--workers", "2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=_as_from_a_terminal)
    deadline = time.monotonic() + 60
    while not any(p.name.endswith(".tmp") for p in out_dir.iterdir()):  # the temporary output exists: rows flow
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.05)
    time.sleep(0.3)
    os.kill(proc.pid, signum)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, (proc.returncode, stdout, stderr, sorted(p.name for p in out_dir.iterdir()))
    assert stderr.endswith("gapviz: interrupted\n") and "Traceback" not in stderr
    assert list(out_dir.iterdir()) == []
