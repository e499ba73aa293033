"""apps.repair_data / apps.repair_view: a line-list repair beside the store, before and after, in the explorer."""

from __future__ import annotations

import numpy as np
import pandas as pd
import panel as pn
import pytest
from bokeh.document import Document

from apps.explorer import Explorer, open_repair
from apps.repair_data import find_repair_dir, read_repair
from apps.repair_view import REPAIRED, changes_table

from .conftest import store_data, tiny_wavelength

ADDED_PIXEL, RECAL_PIXEL = 60, 220  # the added line's pixel (first window), the recalibrated one's (second)


def write_repair_dir(path, wavelength) -> dict[str, float]:
    """A REPAIR_DIR as gapviz repair writes it (linelist.csv with change/loggf_before, changes.csv, report.json):
    one Fe I line added (candidate rank 1), one Si I line recalibrated -1.5 -> -0.5 (no candidate)."""
    added, recal = float(wavelength[ADDED_PIXEL]), float(wavelength[RECAL_PIXEL])
    path.mkdir(parents=True, exist_ok=True)
    lines = pd.DataFrame({
        "wavelength": [float(wavelength[10]), added, recal], "species": ["Mg I", "Fe I", "Si I"],
        "loggf": [-1.0, 0.3, -0.5], "elow_ev": [4.3, 2.2, 5.0], "medium": "vacuum", "isotopes": "",
        "change": ["kept", "added", "recalibrated"], "loggf_before": [np.nan, np.nan, -1.5],
        "loggf_err": [np.nan, 0.02, 0.03], "candidate": [np.nan, 1.0, 0.0], "d0_ev": np.nan})
    lines.to_csv(path / "linelist.csv", index=False)
    pd.DataFrame({"candidate": [1, 0], "choice": ["added", "recalibrated"], "wavelength": [added, recal],
                  "species": ["Fe I", "Si I"], "isotopes": "", "elow_ev": [2.2, 5.0], "loggf": [0.3, -0.5],
                  "loggf_before": [np.nan, -1.5], "loggf_err": [0.02, 0.03]}).to_csv(path / "changes.csv", index=False)
    (path / "report.json").write_text('{"calibration": "none", "resolution": 22500.0}\n')
    return {"added": added, "recalibrated": recal}


@pytest.fixture()
def repaired_app(tiny_store, tmp_path):
    where = write_repair_dir(tmp_path / "rep", tiny_wavelength())
    repair, error = open_repair(tiny_store / "store.nc", tmp_path / "rep")
    assert error == ""
    e = Explorer(store_data(tiny_store), sync_url=False, repair=repair)
    e.template().server_doc(Document())
    return e, where


def test_the_repair_is_read_as_written(tiny_store, tmp_path):
    where = write_repair_dir(tmp_path / "rep", tiny_wavelength())
    r = read_repair(tmp_path / "rep", store_data(tiny_store))
    assert r.counts() == "1 added, 1 recalibrated" and r.calibration == "none"
    assert list(r.added["species"]) == ["Fe I"] and r.added["wavelength"].iloc[0] == pytest.approx(where["added"])
    assert list(r.recalibrated["loggf_before"]) == [-1.5] and list(r.recalibrated["loggf"]) == [-0.5]
    assert r.changes["line_listed"].isna().all()  # a changes.csv written before the column was: NaN
    table = changes_table(r)
    assert list(table["candidate"]) == ["1", ""] and list(table["what"]) == ["added", "recalibrated"]
    assert list(table["log gf before → after"]) == ["— → 0.300 ± 0.020", "-1.500 → -0.500 ± 0.030"]


def test_the_repaired_theory_is_the_librarys_transmission(tiny_store, tmp_path):
    """apps.repair_data's RepairedTheory is gapviz.repair.refit's ChangeTransmission, numpy in and out; a set of
    changed lines none of which is on the store's pixels changes nothing; another LineModel error names the
    repair's linelist.csv."""
    import dataclasses

    import torch

    from apps.repair_data import RepairedTheory
    from gapviz.errors import GapvizError
    from gapviz.repair.refit import ChangeTransmission, change_models

    where = write_repair_dir(tmp_path / "rep", tiny_wavelength())
    data = store_data(tiny_store)
    r = read_repair(tmp_path / "rep", data)
    labels = data.stars[data.label_names].to_numpy(np.float64)[:5]
    flux = np.full((5, data.wavelength.size), 0.7)  # the store's theory flux of those stars, say
    got = RepairedTheory(r, data).transmission(labels, flux)
    assert got.dtype == np.float64 and got.shape == (5, data.wavelength.size)
    models = change_models(r.added, r.recalibrated, data.wavelength, data.label_names, r.resolution, None)
    lib = ChangeTransmission(*models, n_pix=data.wavelength.size)
    with torch.no_grad():
        np.testing.assert_array_equal(got, lib.transmission(torch.as_tensor(labels, dtype=torch.float32)).double())
    # a repair made with --theory linemodel: its added lines saturate with the theory's absorption, as fitted
    joint = RepairedTheory(dataclasses.replace(r, theory="linemodel"), data).transmission(labels, flux)
    lib_joint = ChangeTransmission(*models, n_pix=data.wavelength.size, joint=True)
    np.testing.assert_array_equal(joint, lib_joint.transmission_numpy(labels, flux))
    near_added = np.abs(data.wavelength - where["added"]) < 0.1
    assert np.all(joint[:, near_added] > got[:, near_added])  # on top of absorption, a line takes less light
    off = RepairedTheory(dataclasses.replace(r, added=r.added.assign(wavelength=19000.0)), data)
    assert off.changes.added is None
    far_recal = np.abs(data.wavelength - where["recalibrated"]) > 3
    np.testing.assert_array_equal(off.transmission(labels, flux)[:, far_recal], 1.0)
    with pytest.raises(GapvizError, match="linelist.csv: LineModel: line list lacks"):
        RepairedTheory(dataclasses.replace(r, added=r.added.drop(columns="elow_ev")), data)


