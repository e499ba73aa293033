"""gapviz.repair.outputs: the repaired line list, changes, overlay and report that `gapviz repair` writes."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from gapviz.errors import GapvizError
from gapviz.io.linelist import read_linelist
from gapviz.repair import outputs
from gapviz.repair.outputs import (
    apply_overlay,
    repaired_linelist,
    resolve_changes,
    sha256_file,
    write_repair,
)

SOURCE = """tiny linemake-like list
 15000.089 607.01314     0.763    -2.275               7.724          0203Qb0105
 15001.000      26.1     3.200    -1.000
 15002.350      26.0     6.272    -2.633
 15003.113     108.0     2.579    -4.656               4.411          0704pP1e22
 15010.000      26.0     4.000    -1.500
"""


@pytest.fixture
def source(tmp_path):
    path = tmp_path / "src" / "theory.moog"
    path.parent.mkdir()
    path.write_text(SOURCE)
    return path


@pytest.fixture
def linelist(source):
    return read_linelist(source)


def _explanation(linelist, rank, choice, *, line=None, wavelength=None, species="Fe I", loggf=-1.0,
                 elow=1.0, bic_gain=10.0):
    """One row of explain_candidates' table (a fake: only what outputs reads)."""
    row = {"candidate": rank, "choice": choice, "label": "Fe_H", "n_stars": 12, "loggf": loggf, "loggf_err": 0.05,
           "chi2_none": 100.0, "chi2_added": 100.0 - bic_gain - 3, "chi2_recalibrated": 100.0 - bic_gain - 2,
           "bic_none": 120.0, "bic_added": 120.0 - bic_gain, "bic_recalibrated": 120.0 - bic_gain}
    if choice == "recalibrated":
        ll = linelist.iloc[line]
        row.update(wavelength=ll["wavelength"] + 0.02, line_wavelength=ll["wavelength"], species=ll["species"],
                   elow_ev=ll["elow_ev"], loggf_before=ll["loggf"], line_index=line)
    else:
        row.update(wavelength=wavelength, line_wavelength=wavelength if choice == "added" else np.nan,
                   species=species if choice == "added" else "", elow_ev=elow if choice == "added" else np.nan,
                   loggf_before=np.nan, line_index=-1)
        if choice == "none":
            row.update(loggf=np.nan, loggf_err=np.nan)
    return row


@pytest.fixture
def explanations(linelist):
    rows = [
        _explanation(linelist, 1, "recalibrated", line=2, loggf=-2.1, bic_gain=30.0),   # Fe I 15002.35 air
        _explanation(linelist, 2, "added", wavelength=15008.0, species="Si I", loggf=-1.7, elow=5.9),
        _explanation(linelist, 3, "none", wavelength=15020.0),
        _explanation(linelist, 4, "recalibrated", line=2, loggf=-2.5, bic_gain=40.0),   # same line, larger gain
        _explanation(linelist, 5, "recalibrated", line=0, loggf=-2.0, bic_gain=8.0),    # CN 13C14N
        _explanation(linelist, 6, "added", wavelength=14990.0, species="CO", loggf=-6.0, elow=0.5),
    ]
    return pd.DataFrame(rows)


def test_repaired_linelist_changes_in_place_and_adds(linelist, explanations):
    rep = repaired_linelist(linelist, explanations)
    assert list(rep.columns[:10]) == ["wavelength", "species", "loggf", "elow_ev", "medium", "isotopes", "change",
                                      "loggf_before", "loggf_err", "candidate"]
    assert len(rep) == len(linelist) + 2
    assert rep["wavelength"].is_monotonic_increasing
    assert (rep["medium"] == "vacuum").all()
    counts = rep["change"].value_counts().to_dict()
    assert counts == {"kept": 3, "recalibrated": 2, "added": 2}
    fe = rep[(rep["species"] == "Fe I") & (rep["change"] == "recalibrated")].iloc[0]
    assert fe["loggf"] == -2.5 and fe["loggf_before"] == -2.633 and fe["candidate"] == 4
    assert fe["wavelength"] == linelist["wavelength"].iloc[2]
    cn = rep[rep["species"] == "CN"].iloc[0]
    assert cn["isotopes"] == "13,14" and cn["loggf"] == -2.0 and cn["candidate"] == 5
    added = rep[rep["change"] == "added"]
    assert list(added["species"]) == ["CO", "Si I"] and added["loggf_before"].isna().all()
    assert added.iloc[0]["d0_ev"] == pytest.approx(11.092) and added.iloc[0]["wavelength_air"] < 14990.0
    kept = rep[rep["change"] == "kept"]
    assert kept["candidate"].isna().all() and kept["loggf_before"].isna().all()
    assert rep.attrs["notes"] and "kept candidate 4" in rep.attrs["notes"][0] and "dropped 1" in rep.attrs["notes"][0]
    # the input is untouched
    assert linelist["loggf"].iloc[2] == -2.633


