"""Explorer views without a browser: each builds from a tiny store and reacts through the shared state."""

from __future__ import annotations

import io
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from bokeh.document import Document

from apps.candidates import nearest_lines
from apps.corrections import attribution
from apps.explorer import Explorer, build_app
from apps.export import candidates_csv, selection_csv, view_png
from apps.residual_map import build_digest, raster
from apps.links import format_stars, parse_stars
from apps.state import ExplorerState, load_store, pick_for_mean, segments_of, with_gaps
from apps.tour import STEPS, top_candidate
from apps.wavelength_browser import MAX_LINES, visible_lines


@pytest.fixture()
def app(tiny_store):
    data = load_store(str((tiny_store / "store.nc").resolve()))
    e = Explorer(data, sync_url=False)
    doc = Document()
    e.template().server_doc(doc)  # every view turned into Bokeh models
    return e


def raw(store, name):
    with xr.open_dataset(store / "store.nc", engine="h5netcdf") as ds:
        return np.asarray(ds[name].values)


def test_every_view_builds_with_shared_x_range(app):
    r = app.state.x_range
    figs = [app.browser.spectrum, app.browser.residual, app.residual_map.figure, app.corrections.mean_fig,
            app.corrections.resp_fig]
    assert all(f.x_range is r for f in figs)
    assert app.label_space.kiel.x_range.flipped and app.label_space.kiel.y_range.flipped
    assert len(app.candidates.table.value) == 6
    assert list(app.candidates.table.value["rank"]) == [1, 2, 3, 4, 5, 6]  # the store's rank order
    assert app.candidates.table.titles["equivalent_width"] == "equivalent_width (mAngstrom)"
    assert "50 stars" in app.residual_map.figure.title.text


def test_candidate_row_centres_every_view(app, tiny_store):
    cand_wl = raw(tiny_store, "candidate_wavelength")
    app.candidates.table.selection = [3]
    assert app.state.candidate == 3
    assert app.state.x_range.start == pytest.approx(cand_wl[3] - 3, abs=0.01)
    assert app.state.x_range.end == pytest.approx(cand_wl[3] + 3, abs=0.01)
    assert app.browser.cand_src.selected.indices == [3]
    label = str(raw(tiny_store, "candidate_attributed_label")[3])
    assert label in app.candidates.detail.object
    assert f"Candidate 3" in app.corrections.attr_text.object
    # the residual map now shows only the 6 Å around the candidate
    assert app.residual_map.source.data["dw"][0] == pytest.approx(6.0, abs=0.02)


def test_tapping_a_candidate_marker_selects_it(app, tiny_store):
    app.browser.cand_src.selected.indices = [1]
    assert app.state.candidate == 1
    assert app.candidates.table.selection == [1]
    assert app.state.x_start == pytest.approx(raw(tiny_store, "candidate_wavelength")[1] - 3, abs=0.01)


def test_label_space_selection_drives_the_browser(app, tiny_store):
    app.label_space.source.selected.indices = [4, 7, 9]
    assert app.state.stars == [4, 7, 9]
    assert app.state.stars_url == "4,7,9"
    assert "mean of 3 of 3" in app.browser.spectrum.title.text
    obs = raw(tiny_store, "flux_obs")[[4, 7, 9]].mean(0)
    shown = np.asarray(app.browser.flux_src.data["obs"])
    shown = shown[np.isfinite(shown)]
    np.testing.assert_allclose(shown, obs, rtol=1e-5)


def test_single_star_shows_its_error_band(app, tiny_store):
    app.state.stars = [2]
    d = app.browser.flux_src.data
    band = (np.asarray(d["band_hi"]) - np.asarray(d["band_lo"])) / 2
    err = raw(tiny_store, "flux_err")[2]
    np.testing.assert_allclose(band[np.isfinite(band)], err, rtol=1e-4)
    assert "2M00000002" in app.browser.spectrum.title.text


def test_lines_are_not_drawn_across_the_gap(app):
    x = np.asarray(app.browser.flux_src.data["x"])
    assert np.isnan(x).sum() == 1  # two windows, one break
    i = int(np.flatnonzero(np.isnan(x))[0])
    assert np.isnan(app.browser.flux_src.data["obs"][i])


