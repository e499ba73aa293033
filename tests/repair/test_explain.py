"""gapviz.repair.explain: added line, recalibrated log gf, or nothing, on a tiny LineModel population."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from gapviz.io.linelist import read_linelist
from gapviz.repair.explain import COLUMNS, bic, explain_candidates
from gapviz.repair.population import select_stars
from gapviz.theory.linemodel import LineModel

NAMES = ["teff", "logg", "fe_h"]
R = 22500.0
NOISE = 0.004
#: the theory's list: Fe I lines (λ vacuum Å, log gf, χ eV); the one at 15214.0 is 0.3 dex too strong in it
KNOWN = [(15203.0, -1.2, 4.5), (15209.5, -1.6, 5.0), (15214.0, -1.0, 4.8), (15221.0, -1.4, 5.2),
         (15227.5, -1.1, 4.6)]
TOO_STRONG = 2  # row of KNOWN whose observed log gf is 0.3 dex lower
INJECTED = (15206.2, -1.3, 5.0)  # the line the list lacks (Fe I)
NOISE_AT = 15224.3


def _linelist(tmp_path, name: str, lines) -> pd.DataFrame:
    path = tmp_path / f"{name}.csv"
    pd.DataFrame([{"wavelength": w, "species": "Fe I", "loggf": g, "elow_ev": e, "medium": "vacuum"}
                  for w, g, e in lines]).to_csv(path, index=False)
    return read_linelist(path)


def _giants(seed: int, n: int = 120) -> tuple[np.ndarray, np.random.Generator, np.ndarray]:
    """The window's grid, the random generator and ``n`` giants' labels (teff, logg, fe_h)."""
    rng = np.random.default_rng(seed)
    teff = rng.uniform(3900.0, 5300.0, n)
    labels = np.column_stack([teff, 1.0 + (teff - 3800.0) / 900.0 + rng.normal(0, 0.2, n),
                              rng.uniform(-0.7, 0.3, n)])
    return np.arange(15195.0, 15235.0, 0.21), rng, labels


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("explain")
    wl, rng, labels = _giants(3)
    n = len(labels)
    theory_list = _linelist(tmp, "theory", [(w, g + (0.3 if i == TOO_STRONG else 0.0), e)
                                            for i, (w, g, e) in enumerate(KNOWN)])
    true_list = _linelist(tmp, "true", KNOWN + [INJECTED])
    model = lambda table: LineModel(table, wl, resolution=R, label_names=NAMES, min_depth=0.0)
    theory = model(theory_list).spectra(labels).astype(np.float64)
    obs = model(true_list).spectra(labels).astype(np.float64) + rng.normal(0, NOISE, (n, wl.size))
    err = np.full_like(obs, NOISE)
    err[:, 5] = np.nan  # an unusable pixel
    domain = np.zeros(n, np.int8)
    domain[:10] = 1
    cands = pd.DataFrame({
        "candidate_rank": [1, 2, 3],
        "candidate_wavelength": [INJECTED[0] + 0.05, KNOWN[TOO_STRONG][0] - 0.03, NOISE_AT],
        "candidate_depth": [0.05, -0.02, 0.01],
        "candidate_kind": ["absorption", "emission", "absorption"],
        "candidate_in_linelist": np.array([0, 1, 0], np.int8),
        "candidate_attributed_label": ["fe_h", "fe_h", "fe_h"],
        "candidate_attributed_species": ["Fe I", "Fe I", "Fe I"],
        "candidate_attributed_chi": [5.0, 5.0, 5.0],
    })
    store = xr.Dataset(
        {"flux_obs": (("star", "wavelength"), obs), "flux_err": (("star", "wavelength"), err),
         "flux_theory": (("star", "wavelength"), theory),
         "pixel_mask": (("star", "wavelength"), np.ones(obs.shape, np.int8)),
         "domain_flag": ("star", domain)} | {k: ("candidate", v.to_numpy()) for k, v in cands.items()},
        coords={"wavelength": wl, "label": NAMES} | {k: ("star", labels[:, j]) for j, k in enumerate(NAMES)},
        attrs={"resolution": R, "line_model_calibration": "none"},
    )
    table = explain_candidates(store, theory_list, reference=true_list, max_stars=100)
    return store, theory_list, table


def test_table_shape(case):
    _, _, table = case
    assert list(table.columns) == list(COLUMNS)
    assert table["candidate"].tolist() == [1, 2, 3]
    assert (table["n_stars"] > 90).all()  # 100 of the 110 in-domain stars, all with usable pixels
    assert table["bic_none"].notna().all()
    # not tried: no known line within λ/R of the first and third
    assert table["chi2_recalibrated"].isna().tolist() == [True, False, True]


def test_missing_line_is_added(case):
    _, _, table = case
    row = table.iloc[0]
    assert row["choice"] == "added"
    assert row["species"] == "Fe I" and row["line_index"] == -1 and np.isnan(row["loggf_before"])
    assert abs(row["line_wavelength"] - INJECTED[0]) < 0.1
    assert abs(row["loggf"] - INJECTED[1]) < max(0.1, 2 * row["loggf_err"])
    assert row["bic_added"] < row["bic_none"]
    # the reference list's line, written where that transition is (the candidate sits 0.05 Å off it)
    assert row["line_listed"] == INJECTED[0] and row["line_wavelength"] == INJECTED[0]


def test_too_strong_line_is_recalibrated(case):
    _, theory_list, table = case
    row = table.iloc[1]
    assert row["choice"] == "recalibrated"
    assert row["line_index"] == TOO_STRONG
    assert row["loggf_before"] == pytest.approx(theory_list["loggf"].iloc[TOO_STRONG])
    assert row["loggf"] - row["loggf_before"] == pytest.approx(-0.3, abs=0.06)
    assert row["line_wavelength"] == pytest.approx(KNOWN[TOO_STRONG][0])
    assert not row["chi2_added"] < row["chi2_recalibrated"]  # an added line cannot make a line weaker


def test_noise_is_none(case):
    _, _, table = case
    row = table.iloc[2]
    assert row["choice"] == "none"
    assert row["line_index"] == -1 and np.isnan(row["loggf"])
    assert row["bic_none"] <= row["bic_added"]


def test_select_stars_skips_out_of_domain():
    store = xr.Dataset({"domain_flag": ("star", np.array([1, 0, 0, 2, 0, 0], np.int8))})
    assert select_stars(store, 10).tolist() == [1, 2, 4, 5]
    assert select_stars(store, 2).tolist() == [1, 5]


def test_bic_counts_parameters():
    assert bic(100.0, 0, 1000) == 100.0
    assert bic(100.0, 2, 1000) == pytest.approx(100.0 + 2 * np.log(1000))


def test_no_candidates_gives_empty_table(case):
    store, theory_list, _ = case
    empty = store.isel(candidate=slice(0, 0))
    table = explain_candidates(empty, theory_list)
    assert table.empty and list(table.columns) == list(COLUMNS)


def test_an_attributed_line_s_log_gf_error_carries_its_guessed_chi(case):
    """Without a reference list the missing line can only be the attributed species at the finder's χ guess:
    its log gf error then includes θ σ_χ (σ_χ: the spread of Fe I χ in the list); from the reference list, with
    its χ given, it does not."""
    store, theory_list, with_reference = case
    alone = explain_candidates(store, theory_list, reference=None, max_stars=100)
    row = alone.iloc[0]
    assert row["choice"] == "added" and row["species"] == "Fe I"
    teff = np.asarray(store["teff"].values)
    theta = np.median(5040.0 / teff)
    spread = np.std([e for _, _, e in KNOWN])
    assert row["loggf_err"] >= theta * spread * 0.8  # the stars' θ over the window, near the population's
    assert with_reference.iloc[0]["loggf_err"] < 0.5 * row["loggf_err"]


BLEND = [(15217.40, -1.3, 5.0), (15217.68, -1.5, 4.2)]  # two lines the list lacks, 0.4 λ/R apart


@pytest.fixture(scope="module")
def blend_case(tmp_path_factory):
    """A population whose feature at 15217.5 Å is two missing Fe I lines; the reference list has both, the
    finder guessed one line at χ 6.5 eV."""
    tmp = tmp_path_factory.mktemp("blend")
    wl, rng, labels = _giants(5)
    n = len(labels)
    theory_list = _linelist(tmp, "theory", KNOWN)
    true_list = _linelist(tmp, "true", KNOWN + BLEND)
    model = lambda table: LineModel(table, wl, resolution=R, label_names=NAMES, min_depth=0.0)  # noqa: E731
    theory = model(theory_list).spectra(labels).astype(np.float64)
    obs = model(true_list).spectra(labels).astype(np.float64) + rng.normal(0, NOISE, (n, wl.size))
    cands = pd.DataFrame({
        "candidate_rank": [1], "candidate_wavelength": [15217.52], "candidate_depth": [0.08],
        "candidate_kind": ["absorption"], "candidate_in_linelist": np.array([0], np.int8),
        "candidate_attributed_label": ["fe_h"], "candidate_attributed_species": ["Fe I"],
        "candidate_attributed_chi": [6.5]})
    store = xr.Dataset(
        {"flux_obs": (("star", "wavelength"), obs), "flux_err": (("star", "wavelength"), np.full_like(obs, NOISE)),
         "flux_theory": (("star", "wavelength"), theory),
         "pixel_mask": (("star", "wavelength"), np.ones(obs.shape, np.int8)),
         "domain_flag": ("star", np.zeros(n, np.int8))} | {k: ("candidate", v.to_numpy()) for k, v in cands.items()},
        coords={"wavelength": wl, "label": NAMES} | {k: ("star", labels[:, j]) for j, k in enumerate(NAMES)},
        attrs={"resolution": R, "line_model_calibration": "none"},
    )
    return store, theory_list, true_list


def test_a_blend_of_missing_lines_adds_each_line(blend_case):
    from gapviz.repair.changes import repaired_linelist

    store, theory_list, true_list = blend_case
    table = explain_candidates(store, theory_list, reference=true_list, max_stars=100)
    added = table[table["choice"] == "added"]
    assert (added["candidate"] == 1).all() and len(added) == 2  # both lines, rows of the one candidate
    for (w, g, e), (_, row) in zip(sorted(BLEND), added.sort_values("line_wavelength").iterrows()):
        assert row["line_wavelength"] == w and row["elow_ev"] == e  # listed lines: their own positions
        assert row["loggf"] == pytest.approx(g, abs=max(0.1, 2 * row["loggf_err"]))
    # without the blend hypothesis the best single line is worse by more than a BIC parameter
    assert added["bic_added"].iloc[0] < added["bic_none"].iloc[0]
    repaired = repaired_linelist(theory_list, table, R)  # kept apart: one candidate's blend is not one line twice
    new = repaired[repaired["change"].astype(str) == "added"]
    assert sorted(np.round(new["wavelength"].to_numpy(float), 1)) == [15217.4, 15217.7]
