"""gapviz apply: the store of a trained run, and the warnings a user must read before trusting it."""

from __future__ import annotations

import numpy as np
import pytest

from gapviz.cli import main
from gapviz.errors import GapvizError
from gapviz.io.spectra import read_spectra, write_spectra
from gapviz.store import open_store
from gapviz.store.schema import DOMAIN_FLAGS
from gapviz.testing.toy import write_toy_case
from gapviz.workflow.apply import CHI2NU_WARN, MIN_STARS, apply, domain_flags


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    return write_toy_case(tmp_path_factory.mktemp("apply"), n_star=80, seed=30)


def test_stars_the_adaptation_cannot_explain_are_flagged_and_counted(case, tmp_path):
    obs = read_spectra(case.observed)
    obs.flux_err[:5] /= 10.0  # five stars whose errors are 10x too small: adapted chi2nu ~100
    write_spectra(obs, tmp_path / "obs.h5")
    result = apply(None, tmp_path / "obs.h5", tmp_path / "s", adaptation=case.model, progress=False)
    ds = open_store(tmp_path / "s")
    flags = ds["domain_flag"].values
    assert (flags[:5] == DOMAIN_FLAGS["adapted_fit_poor"]).all() and not flags[5:].any()
    assert (ds["chi2nu_adapted"].values[:5] > CHI2NU_WARN).all()
    assert ds["domain_flag"].attrs["flag_meanings"] == "label_at_edge_of_synthetic_box adapted_fit_poor"
    assert "5 of 80 stars look outside the theory's domain" in result.summary()
    assert "5 of 80 stars" in ds.attrs["warnings"]


def test_too_few_stars_is_a_warning_not_silence(case, tmp_path):
    obs = read_spectra(case.observed)
    write_spectra(obs.subset(slice(0, 12)), tmp_path / "few.h5")
    result = apply(None, tmp_path / "few.h5", tmp_path / "s", adaptation=case.model, progress=False)
    assert "only 12 stars" in result.summary() and f"at least {MIN_STARS}" in result.summary()
    assert not open_store(tmp_path / "s")["domain_flag"].values.any()


def test_domain_flags_add_up():
    at_bound = np.array([[False, True], [False, False], [True, False], [False, False]])
    chi = np.array([1.0, 7.0, 9.0, np.nan])
    np.testing.assert_array_equal(domain_flags(at_bound, chi), [1, 2, 3, 0])
    np.testing.assert_array_equal(domain_flags(None, chi), [0, 2, 2, 0])


def test_a_synthetic_set_as_observed_names_the_file_and_what_is_missing(case, tmp_path, capsys):
    with pytest.raises(GapvizError, match=r"synthetic.h5: no /flux_err; --observed needs observed spectra"):
        apply(None, case.synthetic, tmp_path / "s", adaptation=case.model, progress=False)
    assert not (tmp_path / "s" / "store.nc").exists()


def test_an_apstar_file_as_observed_names_the_command_that_converts_it(case, tmp_path, capsys):
    from pathlib import Path

    apstar = sorted((Path(__file__).resolve().parents[2] / "data_samples" / "apogee").glob("apStar-*.fits"))[0]
    rc = main(["analyze", str(tmp_path / "run"), "--observed", str(apstar), "--linelist", str(case.linelist),
               "--out", str(tmp_path / "s")])
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err
    assert f"{apstar}: not a readable HDF5 file (an APOGEE apStar file; convert it with 'gapviz ingest {apstar} " \
           "--out observed.h5')" in err
