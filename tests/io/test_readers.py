"""gapviz.io.readers: every supported file kind recognised by its content (detect_kind) and read (read_any)."""

from __future__ import annotations

import numpy as np
import pytest

from gapviz.errors import GapvizError
from gapviz.io import readers
from gapviz.io.spectra import write_spectra


def test_read_any_dispatches_by_content(tmp_path, raw_h5, apogee_files, make_spectra, cyclestarnet_file):
    spectra_path = write_spectra(make_spectra(), tmp_path / "renamed.dat")  # suffix does not matter
    assert readers.detect_kind(spectra_path) == "spectra"
    assert readers.read_any(spectra_path).n_star == 5
    csn, _, _ = cyclestarnet_file()
    assert readers.detect_kind(csn) == "cyclestarnet"
    with pytest.raises(GapvizError, match="pass wavelength="):
        readers.read_any(csn)
    assert readers.read_any(csn, wavelength=np.linspace(15200, 15230, 30)).n_star == 4
    assert readers.detect_kind(apogee_files["apstar"][0]) == "apstar"
    assert readers.detect_kind(apogee_files["apvisit"][0]) == "apvisit"
    assert readers.read_any(apogee_files["apvisit"][0]).n_pix == 7214
    assert readers.read_any(apogee_files["apstar"][0], grid="aspcap").n_pix == 7214
    assert readers.detect_kind(apogee_files["text"]) == "text"
    truth = raw_h5(tmp_path / "truth.h5", {"removed/wavelength": np.arange(3.0), "labels/teff": np.ones(2)})
    assert readers.detect_kind(truth) == "hdf5"
    with pytest.raises(GapvizError, match="not spectra"):
        readers.read_any(truth)
    (tmp_path / "blob.bin").write_bytes(b"\x00\x01\x02garbage")
    with pytest.raises(GapvizError, match="unknown file kind"):
        readers.read_any(tmp_path / "blob.bin")


def test_detect_kind_of_the_other_gapviz_files(tmp_path, raw_h5):
    """Line lists, candidate tables, score files and stores are recognised, and read_any refuses them as spectra."""
    from gapviz.io.linelist import linemake_paths

    moog = linemake_paths()[0]
    (tmp_path / "cand.csv").write_text("wavelength,score,significance\n15200.0,1.0,5.0\n")
    (tmp_path / "lines.csv").write_text("wavelength,species,loggf,elow_ev,medium\n15200.0,Fe I,-1,5,vacuum\n")
    (tmp_path / "score.json").write_text("{}")
    store = raw_h5(tmp_path / "store.h5", {"wavelength": np.arange(3.0)}, attrs={"Conventions": "CF-1.8"})
    kinds = {p.name: readers.detect_kind(p) for p in (moog, tmp_path / "cand.csv", tmp_path / "lines.csv",
                                                      tmp_path / "score.json", store)}
    assert kinds == {moog.name: "linelist", "cand.csv": "candidates", "lines.csv": "linelist",
                     "score.json": "score", "store.h5": "netcdf"}
    with pytest.raises(GapvizError, match="a linelist file, not spectra"):
        readers.read_any(moog)