def test_colour_by_correction_at_candidate(app, tiny_store):
    app.state.select_candidate(2)
    app.state.color_by = "correction at candidate"
    wl = raw(tiny_store, "wavelength")
    pix = int(np.argmin(np.abs(wl - raw(tiny_store, "candidate_wavelength")[2])))
    expected = raw(tiny_store, "correction")[:, pix]
    np.testing.assert_allclose(app.label_space.source.data["color"], expected, rtol=1e-6)
    assert app.label_space.mapper.low == -app.label_space.mapper.high
    app.state.color_by = "teff"
    np.testing.assert_allclose(app.label_space.source.data["color"], raw(tiny_store, "teff"), rtol=1e-6)


def test_map_rows_follow_the_sorting_label(app, tiny_store):
    data = app.state.data
    digest = build_digest(data, "residual_theory")
    order = np.argsort(raw(tiny_store, "fe_h"), kind="stable")
    np.testing.assert_allclose(digest.rows["fe_h"], raw(tiny_store, "residual_theory")[order], rtol=1e-6)
    agg = build_digest(data, "residual_theory", max_rows=10, block=16)
    cube = raw(tiny_store, "residual_theory")[order]
    np.testing.assert_allclose(agg.rows["fe_h"][0], cube[:5].mean(0), rtol=1e-5, atol=1e-7)
    assert agg.stars_per_row == 5
    app.state.sort_by = "logg"
    assert app.residual_map.figure.yaxis.axis_label == "stars sorted by logg"


def test_map_raster_leaves_the_gap_empty(app):
    data = app.state.data
    digest = build_digest(data, "correction")
    left, right = data.wavelength[149], data.wavelength[150]
    img = raster(data, digest, "teff", left - 10, right + 10, size=(400, 50))
    cols = np.linspace(left - 10, right + 10, 400)
    gap = (cols > left + 1) & (cols < right - 1)
    assert np.isnan(img[:, gap]).all()
    assert np.isfinite(img[:, cols < left - 1]).all()


