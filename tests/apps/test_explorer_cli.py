"""`gapviz explore STORE_DIR`: checks the store, then serves apps/explorer.py on it."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request

import h5py
import numpy as np
import pytest
import xarray as xr

from apps.store_data import build_store_data, default_store_dir, store_dir_from_argv
from gapviz.cli import main
from gapviz.cli.explore import check_store, command, explorer_script
from gapviz.errors import GapvizError
from gapviz.testing.browser import free_port


def test_missing_store_exits_2_with_message(tmp_path, capsys):
    assert main(["explore", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("gapviz: error:") and "store.nc" in err and "Traceback" not in err


def test_file_that_is_not_a_store_says_what_was_expected(tmp_path, capsys):
    f = tmp_path / "spectra.h5"
    with h5py.File(f, "w") as h:
        h["flux"] = np.ones((2, 3))
    assert main(["explore", str(f)]) == 2
    err = capsys.readouterr().err
    assert str(f) in err and "not a gapviz store" in err and "store.nc" in err


def test_the_command_and_the_explorer_refuse_the_same_stores(tiny_store, tmp_path, capsys):
    """One rule (gapviz.store.open_store with STAR_VARIABLES): a store without per-star spectra is refused
    by `gapviz explore` before serving, with the same message the explorer's page would show."""
    assert check_store(tiny_store) == tiny_store / "store.nc"
    f = tmp_path / "no_err.nc"  # every star x wavelength variable but flux_err
    with xr.open_dataset(tiny_store / "store.nc", engine="h5netcdf") as ds:
        ds.drop_vars("flux_err").to_netcdf(f, engine="h5netcdf")
    with pytest.raises(GapvizError) as page_error:
        build_store_data(f)
    assert main(["explore", str(f)]) == 2
    err = capsys.readouterr().err
    assert str(page_error.value) in err and str(f) in err and "flux_err" in err
    b = tmp_path / "baseline.nc"
    xr.Dataset({"candidate_wavelength": ("candidate", [15200.0])}, coords={"wavelength": np.arange(3.0)},
               attrs={"method": "baseline"}).to_netcdf(b, engine="h5netcdf")
    assert main(["explore", str(b)]) == 2
    assert "baseline store" in capsys.readouterr().err


def test_command_serves_the_explorer_with_the_store_as_args(tiny_store):
    cmd = command(tiny_store / "store.nc", port=5123)
    assert cmd[1:4] == ["-m", "panel", "serve"] and cmd[4] == str(explorer_script())
    assert cmd[-2:] == ["--args", str(tiny_store / "store.nc")]
    assert explorer_script().name == "explorer.py" and explorer_script().is_file()


def test_no_argument_means_the_shipped_sample():
    assert store_dir_from_argv(["explorer.py"]) == default_store_dir()
    assert default_store_dir().parts[-2:] == ("data_samples", "store")
    assert str(store_dir_from_argv(["explorer.py", "/data/run1"])) == "/data/run1"


@pytest.mark.e2e
def test_gapviz_explore_serves_the_page(tiny_store, tmp_path):
    port = free_port()
    log = open(tmp_path / "server.log", "wb")  # a file, not a pipe nobody reads (it would fill and block)
    proc = subprocess.Popen([sys.executable, "-m", "gapviz", "explore", str(tiny_store), "--port", str(port)],
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        html = None
        for _ in range(600):
            try:
                html = urllib.request.urlopen(f"http://localhost:{port}/explorer", timeout=60).read().decode()
                break
            except OSError:
                assert proc.poll() is None, (tmp_path / "server.log").read_text()
                time.sleep(0.2)
        assert html and "<title>gapviz explorer</title>" in html
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def test_workbench_serves_apps_workbench_with_the_repair_and_refuses_a_store_without_one(tiny_store, capsys):
    cmd = command(tiny_store / "store.nc", port=5123, repair=tiny_store / "repair", workbench=True)
    assert cmd[4] == str(explorer_script("workbench.py")) and explorer_script("workbench.py").is_file()
    assert "--warm" not in cmd and cmd[-4:] == ["--args", str(tiny_store / "store.nc"), "--repair",
                                                str(tiny_store / "repair")]
    assert main(["explore", str(tiny_store), "--workbench"]) == 2  # no STORE_DIR/repair and no --repair
    err = capsys.readouterr().err
    assert "no repair to review" in err and "gapviz repair" in err and "Traceback" not in err
