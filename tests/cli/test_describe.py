"""What ``gapviz info`` says about each kind of file (gapviz.cli.describe)."""

from __future__ import annotations

import numpy as np
import pytest

from gapviz.cli import describe
from gapviz.errors import GapvizError
from gapviz.io.spectra import write_spectra
from gapviz.testing.spectra import tiny_spectra, write_raw_h5


def test_describe_spectra_file(tmp_path):
    s = tiny_spectra(n_star=7)
    s.flux_err[0, :4] = np.inf
    text = describe.describe(write_spectra(s, tmp_path / "set.h5"))
    assert "stars: 7" in text and "40 px, 15200.00-15240.00 Å (vacuum)" in text
    teff = s.labels["teff"]
    assert f"{'teff':8s} {teff.min():10.3f} {np.median(teff):10.3f} {teff.max():10.3f}" in text
    assert "percentiles 5/16/50/84/95" in text
    assert f"bad pixels: {100 * 4 / (7 * 40):.2f} %" in text


def test_describe_streams_in_chunks(tmp_path, monkeypatch):
    monkeypatch.setattr(describe, "CHUNK_ROWS", 2)
    s = tiny_spectra(n_star=5)
    s.flux_err[4, :] = 0.02  # S/N halves for the last star: the percentiles must see every chunk
    text = describe.describe(write_spectra(s, tmp_path / "set.h5"))
    snr = np.median(s.flux / s.flux_err, axis=1)
    expect = " / ".join(f"{x:.1f}" for x in np.percentile(snr, [5, 16, 50, 84, 95]))
    assert expect in text


def test_describe_generic_hdf5_and_netcdf(tmp_path):
    truth = write_raw_h5(tmp_path / "truth.h5", {"removed/wavelength": np.arange(3.0), "star_id": np.arange(4)},
                   attrs={"seed": 7})
    text = describe.describe(truth)
    assert "/removed/wavelength  (3,) float64" in text and "seed=7" in text
    store = write_raw_h5(tmp_path / "store.nc", {"flux_obs": np.zeros((2, 3))}, attrs={"Conventions": "CF-1.8"})
    text = describe.describe(store)
    assert "netCDF4" in text and "/flux_obs  (2, 3)" in text


def test_describe_linelist(tmp_path):
    pytest.importorskip("gapviz.io.linelist")
    from gapviz.io.linelist import read_linelist

    path = tmp_path / "lines.csv"
    path.write_text("wavelength,species,loggf,elow_ev,medium\n15200.0,Fe I,-1.0,4.5,vacuum\n"
                    "15300.0,Fe I,-2.0,5.0,vacuum\n15400.0,OH,-5.0,0.5,vacuum\n")
    table = read_linelist(path)  # the reader is another module's; describe must agree with it
    text = describe.describe(path)
    assert f"lines: {len(table)}" in text
    assert "Fe I 2" in text


def test_describe_the_theory_beside_a_store():
    from pathlib import Path

    theory = Path(__file__).resolve().parents[2] / "data_samples" / "store" / "theory.pt"
    text = describe.describe(theory)
    assert "kind: gapviz-theory-fit (torch file)" in text
    assert "labels: teff, logg, fe_h" in text and "grid: 1024 px" in text and "pixel rules" in text


def test_describe_a_torch_file_that_is_not_ours(tmp_path):
    import torch

    torch.save([1, 2, 3], tmp_path / "list.pt")
    with pytest.raises(GapvizError, match="not one gapviz writes"):
        describe.describe(tmp_path / "list.pt")
