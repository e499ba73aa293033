"""gapviz.io.ingest (one file of a batch ingest onto a common grid) and gapviz.io.append (row-by-row writing of
the spectra contract), on the shipped real APOGEE files and tiny hand-made ones."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from gapviz.errors import GapvizError
from gapviz.io import apogee
from gapviz.io.append import SpectraAppender
from gapviz.io.grids import aspcap_wavelength, sample_wavelength, window_pixels
from gapviz.io.ingest import der_snr_sigma, ingest_one, read_for_ingest
from gapviz.io.spectra import read_spectra


def test_apstar_and_apvisit_rows_are_the_readers_spectra_on_the_aspcap_grid(apogee_files):
    cases = [(apogee_files["apstar"][0], apogee.read_apstar), (apogee_files["apvisit"][0], apogee.read_apvisit)]
    for path, reader in cases:
        kind, s = read_for_ingest(path)
        ref = reader(path, grid="aspcap")
        assert kind == reader.__name__.removeprefix("read_")
        assert s.flux.shape == s.flux_err.shape == (7214,)
        np.testing.assert_array_equal(s.flux, ref.flux[0])  # continuum normalised exactly as the reader does
        np.testing.assert_array_equal(s.flux_err, ref.flux_err[0])
        assert s.star_id == ref.star_id[0]
        assert s.header_labels == apogee.apogee_header_labels(path)
        assert not s.flux_err_estimated


def test_header_snr_and_labels_of_the_shipped_files(apogee_files):
    _, s = read_for_ingest(apogee_files["apstar"][0])  # 2M17335483-2753043: SNR 154.2, RV_TEFF 3677
    assert s.snr == pytest.approx(154.155, abs=1e-3)
    assert s.header_labels["teff"] == pytest.approx(3676.877, abs=1e-3)
    assert set(s.header_labels) == {"teff", "logg", "fe_h"}
    _, v = read_for_ingest(apogee_files["apvisit"][0])  # apVisit 5095-55844-128: SNR 44.97, RV table 6500/5.0/-0.5
    assert v.snr == pytest.approx(44.967, abs=1e-3)
    assert v.header_labels == {"teff": 6500.0, "logg": 5.0, "fe_h": -0.5}


def test_text_spectrum_is_resampled_with_an_estimated_error(apogee_files):
    kind, s = read_for_ingest(apogee_files["text"])
    assert kind == "text" and s.star_id == "2M19410822+4019319"
    assert s.flux.shape == (7214,) and s.flux_err_estimated and s.header_labels == {}
    ok = np.isfinite(s.flux_err)
    assert ok.mean() > 0.8 and np.isfinite(s.flux).all()
    assert np.unique(s.flux_err[ok]).size == 1  # one DER_SNR σ per spectrum
    assert 10 < s.snr < 300
    assert 0.9 < np.median(s.flux[ok]) < 1.05  # the file is already normalised; ingest does not renormalise


def test_text_spectrum_with_an_error_column_keeps_it(tmp_path):
    wl = aspcap_wavelength()[::3]
    flux = np.ones(wl.size)
    flux[10] = 0.0  # 0 = no data
    path = tmp_path / "star.txt"
    np.savetxt(path, np.column_stack([wl, flux, np.full(wl.size, 0.02)]), header="MYSTAR", comments="")
    _, s = read_for_ingest(path)
    assert s.star_id == "MYSTAR" and not s.flux_err_estimated
    assert s.snr == pytest.approx(50.0)
    ok = np.isfinite(s.flux_err)
    np.testing.assert_allclose(s.flux[ok], 1.0)
    np.testing.assert_allclose(s.flux_err[ok], 0.02, rtol=1e-6)
    assert not ok[28:33].all()  # the no-data pixel spoils its interpolated neighbours only


def test_der_snr_recovers_white_noise():
    rng = np.random.default_rng(1)
    flux = 1.0 + rng.normal(0.0, 0.01, 20000)
    flux[100:200] = np.nan
    assert der_snr_sigma(flux) == pytest.approx(0.01, rel=0.03)
    assert np.isnan(der_snr_sigma(np.ones(3)))


def test_sample_grid_is_cut_from_the_aspcap_row(apogee_files):
    path = apogee_files["apstar"][1]
    _, full = read_for_ingest(path, grid="aspcap")
    _, cut = read_for_ingest(path, grid="sample")
    assert cut.flux.shape == sample_wavelength().shape
    np.testing.assert_array_equal(cut.flux, full.flux[window_pixels()])


def test_bad_files_are_outcomes_not_exceptions(tmp_path, apogee_files):
    truncated = tmp_path / "truncated.fits"
    truncated.write_bytes(apogee_files["apvisit"][1].read_bytes()[:100_000])
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x00\x01garbage" * 50)
    h5 = tmp_path / "other.h5"
    with h5py.File(h5, "w") as f:
        f["something"] = np.arange(3)
    aspcap = tmp_path / "aspcapStar-dr17-2M00000000+0000000.fits"
    aspcap.write_bytes(apogee_files["apstar"][1].read_bytes())
    far = tmp_path / "optical.txt"
    np.savetxt(far, np.column_stack([np.linspace(5000, 6000, 100), np.ones(100), np.full(100, 0.01)]))
    raw = tmp_path / "raw_units.txt"
    np.savetxt(raw, np.column_stack([aspcap_wavelength(), np.full(7214, 3e-15), np.full(7214, 1e-17)]))
    expect = {raw: "does not look continuum normalised", truncated: "truncated", junk: "unknown file kind", h5: "ingest reads apStar", tmp_path / "nope.fits":
              "no such file", aspcap: "aspcapStar is not supported", far: "no usable pixel on the aspcap grid"}
    for path, reason in expect.items():
        out = ingest_one(path)
        assert out.status == "skipped" and out.spectrum is None
        assert reason in out.reason
        assert not out.reason.startswith(str(path))  # the report has the path in its own column
    good = ingest_one(apogee_files["apvisit"][1])
    assert good.status == "ok" and good.kind == "apvisit" and good.reason == ""


def test_unexpected_library_errors_are_reasons_too(monkeypatch, apogee_files):
    def boom(*a, **k):
        raise ValueError("odd header\nsecond line")

    monkeypatch.setattr(apogee, "read_apstar", boom)
    out = ingest_one(apogee_files["apstar"][0])
    assert out.status == "skipped" and out.reason == "unreadable (ValueError: odd header)"


def test_unknown_grid_is_refused(apogee_files):
    with pytest.raises(GapvizError, match="expected one of"):
        read_for_ingest(apogee_files["apstar"][0], grid="native")


def test_appender_writes_the_contract_in_chunks(tmp_path):
    wl = np.linspace(15200.0, 15210.0, 50)
    rng = np.random.default_rng(0)
    flux = rng.uniform(0.5, 1.0, (7, 50)).astype(np.float32)
    err = np.full((7, 50), 0.01, dtype=np.float32)
    err[3, :5] = np.inf
    path = tmp_path / "a.h5"
    cols = {"snr": "f8", "group/teff": "f8", "source_file": "str", "flag": "i1"}
    with SpectraAppender(path, wl, columns=cols, chunk_rows=3, attrs={"note": "x"},
                         object_attrs={"group/teff": {"units": "K"}, "group": {"description": "coarse"}}) as w:
        for i in range(7):
            values = {"snr": float(i), "source_file": f"f{i}.fits"} | ({"group/teff": 4000.0 + i} if i != 2 else {})
            assert w.append(flux[i], err[i], f"star{i}", values) == i
    s = read_spectra(path)
    assert s.n_star == 7 and s.domain == "observed" and s.labels == {}
    np.testing.assert_array_equal(s.flux, flux)
    np.testing.assert_array_equal(s.flux_err, err)
    assert list(s.star_id) == [f"star{i}" for i in range(7)]
    with h5py.File(path) as f:
        np.testing.assert_array_equal(f["snr"][:], np.arange(7.0))
        assert np.isnan(f["group/teff"][2]) and f["group/teff"][3] == 4003.0
        assert f["group/teff"].attrs["units"] == "K" and f["group"].attrs["description"] == "coarse"
        assert [x.decode() for x in f["source_file"][:]] == [f"f{i}.fits" for i in range(7)]
        assert f["flag"][:].tolist() == [0] * 7
        assert f["flux"].chunks == (3, 50) and f.attrs["note"] == "x"


def test_appender_refuses_wrong_rows(tmp_path):
    wl = np.linspace(15200.0, 15210.0, 10)
    with SpectraAppender(tmp_path / "a.h5", wl, columns={"snr": "f8"}) as w:
        with pytest.raises(GapvizError, match="the grid has 10"):
            w.append(np.ones(9), np.ones(9), "x")
        with pytest.raises(GapvizError, match="undeclared column"):
            w.append(np.ones(10), np.ones(10), "x", {"teff": 1.0})
    with pytest.raises(GapvizError, match="kind"):
        SpectraAppender(tmp_path / "b.h5", wl, columns={"snr": "f4"})
