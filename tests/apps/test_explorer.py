"""apps.explorer: the page around one session's views; the store chosen at start; errors shown in the page."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import panel as pn
import pytest
import xarray as xr
from bokeh.document import Document
from bokeh.events import RangesUpdate

from apps.explorer import Explorer, build_app, provenance
from apps.session import ExplorerState
from apps.store_data import default_store_dir

SAMPLE = Path(__file__).resolve().parents[2] / "data_samples" / "store" / "store.nc"


def page_text(template) -> str:
    return " ".join(str(getattr(o, "object", "")) for o in template.main)


def test_every_wavelength_view_shares_one_x_range(app):
    r = app.state.x_range
    figs = [app.browser.spectrum, app.browser.residual, app.residual_map.figure, app.corrections.mean_fig,
            app.corrections.resp_fig]
    assert all(f.x_range is r for f in figs)
    assert "50 stars" in app.residual_map.figure.title.text


def test_a_zoom_in_any_wavelength_plot_moves_every_view(app):
    figs = [app.browser.spectrum, app.browser.residual, app.residual_map.figure, app.corrections.mean_fig,
            app.corrections.resp_fig]
    for i, fig in enumerate(figs):
        x0 = 15705.0 + i
        fig._trigger_event(RangesUpdate(fig, x0=x0, x1=x0 + 4.0, y0=0, y1=1))
        assert (app.state.x_start, app.state.x_end) == (x0, x0 + 4.0)
        assert app.residual_map.source.data["x"][0] == x0  # the map re-rasterized the new range
        xs = np.asarray(app.browser.line_src.data["x"])
        assert ((xs >= x0) & (xs <= x0 + 4)).all()


def test_explorer_is_a_viewer_of_its_state(tiny_store, data_of):
    data = data_of(tiny_store)
    e = Explorer(data, sync_url=False)
    assert isinstance(e, pn.viewable.Viewer) and isinstance(e.state, ExplorerState)
    assert all(v.state is e.state for v in (e.browser, e.label_space, e.residual_map, e.corrections,
                                             e.candidates, e.export, e.tour))
    doc = Document()
    layout = pn.panel(e)  # the whole explorer as one layout: controls beside the views
    layout.server_doc(doc)
    titles = {m.text for root in doc.roots for m in root.references() if type(m).__name__ == "Title" and m.text}
    assert {"Kiel diagram (inferred labels)",
            "learned correction (adapted − theory)", "residual_theory — 50 stars, 1 per row"} <= titles
    assert len(layout.select(pn.widgets.FileDownload)) == 3 and layout.select(pn.widgets.FloatSlider)  # controls
    shared = Explorer(state=e.state, sync_url=False)
    assert shared.state is e.state and shared.browser is not e.browser


def test_page_has_the_provenance_header_and_sidebar(app):
    page = app.template()
    assert isinstance(page, pn.template.FastListTemplate) and page.title == "gapviz explorer"
    text = provenance(app.state.data)
    assert "**gapviz store (generated for explorer tests)**" in text and "50 stars × 300 pixels" in text
    assert "6 candidates" in text and "`runs/generated`" in text
    assert page.main[0].objects[0].object == text
    assert "Guided tour" in str(page.sidebar[0].objects[0].objects[0].object)
    assert [b.label for b in page.sidebar[0].objects[-1].objects[1:]] == ["Candidates (CSV)", "Star selection (CSV)",
                                                                         "Current view (PNG)"]


def test_store_without_candidates_still_opens(tmp_path):
    from gapviz.testing import stores as make_store

    store = make_store.write_store(tmp_path / "empty", n_star=20, wavelength=make_store.sample_wavelength()[:100],
                                   n_line=10, n_candidate=0, chunk=8)
    sessions = []
    Document().add_root(build_app(store, sessions).main[0].get_root())
    e = sessions[0]
    e.state.color_by = "correction at candidate"
    assert np.isnan(e.label_space.source.data["color"]).all()
    e.tour.go(2)  # "a dip the theory lacks" with nothing to show: no error, range unchanged
    assert e.state.candidate == -1 and len(e.candidates.table.value) == 0


def test_missing_store_gives_a_message_page(tmp_path):
    text = page_text(build_app(tmp_path / "nowhere"))
    assert "could not open its store" in text and "no store here" in text
    assert str(tmp_path / "nowhere" / "store.nc") in text and "expected STORE_DIR" in text


def test_foreign_files_say_what_was_expected(tmp_path):
    f = tmp_path / "other.nc"  # a netCDF4 file with a wavelength axis but none of the store's cubes
    xr.Dataset({"flux": ("wavelength", np.ones(3))}, coords={"wavelength": np.arange(3.0)}).to_netcdf(
        f, engine="h5netcdf")
    text = page_text(build_app(f))
    assert "gapviz store" in text and "flux_obs" in text and "missing" in text and str(f) in text
    b = tmp_path / "baseline.nc"
    xr.Dataset({"candidate_wavelength": ("candidate", [15200.0])}, coords={"wavelength": np.arange(3.0)},
               attrs={"method": "baseline"}).to_netcdf(b, engine="h5netcdf")
    text = page_text(build_app(b))
    assert "baseline store" in text and str(b) in text
    h = tmp_path / "plain.h5"
    with h5py.File(h, "w") as fh:
        fh["x"] = np.arange(3.0)
    text = page_text(build_app(h))
    assert "not a gapviz store" in text and "expected STORE_DIR" in text and str(h) in text
    g = tmp_path / "notes.txt"
    g.write_text("hello")
    assert "not a gapviz store" in page_text(build_app(g))
    bad = tmp_path / "broken.nc"
    bad.write_text("not netCDF")
    text = page_text(build_app(bad))
    assert str(bad) in text and "netCDF4" in text and "Traceback" not in text


def test_no_argument_without_the_sample_shows_a_message(monkeypatch, tmp_path):
    import apps.store_data

    monkeypatch.setattr(apps.store_data, "default_store_dir", lambda: tmp_path / "data_samples" / "store")
    monkeypatch.setattr("sys.argv", ["explorer.py"])
    text = page_text(build_app())
    assert "no store here" in text and str(tmp_path / "data_samples" / "store") in text


def test_argument_selects_the_store(monkeypatch, tiny_store):
    monkeypatch.setattr("sys.argv", ["explorer.py", str(tiny_store)])
    sessions = []
    build_app(sessions=sessions)
    assert sessions[0].state.data.path == (tiny_store / "store.nc").resolve()


@pytest.mark.skipif(not SAMPLE.exists(), reason="the shipped sample store is not in this checkout")
def test_no_argument_opens_the_shipped_sample(monkeypatch):
    monkeypatch.setattr("sys.argv", ["explorer.py"])
    sessions = []
    build_app(sessions=sessions)
    data = sessions[0].state.data
    assert data.path == (default_store_dir() / "store.nc").resolve() == SAMPLE.resolve()
    assert data.n_star == 2000 and data.wavelength.size == 1024 and len(data.segments) == 4


def test_opens_on_the_top_candidate_in_a_star_that_shows_it(app, raw):
    """A new session shows the gap: the top-ranked candidate centred, in a good-S/N star where it is deep."""
    st = app.state
    w = float(raw("candidate_wavelength")[0])
    assert st.candidate == 0 and st.x_start <= w <= st.x_end
    assert app.candidates.table.selection == [0] and app.browser.cand_src.selected.indices == [0]
    star = st.shown_stars()[0]
    corr = raw("correction")[:, st.data.pixel(w)]
    snr = raw("snr")
    good = snr >= np.median(snr)
    assert snr[star] >= np.median(snr) and corr[star] == corr[good].min()  # the deepest of the good-S/N stars
    assert corr[star] <= np.quantile(corr, 0.1)  # and among the deepest of all
    assert app.browser.spectrum.title.text.startswith(f"star {raw('star_id')[star]} (#{star})")


def test_provenance_never_shows_local_or_missing_paths(tmp_path, data_of):
    """Absolute paths to files that do not exist (another machine's) show as names, or relative to the store
    when inside it; a missing attribute is left out, never shown as "?"."""
    from gapviz.testing import stores as make_store

    def store_with(name: str, **attrs) -> Path:
        store = make_store.write_store(tmp_path / name, n_star=20, wavelength=make_store.sample_wavelength()[:100],
                                       n_line=10, n_candidate=2, chunk=8)
        with h5py.File(store / "store.nc", "a") as f:
            for key, value in attrs.items():
                f.attrs[key] = value
            for key in ("chi2nu_theory_median", "chi2nu_adapted_median"):
                if key in f.attrs:
                    del f.attrs[key]
        return store

    store = tmp_path / "moved"
    text = provenance(data_of(store_with(
        "moved", synthetic_path="/home/someone/grids/synthetic_v3.h5",
        observed_path=str(store / "inputs" / "observed.h5"),  # inside the store's folder, absent
        run_dir="/scratch/someone/../runs/r42")))
    assert "synthetic `synthetic_v3.h5` → observed `inputs/observed.h5`, run `r42`" in text, text
    assert "/home" not in text and "/scratch" not in text and str(tmp_path) not in text
    assert "?" not in text and "χ²ν" not in text and "20 stars × 100 pixels" in text
    text = provenance(data_of(store_with("bare", synthetic_path="", observed_path="", run_dir="")))
    assert "synthetic" not in text and "run " not in text and "?" not in text, text

