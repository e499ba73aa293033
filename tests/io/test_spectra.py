"""The HDF5 spectra contract: round trip, atomic writes, streaming reads."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from gapviz.errors import GapvizError
from gapviz.io.spectra import Spectra, SpectraFile, read_spectra, write_spectra


def test_round_trip_keeps_everything(tmp_path, tiny):
    path = write_spectra(tiny, tmp_path / "set.h5")
    back = read_spectra(path)
    np.testing.assert_array_equal(back.wavelength, tiny.wavelength)
    np.testing.assert_array_equal(back.flux, tiny.flux)
    np.testing.assert_array_equal(back.flux_err, tiny.flux_err)
    assert back.label_names == tiny.label_names
    for name in tiny.labels:
        np.testing.assert_array_equal(back.labels[name], tiny.labels[name])
    assert back.star_id.tolist() == tiny.star_id.tolist()
    assert back.domain == "synthetic"
    assert back.source == str(path)


def test_round_trip_without_optional_parts(tmp_path):
    s = Spectra(wavelength=[15000.0, 15000.2, 15000.4], flux=[[1.0, 0.9, 1.0]])
    back = read_spectra(write_spectra(s, tmp_path / "bare.h5"))
    assert back.flux_err is None and back.star_id is None and back.domain is None and back.labels == {}
    np.testing.assert_array_equal(back.flux, s.flux)


def test_unusable_pixels_survive_round_trip(tmp_path, tiny):
    tiny.flux_err[1, 3] = np.inf
    tiny.flux[2, 4] = np.nan
    back = read_spectra(write_spectra(tiny, tmp_path / "masked.h5"))
    usable = back.usable()
    assert not usable[1, 3] and not usable[2, 4]
    assert usable.sum() == usable.size - 2


def test_failed_write_leaves_existing_file_intact(tmp_path, tiny, make_spectra):
    path = write_spectra(tiny, tmp_path / "keep.h5")
    before = path.read_bytes()
    bad = make_spectra(n_star=2)
    bad.labels["teff"] = np.array([1.0, 2.0, 3.0])  # wrong length: rejected by validation inside the write
    with pytest.raises(GapvizError, match="labels/teff"):
        write_spectra(bad, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["keep.h5"]  # no temporary file left behind


def test_write_interrupted_midway_leaves_old_file(tmp_path, tiny, make_spectra, monkeypatch):
    path = write_spectra(tiny, tmp_path / "keep.h5")
    before = path.read_bytes()
    original = h5py.Group.create_group

    def boom(self, name, *a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(h5py.Group, "create_group", boom)
    with pytest.raises(KeyboardInterrupt):
        write_spectra(make_spectra(n_star=3, seed=9), path)
    monkeypatch.setattr(h5py.Group, "create_group", original)
    assert path.read_bytes() == before
    assert read_spectra(path).n_star == tiny.n_star
    assert len(list(tmp_path.iterdir())) == 1


def test_refuses_overwrite_when_asked(tmp_path, tiny):
    path = write_spectra(tiny, tmp_path / "a.h5")
    with pytest.raises(GapvizError, match="already exists"):
        write_spectra(tiny, path, overwrite=False)


def test_spectrafile_streams_rows_by_slice_and_index(tmp_path, make_spectra):
    s = make_spectra(n_star=12, seed=3)
    path = write_spectra(s, tmp_path / "stream.h5")
    with SpectraFile(path) as f:
        assert f.n_star == 12 and f.has_flux_err
        np.testing.assert_array_equal(f.wavelength, s.wavelength)
        assert set(f.labels) == {"teff", "logg", "fe_h"}
        part = f.read(slice(2, 5))
        np.testing.assert_array_equal(part.flux, s.flux[2:5])
        index = np.array([7, 1, 10, 1])  # unsorted, with a repeat
        rows = f.read(index)
    np.testing.assert_array_equal(rows.flux, s.flux[index])
    np.testing.assert_array_equal(rows.flux_err, s.flux_err[index])
    np.testing.assert_array_equal(rows.labels["teff"], s.labels["teff"][index])
    assert rows.star_id.tolist() == [s.star_id[i] for i in index]