def test_duplicates_resolved_by_bic_gain_ties_to_the_better_rank(linelist):
    rows = pd.DataFrame([_explanation(linelist, 3, "recalibrated", line=1, loggf=-0.5, bic_gain=5.0),
                         _explanation(linelist, 7, "recalibrated", line=1, loggf=-0.7, bic_gain=5.0),
                         _explanation(linelist, 8, "added", wavelength=15050.0, loggf=-1.0, bic_gain=2.0),
                         _explanation(linelist, 9, "added", wavelength=15050.001, loggf=-1.2, bic_gain=9.0)])
    changes, notes, evidence = resolve_changes(linelist, rows)
    assert [c["candidate"] for c in changes] == [3, 9]
    assert len(notes) == 2 and "dropped 7" in notes[0] and "dropped 8" in notes[1]
    assert list(evidence["candidate"]) == [3, 9]


def test_write_repair_files_exist_and_parse(tmp_path, source, linelist, explanations):
    out = tmp_path / "repair"
    paths = write_repair(out, linelist, explanations, source_path=source, report={"store": "S", "method": "fake"})
    assert set(paths) == {"linelist", "moog", "changes", "overlay", "offsets", "report"}
    assert all(p.is_file() and p.parent == out for p in paths.values())
    assert sorted(p.name for p in out.iterdir()) == sorted(outputs.REPAIR_FILES.values())
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging left
    assert paths["linelist"].read_text().startswith("wavelength,species,loggf,elow_ev,medium")

    expected = repaired_linelist(linelist, explanations)
    back = read_linelist(paths["linelist"])  # the CSV round-trips with the changes applied
    assert list(back["species"]) == list(expected["species"])
    assert list(back["isotopes"]) == list(expected["isotopes"])
    np.testing.assert_allclose(back["wavelength"], expected["wavelength"], atol=1e-6, rtol=0)
    np.testing.assert_allclose(back["loggf"], expected["loggf"], atol=1e-4)
    np.testing.assert_allclose(back["elow_ev"], expected["elow_ev"], atol=1e-4)
    csv = pd.read_csv(paths["linelist"], keep_default_na=False)
    assert list(csv["change"]) == list(expected["change"])

    moog = read_linelist(paths["moog"])
    assert list(moog["species"]) == list(expected["species"])
    np.testing.assert_allclose(moog["loggf"], expected["loggf"], atol=1e-3)
    np.testing.assert_allclose(moog["wavelength"], expected["wavelength"], atol=1e-3, rtol=0)
    assert paths["moog"].read_text().splitlines()[0].startswith("gapviz repair of theory.moog")

    changes = pd.read_csv(paths["changes"])
    assert list(changes["candidate"]) == [2, 4, 5, 6]  # by rank; candidate 1 lost to 4, 3 changed nothing
    for col in ("choice", "wavelength", "species", "elow_ev", "loggf", "loggf_before", "loggf_err", "label",
                "n_stars", "delta_chi2_added", "delta_chi2_recalibrated", "bic_none", "bic_added",
                "bic_recalibrated"):
        assert col in changes.columns
    c4 = changes.set_index("candidate").loc[4]
    assert c4["choice"] == "recalibrated" and c4["loggf_before"] == -2.633
    assert c4["delta_chi2_recalibrated"] == pytest.approx(-42.0)

    overlay = json.loads(paths["overlay"].read_text())
    assert overlay["source_sha256"] == sha256_file(source) and overlay["source_name"] == "theory.moog"
    ops = {c["candidate"]: c for c in overlay["changes"]}
    assert ops[4]["op"] == "recalibrate" and ops[4]["loggf_before"] == -2.633 and ops[4]["loggf"] == -2.5
    assert ops[2]["op"] == "add" and ops[2]["species"] == "Si I" and ops[2]["wavelength"] == 15008.0

    report = json.loads(paths["report"].read_text())
    assert report["store"] == "S" and report["method"] == "fake"
    assert report["counts"] == {"candidates": 6, "recalibrated": 2, "added": 2, "none": 1, "dropped_duplicates": 1,
                                "lines_before": 5, "lines_after": 7}
    assert len(report["notes"]) == 1