def test_packed_store_aggregates_rows(packed_store):
    data = load_store(str((packed_store / "store.nc").resolve()))
    assert data.n_star == 1200 and data.chunk_stars == 256
    digest = build_digest(data, "correction")
    assert digest.rows["teff"].shape == (1000, 300)
    assert digest.stars_per_row == pytest.approx(1.2)
    assert np.isfinite(digest.rows["teff"]).all()
    picked = pick_for_mean(list(range(0, 1200, 3)), data.chunk_stars)
    assert picked.size == 32 and np.unique(picked // 256).size == 1  # one storage chunk read
    scattered = [5, 300, 301, 600, 900, 1100]  # 5 chunks: the 4 fullest are read, the 2-star one first
    picked = pick_for_mean(scattered, data.chunk_stars)
    assert picked.size == 5 and {300, 301} <= set(picked.tolist())
    assert pick_for_mean([1, 2, 3], data.chunk_stars).tolist() == [1, 2, 3]


def test_visible_lines_capped_strongest_first():
    lines = pd.DataFrame({"wavelength": np.linspace(15000, 15100, 200), "species": ["Fe I", "CN"] * 100,
                          "loggf": np.linspace(-3, 0, 200)})
    vis = visible_lines(lines, 15000, 15100, [], -5)
    assert len(vis) == MAX_LINES and vis["loggf"].is_monotonic_decreasing
    assert vis["loggf"].iloc[0] == 0
    vis = visible_lines(lines, 15070, 15080, ["CN"], -0.8)
    assert set(vis["species"]) == {"CN"}
    assert vis["wavelength"].between(15070, 15080).all() and (vis["loggf"] >= -0.8).all()


def test_line_markers_follow_the_view(app):
    app.state.set_range(app.state.data.wavelength[0], app.state.data.wavelength[0] + 5)
    xs = np.asarray(app.browser.line_src.data["x"])
    assert (xs >= app.state.x_start).all() and (xs <= app.state.x_end).all()
    app.browser.species = ["Fe I"]
    assert set(app.browser.line_src.data["species"]) <= {"Fe I"}


def test_jump_to_wavelength(app):
    app.browser.jump_to = 15710.0
    assert (app.state.x_start + app.state.x_end) / 2 == pytest.approx(15710.0, abs=0.01)


def test_star_ranges_roundtrip():
    assert format_stars([7, 0, 1, 2, 9, 10]) == "0-2,7,9-10"
    assert parse_stars("0-2,7,9-10", 50) == [0, 1, 2, 7, 9, 10]
    assert parse_stars("x,3-1,48-99,-4", 50) == [48, 49]


def test_segments_and_gaps():
    wl = np.array([1.0, 1.1, 1.2, 5.0, 5.1])
    segs = segments_of(wl)
    assert segs == [slice(0, 3), slice(3, 5)]
    cols = with_gaps(wl, {"y": wl * 2}, segs)
    assert np.isnan(cols["x"][3]) and cols["x"].size == 6


def test_exports(app, tiny_store):
    table = pd.read_csv(candidates_csv(app.state))
    np.testing.assert_allclose(table["wavelength"], raw(tiny_store, "candidate_wavelength"))
    app.state.stars = [3, 5]
    sel = pd.read_csv(selection_csv(app.state))
    assert list(sel["star_id"]) == list(raw(tiny_store, "star_id")[[3, 5]])
    np.testing.assert_allclose(sel["teff"], raw(tiny_store, "teff")[[3, 5]], rtol=1e-6)
    png = view_png(app.state).getvalue()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    from PIL import Image
    img = Image.open(io.BytesIO(png))
    assert img.size[0] == 1200 and np.unique(np.asarray(img.convert("L"))).size > 10  # not blank


def test_tour_steps_drive_the_views(app):
    for i in range(len(STEPS)):
        app.tour.go(i)
        if i == 0:
            assert app.browser.visible == ["theory"]
        if i == 2:
            assert app.state.candidate == top_candidate(app.state)
            assert app.state.x_end - app.state.x_start == pytest.approx(6.0, abs=0.02)
        if i == 4:
            assert app.state.color_by == "correction at candidate"
    assert app.tour.next_button.disabled and f"{len(STEPS)}/{len(STEPS)}" in app.tour.text.object


def test_attribution_names_the_driving_label(app, tiny_store):
    labels = raw(tiny_store, "candidate_attributed_label")
    wl = raw(tiny_store, "candidate_wavelength")
    shares = attribution(app.state.data, wl[0] - 0.5, wl[0] + 0.5)
    assert max(shares, key=shares.get) == labels[0]
    assert sum(shares.values()) == pytest.approx(1.0)


def test_nearest_lines_within_window():
    lines = pd.DataFrame({"wavelength": [100.0, 101.0, 104.5], "species": ["A", "B", "C"], "loggf": [0, 0, 0]})
    near = nearest_lines(lines, 100.8)
    assert list(near["species"]) == ["B", "A"]


def test_state_rejects_out_of_range_candidate(app):
    before = (app.state.x_start, app.state.x_end)
    app.state.select_candidate(99)
    assert app.state.candidate == -1 and (app.state.x_start, app.state.x_end) == before


def test_store_without_candidates_still_opens(tmp_path):
    import make_store

    store = make_store.write_store(tmp_path / "empty", n_star=20, wavelength=make_store.sample_wavelength()[:100],
                                   n_line=10, n_candidate=0, chunk=8)
    e = Explorer(load_store(str((store / "store.nc").resolve())), sync_url=False)
    Document().add_root(e.template().main[0].get_root())
    e.state.color_by = "correction at candidate"
    assert np.isnan(e.label_space.source.data["color"]).all()
    e.tour.go(2)  # "a dip the theory lacks" with nothing to show: no error, range unchanged
    assert e.state.candidate == -1 and len(e.candidates.table.value) == 0


def page_text(template) -> str:
    return " ".join(str(getattr(o, "object", "")) for o in template.main)


def test_missing_store_gives_a_message_page(tmp_path):
    page = build_app(tmp_path / "nowhere")
    assert "no gapviz store here" in page_text(page)


def test_foreign_file_says_what_was_expected(tmp_path):
    f = tmp_path / "other.nc"  # a netCDF4 file with a wavelength axis but none of the store's cubes
    xr.Dataset({"flux": ("wavelength", np.ones(3))}, coords={"wavelength": np.arange(3.0)}).to_netcdf(
        f, engine="h5netcdf")
    text = page_text(build_app(f))
    assert "not a gapviz store" in text and "flux_obs" in text and str(f) in text
    b = tmp_path / "baseline.nc"
    xr.Dataset({"candidate_wavelength": ("candidate", [15200.0])}, coords={"wavelength": np.arange(3.0)},
               attrs={"method": "baseline"}).to_netcdf(b, engine="h5netcdf")
    assert "baseline store" in page_text(build_app(b))
    h = tmp_path / "plain.h5"
    with h5py.File(h, "w") as fh:
        fh["x"] = np.arange(3.0)
    assert "not a gapviz store" in page_text(build_app(h))
    g = tmp_path / "notes.txt"
    g.write_text("hello")
    assert "not a gapviz store" in page_text(build_app(g))


def test_url_state_is_validated(app):
    st: ExplorerState = app.state
    st.stars_url = "1-3,999"
    assert st.stars == [1, 2, 3]
    with pytest.raises(ValueError):
        st.color_by = "/etc/passwd"


def test_no_argument_without_the_sample_shows_a_message(monkeypatch, tmp_path):
    import apps.state

    monkeypatch.setattr(apps.state, "default_store_dir", lambda: tmp_path / "data_samples" / "store")
    monkeypatch.setattr("sys.argv", ["explorer.py"])
    text = page_text(build_app())
    assert "no gapviz store here" in text and str(tmp_path / "data_samples" / "store") in text


def test_argument_selects_the_store(monkeypatch, tiny_store):
    monkeypatch.setattr("sys.argv", ["explorer.py", str(tiny_store)])
    sessions = []
    build_app(sessions=sessions)
    assert sessions[0].state.data.path == (tiny_store / "store.nc").resolve()


def test_zoom_in_any_wavelength_plot_moves_the_state(app):
    from bokeh.events import RangesUpdate

    figs = [app.browser.spectrum, app.browser.residual, app.residual_map.figure, app.corrections.mean_fig]
    for i, fig in enumerate(figs):
        x0 = 15705.0 + i
        fig._trigger_event(RangesUpdate(fig, x0=x0, x1=x0 + 4.0, y0=0, y1=1))
        assert (app.state.x_start, app.state.x_end) == (x0, x0 + 4.0)
        assert app.residual_map.source.data["x"][0] == x0  # the map re-rasterized the new range
        xs = np.asarray(app.browser.line_src.data["x"])
        assert ((xs >= x0) & (xs <= x0 + 4)).all()


def test_warm_up_runs_once_per_store(tiny_store, monkeypatch):
    import apps.warm

    monkeypatch.setattr(apps.warm, "_warmed", set())
    built = []
    real = apps.warm.cube_digest
    monkeypatch.setattr(apps.warm, "cube_digest", lambda path, cube: built.append(cube) or real(path, cube))
    data = load_store(str((tiny_store / "store.nc").resolve()))
    assert apps.warm.warm_up(data, background=False) is None  # errors would raise here
    assert built == ["residual_theory", "residual_adapted", "correction"]
    assert apps.warm.warm_up(data) is None and len(built) == 3  # not again


@pytest.mark.skipif(not (Path(__file__).resolve().parents[2] / "data_samples" / "store" / "store.nc").exists(),
                    reason="the shipped sample store is not in this checkout")
def test_no_argument_opens_the_shipped_sample(monkeypatch):
    from apps.state import default_store_dir

    monkeypatch.setattr("sys.argv", ["explorer.py"])
    sessions = []
    build_app(sessions=sessions)
    data = sessions[0].state.data
    assert data.path == (default_store_dir() / "store.nc").resolve()
    assert data.n_star == 2000 and data.wavelength.size == 1024 and len(data.segments) == 4
