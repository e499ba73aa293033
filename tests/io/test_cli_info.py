"""`gapviz info` on good files: what it prints for each kind."""

from __future__ import annotations

import re

import numpy as np
import pytest

from gapviz.cli import main
from gapviz.io.spectra import write_spectra


def test_info_on_the_real_apogee_samples(apogee_files, capsys):
    paths = [*apogee_files["apstar"], *apogee_files["apvisit"], apogee_files["text"]]
    assert main(["info", *map(str, paths)]) == 0
    out = capsys.readouterr().out
    blocks = out.strip().split("\n\n")
    assert len(blocks) == 5
    for path, block in zip(paths, blocks):
        assert block.startswith(str(path))
        assert "stars: 1" in block
        bad = float(re.search(r"bad pixels: ([0-9.]+) %", block).group(1))
        assert 0.0 < bad < 50.0
    assert "= the apStar native grid" in blocks[0] and "8575 px" in blocks[0]
    assert "7214 px, 15168.13-16936.75 Å (vacuum)" in blocks[2] and "= the ASPCAP grid" in blocks[2]
    assert "teff=3676.88, logg=0.53, fe_h=-0.29" in blocks[0]
    snr = float(re.search(r"S/N \(median flux/flux_err\): ([0-9.]+)", blocks[0]).group(1))
    assert 100 < snr < 250  # header SNR is 154
    assert "S/N: no flux_err" in blocks[4]


def test_info_on_a_spectra_set(tmp_path, make_spectra, capsys):
    s = make_spectra(n_star=6)
    s.flux_err[:] = 0.05
    path = write_spectra(s, tmp_path / "observed.h5")
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "gapviz spectra (HDF5), domain synthetic" in out and "stars: 6" in out
    for name in ("teff", "logg", "fe_h"):
        assert re.search(rf"^\s+{name}\s+[-0-9.]+\s+[-0-9.]+\s+[-0-9.]+$", out, re.M)
    median_snr = np.median(np.median(s.flux / s.flux_err, axis=1))
    assert f"/ {median_snr:.1f} /" in out
    assert "bad pixels: 0.00 %" in out


def test_info_on_truth_and_store_prints_structure(tmp_path, raw_h5, capsys):
    truth = raw_h5(tmp_path / "truth.h5", {"removed/wavelength": np.arange(5.0), "removed/species": np.array([b"Fe I"] * 5),
                                           "labels/teff": np.ones(3), "star_id": np.array([b"a", b"b", b"c"])},
                   attrs={"resolution": 22500.0})
    store = raw_h5(tmp_path / "store.nc", {"wavelength": np.arange(4.0), "flux_err": np.ones((2, 4))},
                   attrs={"Conventions": "CF-1.8"})
    assert main(["info", str(truth), str(store)]) == 0
    out = capsys.readouterr().out
    assert "/removed/wavelength  (5,)" in out and "/labels/teff  (3,)" in out and "resolution=22500.0" in out
    assert "netCDF4" in out and "/flux_err  (2, 4)" in out


def test_info_on_a_line_list(tmp_path, capsys):
    pytest.importorskip("gapviz.io.linelist")
    path = tmp_path / "lines.csv"
    path.write_text("wavelength,species,loggf,elow_ev,medium\n15200.0,Fe I,-1.0,4.5,vacuum\n"
                    "15300.0,OH,-5.0,0.5,vacuum\n15400.0,Fe I,-2.0,5.0,vacuum\n")
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "lines: 3" in out and "Fe I 2" in out and "OH 1" in out
    assert re.search(r"wavelength: 152\d\d\.\d\d-154\d\d\.\d\d Å", out)


def test_info_summarises_the_shipped_analysis_outputs(capsys):
    """candidates.csv and score.json of the shipped store are described, not rejected."""
    from pathlib import Path

    from gapviz.cli import main

    store = Path(__file__).resolve().parents[2] / "data_samples" / "store"
    assert main(["info", str(store / "candidates.csv"), str(store / "score.json")]) == 0
    out = capsys.readouterr().out
    assert "candidate missing-line table" in out and "absent from the line list" in out
    import pandas as pd

    table = pd.read_csv(store / "candidates.csv")
    absent = int(((~table["in_linelist"].astype(bool)) & (table["depth"] > 0)).sum())
    assert f"({absent} absorption features absent from the line list)" in out  # as `gapviz analyze` counts them
    assert "precision" in out and "baseline" in out


def test_info_rejects_a_foreign_json(tmp_path, capsys):
    from gapviz.cli import main

    path = tmp_path / "other.json"
    path.write_text('{"a": 1}')
    assert main(["info", str(path)]) == 2
    assert "not a gapviz score.json" in capsys.readouterr().err