def test_overlay_reapplies_elsewhere_and_refuses_another_list(tmp_path, source, linelist, explanations):
    paths = write_repair(tmp_path / "repair", linelist, explanations, source_path=source, report={})
    elsewhere = tmp_path / "elsewhere" / "copy.moog"
    elsewhere.parent.mkdir()
    elsewhere.write_bytes(source.read_bytes())
    again = apply_overlay(elsewhere, paths["overlay"])
    pd.testing.assert_frame_equal(again, repaired_linelist(linelist, explanations))
    assert again.attrs["notes"] == repaired_linelist(linelist, explanations).attrs["notes"]

    other = tmp_path / "elsewhere" / "other.moog"
    other.write_text(SOURCE.replace("-1.500", "-1.600"))
    with pytest.raises(GapvizError) as info:
        apply_overlay(other, paths["overlay"])
    msg = str(info.value)
    assert sha256_file(other) in msg and sha256_file(source) in msg and "theory.moog" in msg

    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(GapvizError, match="not JSON"):
        apply_overlay(elsewhere, bad)


def test_existing_repair_dir_refused_without_overwrite(tmp_path, source, linelist, explanations):
    out = tmp_path / "repair"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(GapvizError, match="REPAIR_DIR already holds files") as info:
        write_repair(out, linelist, explanations, source_path=source, report={})
    assert "notes.txt" in str(info.value) and "--overwrite" in str(info.value)
    assert [p.name for p in out.iterdir()] == ["notes.txt"]
    paths = write_repair(out, linelist, explanations, source_path=source, report={}, overwrite=True)
    assert (out / "notes.txt").read_text() == "mine" and all(p.is_file() for p in paths.values())
    # an empty existing folder is fine without overwrite
    empty = tmp_path / "empty"
    empty.mkdir()
    write_repair(empty, linelist, explanations, source_path=source, report={})
    assert (empty / "report.json").is_file()


def test_nothing_half_written_on_failure(tmp_path, source, linelist, explanations, monkeypatch):
    def boom(*args, **kwargs):
        raise GapvizError("disk on fire")

    monkeypatch.setattr(outputs, "write_moog", boom)
    out = tmp_path / "repair"
    with pytest.raises(GapvizError, match="disk on fire"):
        write_repair(out, linelist, explanations, source_path=source, report={})
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src"]  # no staging folder left behind

    out.mkdir()
    (out / "linelist.csv").write_text("old")
    with pytest.raises(GapvizError, match="disk on fire"):
        write_repair(out, linelist, explanations, source_path=source, report={}, overwrite=True)
    assert [p.name for p in out.iterdir()] == ["linelist.csv"] and (out / "linelist.csv").read_text() == "old"


def test_bad_explanations(linelist, source, tmp_path):
    good = _explanation(linelist, 1, "recalibrated", line=2, loggf=-2.1)
    with pytest.raises(GapvizError, match="lack column"):
        repaired_linelist(linelist, pd.DataFrame([good]).drop(columns=["line_index"]))
    with pytest.raises(GapvizError, match="choice 'moved' unknown"):
        repaired_linelist(linelist, pd.DataFrame([{**good, "choice": "moved"}]))
    wrong = {**good, "line_index": 3, "line_wavelength": 14000.0}  # not a line of this list
    with pytest.raises(GapvizError, match="expected one Fe I line"):
        repaired_linelist(linelist, pd.DataFrame([wrong]))
    # a stale line_index is recovered from the line's wavelength and species
    moved = {**good, "line_index": 4}
    assert repaired_linelist(linelist, pd.DataFrame([moved]))["loggf"].iloc[2] == -2.1
    with pytest.raises(GapvizError, match="no such file"):
        write_repair(tmp_path / "r", linelist, pd.DataFrame([good]), source_path=tmp_path / "nope", report={})
    assert not (tmp_path / "r").exists()