def test_toggling_changes_the_theory_near_the_changes_only(repaired_app):
    app, where = repaired_app
    b, st = app.browser, app.state
    st.stars = [3]
    x = st.data.wavelength
    before = {k: b._ys[k].copy() for k in ("theory", "res_theory", "obs")}
    b.theory_list = REPAIRED
    after = b._ys
    near_added = np.abs(x - where["added"]) < 0.4
    near_recal = np.abs(x - where["recalibrated"]) < 0.4
    far = (np.abs(x - where["added"]) > 3) & (np.abs(x - where["recalibrated"]) > 3)
    assert np.nanmin(after["theory"][near_added] / before["theory"][near_added]) < 0.98  # the added line's dip
    assert np.nanmin(after["theory"][near_recal] / before["theory"][near_recal]) < 0.999  # stronger log gf
    np.testing.assert_array_equal(after["theory"][far], before["theory"][far])  # nothing else moves
    np.testing.assert_allclose(after["res_theory"], after["obs"] - after["theory"], equal_nan=True)
    np.testing.assert_array_equal(after["obs"], before["obs"])
    assert list(b.curves["theory"].glyph.line_dash) == [6]  # Bokeh's "dashed": the repaired theory
    labels = [i.label for i in b.spectrum.legend[0].items if b.curves["theory"] in i.renderers]
    assert [lab.value for lab in labels] == ["theory (repaired list)"]  # a value, not a column name
    toggle = b.__panel__().select(pn.widgets.RadioButtonGroup)
    assert len(toggle) == 1 and list(toggle[0].options) == ["original list", "repaired list"]
    b.theory_list = "original list"
    np.testing.assert_array_equal(b._ys["theory"], before["theory"])


def test_the_page_says_chi2nu_with_both_lists(repaired_app):
    from gapviz.stats import chi2nu

    app, _ = repaired_app
    app.state.stars = [3]
    text = app.browser.repair_text.object
    raw = store_data(app.state.data.path.parent)
    from apps.rows import read_rows

    rows = read_rows(raw, np.array([3]))
    expected = float(chi2nu(rows["flux_obs"] - rows["flux_theory"], rows["flux_err"])[0])
    assert "original list** " + f"{expected:.3f}" in text and "repaired list**" in text
    assert "star 2M00000003" in text and "1 added, 1 recalibrated" in text


def test_a_change_row_picks_its_candidate_or_centres_on_its_line(repaired_app):
    app, where = repaired_app
    app.changes.table.selection = [1]  # the recalibrated line: no candidate
    assert (app.state.x_start + app.state.x_end) / 2 == pytest.approx(where["recalibrated"], abs=0.01)
    app.changes.table.selection = [0]
    assert app.state.candidate == 0


def test_a_missing_or_bad_repair_dir_says_why_in_the_page(tiny_store, tmp_path):
    repair, error = open_repair(tiny_store / "store.nc", tmp_path / "nope")
    assert repair is None and "no such repair folder" in error and str(tmp_path / "nope") in error
    write_repair_dir(tmp_path / "bad", tiny_wavelength())
    pd.read_csv(tmp_path / "bad" / "changes.csv").drop(columns="species").to_csv(tmp_path / "bad" / "changes.csv")
    repair, error = open_repair(tiny_store / "store.nc", tmp_path / "bad")
    assert repair is None and "changes.csv" in error and "species" in error
    e = Explorer(store_data(tiny_store), sync_url=False, repair=None, repair_error=error)
    texts = [a.object for a in e.views().select(lambda o: type(o).__name__ == "Alert")]
    assert any("The repair could not be read" in t and "species" in t for t in texts)
    assert e.browser.repair is None and not e.browser.__panel__().select(pn.widgets.RadioButtonGroup)  # no toggle


def test_store_dir_repair_is_found_by_itself(tiny_store, tmp_path):
    assert find_repair_dir(tiny_store / "store.nc", None) is None
    store = tmp_path / "store"
    store.mkdir()
    (store / "repair").mkdir()
    assert find_repair_dir(store / "store.nc", None) == store / "repair"
    assert find_repair_dir(store / "store.nc", tmp_path / "other") == tmp_path / "other"


def test_server_args_and_the_cli_take_a_repair_dir(tiny_store, tmp_path, capsys):
    from apps.store_data import server_args
    from apps.url_sync import QUERY
    from gapviz.cli import main
    from gapviz.cli.explore import check_repair, command

    assert server_args(["explorer.py", "/s", "--repair", "/r"]) == (tiny_store.__class__("/s"), "/r")
    assert server_args(["explorer.py", "/s"])[1] is None
    assert not {"repair", "path", "store_dir"} & set(QUERY.values())  # no URL parameter names a server path
    assert main(["explore", str(tiny_store), "--repair", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("gapviz: error:") and "no such repair folder" in err and "Traceback" not in err
    (tmp_path / "empty").mkdir()
    assert main(["explore", str(tiny_store), "--repair", str(tmp_path / "empty")]) == 2
    assert "has no changes.csv" in capsys.readouterr().err
    write_repair_dir(tmp_path / "rep", tiny_wavelength())
    assert check_repair(tmp_path / "rep") == tmp_path / "rep"
    cmd = command(tiny_store / "store.nc", repair=tmp_path / "rep")
    assert cmd[-4:] == ["--args", str(tiny_store / "store.nc"), "--repair", str(tmp_path / "rep")]
