"""apps.workbench: one change of a repair across the population, edited live, decided and kept in review.csv."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest
from bokeh.document import Document

from apps.workbench import (
    ORIGINAL,
    REVIEWED,
    WorkbenchSession,
    build_app,
    open_workbench,
)
from apps.workbench_data import NONE_OF_THESE
from gapviz.io.linelist import read_linelist
from gapviz.repair.review import read_review

SHA = "c" * 64


def write_repair(store_dir) -> dict[str, float]:
    """STORE_DIR/repair as gapviz repair writes it, for the tiny store: an Fe I line added at the top candidate
    (rank 1), a known Si I line recalibrated −1.5 → −0.5 (candidate 0), a CO line added at candidate 4."""
    cand = pd.read_csv(store_dir / "candidates.csv")
    added, recal, co = float(cand["wavelength"][0]), 15702.25, float(cand["wavelength"][3])
    path = store_dir / "repair"
    path.mkdir(parents=True, exist_ok=True)
    lines = pd.DataFrame({
        "wavelength": [15200.5, added, recal, co], "species": ["Mg I", "Fe I", "Si I", "CO"],
        "loggf": [-1.0, -0.2, -0.5, -5.0], "elow_ev": [4.3, 4.0, 5.0, 0.8], "medium": "vacuum",
        "isotopes": ["", "", "", "12,16"], "change": ["kept", "added", "recalibrated", "added"],
        "loggf_before": [np.nan, np.nan, -1.5, np.nan], "loggf_err": [np.nan, 0.05, 0.03, 0.1],
        "candidate": [np.nan, 1, 0, 4], "d0_ev": [np.nan, np.nan, np.nan, 11.09]})
    lines.to_csv(path / "linelist.csv", index=False)
    pd.DataFrame({"candidate": [1, 0, 4], "choice": ["added", "recalibrated", "added"],
                  "wavelength": [added, recal, co], "species": ["Fe I", "Si I", "CO"], "isotopes": ["", "", "12,16"],
                  "elow_ev": [4.0, 5.0, 0.8], "loggf": [-0.2, -0.5, -5.0], "loggf_before": [np.nan, -1.5, np.nan],
                  "loggf_err": [0.05, 0.03, 0.1], "candidate_wavelength": [added, recal, co]}
                 ).to_csv(path / "changes.csv", index=False)
    (path / "report.json").write_text('{"calibration": "none", "resolution": 22500.0}\n')
    (path / "overlay.json").write_text(f'{{"source_sha256": "{SHA}", "changes": []}}\n')
    return {"added": added, "recalibrated": recal, "co": co}


@pytest.fixture(scope="module")
def bench_store(tmp_path_factory, tiny_store):
    """A copy of the tiny store (its own review.csv) with STORE_DIR/repair."""
    store = tmp_path_factory.mktemp("workbench") / "store"
    shutil.copytree(tiny_store, store)
    write_repair(store)
    return store


@pytest.fixture()
def session(bench_store):
    (bench_store / "review.csv").unlink(missing_ok=True)
    s = WorkbenchSession(open_workbench(bench_store, None))
    s.template().server_doc(Document())
    return s


def test_an_edit_resynthesises_the_feature(session):
    s = session
    before = s.figures.image_src.data["before"][0].copy()
    after = s.figures.image_src.data["after"][0].copy()
    text = s.chi2_text.object
    assert s.species.value == "Fe I" and s.loggf.value == pytest.approx(-0.2)
    assert np.nanmin(after - before) > -1e-9 and np.nanmax(after - before) > 0.01  # the line deepens the theory
    s.loggf.value = 0.8
    stronger = s.figures.image_src.data["after"][0]
    np.testing.assert_array_equal(s.figures.image_src.data["before"][0], before)  # the data do not move
    assert np.nanmax(stronger - after) > 0.01 and s.chi2_text.object != text
    s.species.value = NONE_OF_THESE  # no line: the residual is the original one
    np.testing.assert_allclose(s.figures.image_src.data["after"][0], before)


def test_bad_values_say_why_and_change_nothing(session):
    s = session
    shown = s.figures.image_src.data["after"][0].copy()
    s.loggf.value = 7.0
    assert "log gf 7.0" in s.message.object and "[-10, 3]" in s.message.object
    np.testing.assert_array_equal(s.figures.image_src.data["after"][0], shown)
    s.loggf.value = -0.2
    s.wavelength.value = 17500.0
    assert "outside the store's range" in s.message.object
    s.table.selection = [1]  # a recalibrated known line: its wavelength and species cannot move
    assert s.species.disabled and s.wavelength.disabled and s.message.object == ""


def test_rows_follow_the_chosen_label(session):
    s = session
    s.sort_label = "logg"
    image = s.figures.image_src.data["before"][0]
    pop = s.wb.pop
    sl = s.wb.pixels(0)
    order = np.argsort(pop.labels[:, pop.label_names.index("logg")], kind="stable")
    expected = np.where(pop.weight[:, sl] > 0, pop.obs[:, sl] - pop.theory[:, sl], np.nan)[order]
    np.testing.assert_allclose(image, expected, rtol=1e-6, equal_nan=True)
    assert s.figures.before.yaxis.axis_label == "stars, sorted by logg"
    assert len(s.figures.species_src.data["species"]) >= 2  # the species fits are drawn


def test_decisions_last_and_change_the_reviewed_theory(session, bench_store):
    s = session
    chi2_original = s.header.object
    s.table.selection = [2]  # the CO line: reject it
    s.decide("reject")
    s.table.selection = [0]
    s.loggf.value = 0.1
    s.decide("edit")
    review = read_review(bench_store / "review.csv")
    assert sorted(review["decision"]) == ["edit", "reject"]
    assert review.set_index("species").at["Fe I", "loggf"] == pytest.approx(0.1)
    assert s.header.object != chi2_original and "1 rejected, 1 edited, 1 undecided" in s.header.object
    # a new session (a reloaded page) finds the decisions, and the edited value in the controls
    again = WorkbenchSession(open_workbench(bench_store, None))
    assert list(again.table.value["decision"]) == ["edited", "", "rejected"]
    assert again.loggf.value == pytest.approx(0.1)
    # the wavelength view: the reviewed list draws the edited Fe I line, the original list does not
    theory = {}
    for which in (ORIGINAL, REVIEWED):
        again.theory_list = which
        theory[which] = np.asarray(again.spectrum.src.data["theory"], float)
    assert np.nanmin(theory[REVIEWED] - theory[ORIGINAL]) < -0.005
    # the download is the reviewed list: the rejected CO line is gone, the Fe I line has the edited log gf
    csv = again.download("csv")
    path = bench_store.parent / "dl.csv"
    path.write_bytes(csv.getvalue())
    got = read_linelist(path)
    assert list(got["species"]) == ["Mg I", "Fe I", "Si I"]
    assert got.set_index("species").at["Fe I", "loggf"] == pytest.approx(0.1)


def test_a_store_without_a_repair_shows_why(tiny_store):
    page = build_app(tiny_store)
    text = " ".join(str(getattr(o, "object", "")) for o in page.main)
    assert "no repair to review" in text and "gapviz repair" in text