def test_no_changes_at_all(tmp_path, source, linelist):
    none = pd.DataFrame([_explanation(linelist, 1, "none", wavelength=15020.0)])
    paths = write_repair(tmp_path / "r", linelist, none, source_path=source, report={})
    rep = read_linelist(paths["linelist"])
    np.testing.assert_allclose(rep["loggf"], linelist["loggf"])
    assert pd.read_csv(paths["changes"]).empty
    assert json.loads(paths["overlay"].read_text())["changes"] == []


def test_two_candidates_adding_one_line_twice_keep_one(linelist):
    """Two candidates on one dip each fitted a line 0.08 Å apart (the same CO line, or another species' line on
    the same dip): one line is added, not two, whatever the species; 1.6 λ/R away is another feature."""
    rows = pd.DataFrame([
        _explanation(linelist, 2, "added", wavelength=15040.292, species="CO", loggf=-6.0, elow=0.5, bic_gain=50.0),
        _explanation(linelist, 17, "added", wavelength=15040.374, species="CO", loggf=-6.1, elow=0.5, bic_gain=20.0),
        _explanation(linelist, 18, "added", wavelength=15040.374, species="CN", loggf=-2.0, elow=0.5),  # other species
        _explanation(linelist, 19, "added", wavelength=15041.5, species="CO", loggf=-6.0, elow=0.5),  # 1.6 λ/R away
    ])
    changes, notes, _ = resolve_changes(linelist, rows, resolution=22500.0)
    added = sorted((c["species"], round(c["wavelength"], 3), c["candidate"]) for c in changes)
    assert added == [("CO", 15040.292, 2), ("CO", 15041.5, 19)]
    assert len(notes) == 2 and all("kept candidate 2" in n for n in notes)
    assert "dropped 17" in notes[0] and "dropped 18" in notes[1] and "one dip (CO 15040.292 Å, CN 15040.374 Å)" in notes[1]


def test_one_reference_line_added_by_two_candidates_at_shifted_places_is_added_once(linelist):
    """Two candidates' fits each added the same reference-list line (listed at 15040.30 Å), shifted 0.12 Å apart
    (beyond the one-dip tolerance): it is one line, kept from the larger BIC gain; a blend's other line of the
    same candidate stays."""
    rows = pd.DataFrame([
        _explanation(linelist, 4, "added", wavelength=15040.24, species="CO", loggf=-6.0, elow=0.5, bic_gain=30.0)
        | {"line_listed": 15040.30},
        _explanation(linelist, 9, "added", wavelength=15040.36, species="CO", loggf=-6.1, elow=0.5, bic_gain=60.0)
        | {"line_listed": 15040.30},
        _explanation(linelist, 9, "added", wavelength=15040.52, species="CO", loggf=-6.3, elow=0.9, bic_gain=60.0)
        | {"line_listed": 15040.58},
    ])
    changes, notes, _ = resolve_changes(linelist, rows, resolution=22500.0)
    added = sorted((c["species"], round(c["wavelength"], 2), c["candidate"]) for c in changes)
    assert added == [("CO", 15040.36, 9), ("CO", 15040.52, 9)]
    assert len(notes) == 1 and "kept candidate 9" in notes[0] and "dropped 4" in notes[0]
    # without the listed identity the two placements were 0.12 Å apart: both added, the line twice
    apart, _, _ = resolve_changes(linelist, rows.drop(columns="line_listed"), resolution=22500.0)
    assert len(apart) == 3


def test_changes_csv_carries_the_listed_wavelength_of_an_added_reference_line(tmp_path, source, linelist):
    """changes.csv's ``wavelength`` is the fitted (shifted) position of an added reference-list line;
    ``line_listed``, right after it, is where the reference list has it (NaN for a line of no list and for a
    recalibration). An explanation table without the column (older explain output) writes NaN."""
    rows = pd.DataFrame([
        _explanation(linelist, 1, "recalibrated", line=2, loggf=-2.1) | {"line_listed": np.nan},
        _explanation(linelist, 4, "added", wavelength=15040.24, species="CO", loggf=-6.0, elow=0.5, bic_gain=30.0)
        | {"line_listed": 15040.30},
        _explanation(linelist, 9, "added", wavelength=15040.36, species="CO", loggf=-6.1, elow=0.5, bic_gain=60.0)
        | {"line_listed": 15040.30},  # the same reference line, kept from candidate 9
        _explanation(linelist, 9, "added", wavelength=15040.52, species="CO", loggf=-6.3, elow=0.9, bic_gain=60.0)
        | {"line_listed": 15040.58},
        _explanation(linelist, 12, "added", wavelength=15060.0, species="Si I", loggf=-1.0, elow=5.0)
        | {"line_listed": np.nan},  # a line of no list
    ])
    paths = write_repair(tmp_path / "rep", linelist, rows, source_path=source, report={})
    changes = pd.read_csv(paths["changes"])
    cols = list(changes.columns)
    assert cols[cols.index("wavelength") + 1] == "line_listed"
    assert list(changes["candidate"]) == [1, 9, 9, 12]
    np.testing.assert_allclose(changes["wavelength"], [linelist["wavelength"].iloc[2], 15040.36, 15040.52, 15060.0])
    np.testing.assert_allclose(changes["line_listed"], [np.nan, 15040.30, 15040.58, np.nan], equal_nan=True)

    old = write_repair(tmp_path / "old", linelist, rows.drop(columns="line_listed"), source_path=source, report={})
    assert pd.read_csv(old["changes"])["line_listed"].isna().all()


def test_an_added_line_keeps_the_isotopologue_its_log_gf_was_fitted_for(tmp_path, source, linelist):
    """The fit's τ per unit gf has the isotopic fraction folded in (LineModel with a calibration), so a 13C14N
    line added at its fitted log gf must be written as 13C14N: without the isotopes it re-synthesises 1/f(13C)
    times too strong."""
    row = _explanation(linelist, 3, "added", wavelength=15244.63, species="CN", loggf=-1.24, elow=1.03)
    rows = pd.DataFrame([row | {"isotopes": "13,14"}])
    changes, _, evidence = resolve_changes(linelist, rows, resolution=22500.0)
    assert changes[0]["isotopes"] == "13,14" and evidence["isotopes"].tolist() == ["13,14"]
    write_repair(tmp_path / "rep", linelist, rows, source_path=source, report={})
    out = tmp_path / "rep"
    written = read_linelist(out / "linelist.csv")
    cn = written[np.isclose(written["wavelength"], 15244.63)]
    assert cn["isotopes"].tolist() == ["13,14"]
    moog = read_linelist(out / "linelist.moog")
    assert "13,14" in moog.loc[np.isclose(moog["wavelength"], 15244.63, atol=0.01), "isotopes"].tolist()


def test_a_damping_change_marks_the_line_and_keeps_its_log_gf(tmp_path, source, linelist):
    row = _explanation(linelist, 3, "recalibrated", line=4, loggf=-1.5)
    row.update(choice="damping", wing_amplitude=0.03, wing_gamma=0.6, chi2_damping=80.0, bic_damping=95.0)
    rep = repaired_linelist(linelist, pd.DataFrame([row]))
    changed = rep[rep["change"] != "kept"]
    assert changed["change"].tolist() == ["damping"] and changed["candidate"].tolist() == [3]
    assert changed["loggf"].iloc[0] == pytest.approx(linelist["loggf"].iloc[4])
    paths = write_repair(tmp_path / "rep", linelist, pd.DataFrame([row]), source_path=source, report={})
    evidence = pd.read_csv(paths["changes"])
    assert evidence["choice"].tolist() == ["damping"] and evidence["wing_gamma"].iloc[0] == pytest.approx(0.6)
    again = apply_overlay(source, paths["overlay"])
    assert again.loc[again["change"] != "kept", "change"].tolist() == ["damping"]
