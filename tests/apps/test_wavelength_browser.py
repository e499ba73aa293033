"""apps.wavelength_browser: the shown star(s) against the models, residuals, line and candidate markers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from apps.line_depths import MAX_LINES, marker_lines
from apps.wavelength_browser import star_summary

SAMPLE = Path(__file__).resolve().parents[2] / "data_samples" / "store" / "store.nc"


def test_default_star_is_the_showcase_star(app, raw):
    from apps.session import showcase_star

    best = showcase_star(app.state.data)
    assert app.browser.spectrum.title.text.startswith(f"star {raw('star_id')[best]} (#{best})")
    obs = np.asarray(app.browser.flux_src.data["obs"])
    np.testing.assert_allclose(obs[np.isfinite(obs)], raw("flux_obs")[best], rtol=1e-6)


def test_single_star_shows_its_error_band_and_residuals(app, raw):
    app.state.stars = [2]
    d = app.browser.flux_src.data
    band = (np.asarray(d["band_hi"]) - np.asarray(d["band_lo"])) / 2
    np.testing.assert_allclose(band[np.isfinite(band)], raw("flux_err")[2], rtol=1e-4)
    res = np.asarray(d["res_theory"])
    np.testing.assert_allclose(res[np.isfinite(res)], raw("residual_theory")[2], rtol=1e-4, atol=1e-6)
    assert "2M00000002" in app.browser.spectrum.title.text


def test_several_stars_show_their_mean_and_scatter():
    rows = {"flux_obs": np.array([[1.0, 2.0], [3.0, 4.0]]), "flux_theory": np.ones((2, 2)),
            "flux_adapted": np.full((2, 2), 2.0), "flux_err": np.full((2, 2), 0.1)}
    s = star_summary(rows)
    np.testing.assert_allclose(s["flux_obs"], [2.0, 3.0])
    np.testing.assert_allclose(s["band"], [1.0, 1.0])  # star-to-star scatter, not flux_err
    np.testing.assert_allclose(s["residual_adapted"], [0.0, 1.0])


def test_lines_are_not_drawn_across_the_gap(app):
    x = np.asarray(app.browser.flux_src.data["x"])
    assert np.isnan(x).sum() == 1  # two windows, one break
    assert np.isnan(app.browser.flux_src.data["obs"][int(np.flatnonzero(np.isnan(x))[0])])


def test_markers_are_the_deepest_lines_capped():
    lines = pd.DataFrame({"wavelength": np.linspace(15000, 15100, 200), "species": ["Fe I", "CN"] * 100,
                          "loggf": np.linspace(0, -3, 200)})
    depth = np.linspace(0.0, 0.5, 200)  # the weakest log gf is the deepest line here
    vis = marker_lines(lines, depth, 15000, 15100, [], 0.01).lines
    assert len(vis) == MAX_LINES and vis["depth"].is_monotonic_decreasing and vis["depth"].iloc[0] == 0.5
    choice = marker_lines(lines, depth, 15070, 15080, ["CN"], 0.3)
    assert set(choice.lines["species"]) == {"CN"} and (choice.lines["depth"] >= 0.3).all()
    assert choice.lines["wavelength"].between(15070, 15080).all() and choice.note == ""


def test_a_species_whose_lines_are_all_too_shallow_says_why():
    lines = pd.DataFrame({"wavelength": [15001.0, 15002.0, 15003.0], "species": ["Fe I", "CO", "CO"],
                          "loggf": [-1.0, -5.0, -6.0]})
    choice = marker_lines(lines, np.array([0.3, 0.004, 0.002]), 15000, 15010, ["CO", "OH"], 0.01)
    assert choice.lines.empty
    assert "2 CO line(s) in view are all shallower than 0.01" in choice.note and "deepest 0.004" in choice.note
    assert "No OH line in 15000.0–15010.0 Å" in choice.note
    # without expected depths (no line model) the markers fall back to the strongest log gf, and say so
    fallback = marker_lines(lines, np.full(3, np.nan), 15000, 15010, [], 0.01)
    assert list(fallback.lines["species"]) == ["Fe I", "CO", "CO"] and "log gf" in fallback.note


@pytest.mark.skipif(not SAMPLE.exists(), reason="needs the shipped sample store")
def test_molecular_markers_shown_for_a_co_candidate(explorer_on):
    """The sample's rank-2 candidate is a CO feature: its CO lines (log gf < −4, hidden by any usual log gf cut)
    are marked, chosen by their expected depth at the shown star's labels; and the page says why when a chosen
    species (H2O, too weak in this warm star) has no marker."""
    app = explorer_on(SAMPLE.parent)
    cands = app.state.data.candidates
    row = int(np.flatnonzero(cands["attributed_species"].astype(str).to_numpy() == "CO")[0])
    app.state.select_candidate(row)
    src = app.browser.line_src.data
    species = list(src["species"])
    assert "CO" in species
    co = np.asarray(src["loggf"])[np.asarray(species) == "CO"]
    assert (co < -4).all()  # a log gf cut of -2 (the old rule) drew none of them
    assert (np.asarray(src["depth"]) >= app.browser.min_depth).all()
    app.browser.species = ["H2O"]
    assert len(app.browser.line_src.data["x"]) == 0
    assert "H2O line(s) in view are all shallower" in app.browser.lines_note.object


def test_line_markers_follow_the_view_and_filters(app):
    app.state.set_range(app.state.data.wavelength[0], app.state.data.wavelength[0] + 5)
    xs = np.asarray(app.browser.line_src.data["x"])
    assert (xs >= app.state.x_start).all() and (xs <= app.state.x_end).all()
    app.browser.species = ["Fe I"]
    assert set(app.browser.line_src.data["species"]) <= {"Fe I"}


def test_jump_to_wavelength(app):
    app.browser.jump_to = 15710.0
    assert (app.state.x_start + app.state.x_end) / 2 == pytest.approx(15710.0, abs=0.01)


def test_tapping_a_candidate_marker_selects_it(app, raw):
    assert list(app.browser.cand_src.data["label"]) == [str(v) for v in raw("candidate_attributed_label")]
    app.browser.cand_src.selected.indices = [1]
    assert app.state.candidate == 1 and app.candidates.table.selection == [1]
    assert app.state.x_start == pytest.approx(raw("candidate_wavelength")[1] - 3, abs=0.01)


def test_curve_toggles(app):
    app.browser.visible = ["obs", "theory"]
    assert {k for k, r in app.browser.curves.items() if r.visible} == {"obs", "theory"}


def test_flux_axis_follows_the_visible_data(app):
    """Zoomed to 1 Å around a candidate, the flux axis spans the data there (plus a small margin), not 0–1.2."""
    b, st = app.browser, app.state
    w = float(st.data.candidates["wavelength"].iloc[0])
    st.set_range(w - 0.5, w + 0.5)
    x = st.data.wavelength
    sel = (x >= st.x_start) & (x <= st.x_end)
    curves = [b._ys[k][sel] for k in (*b.visible, "band_lo", "band_hi")]
    lo, hi = float(np.nanmin(curves)), float(np.nanmax(curves))
    rng = b.spectrum.y_range
    assert rng.start <= lo and rng.end >= hi  # every drawn point is on the plot
    assert rng.end - rng.start <= 1.25 * max(hi - lo, 1e-3)  # and fills it
    res = [b._ys[k][sel] for k in ("res_theory", "res_adapted")]
    assert b.residual.y_range.start <= np.nanmin(res) and b.residual.y_range.end >= np.nanmax(res)
    # back to the whole first window: the axis widens again; hiding curves narrows it to what is drawn
    wide = rng.end - rng.start
    st.set_range(float(x[0]), float(x[149]))
    assert rng.end - rng.start >= wide
    b.visible = ["obs"]
    sel = (x >= st.x_start) & (x <= st.x_end)
    assert rng.start <= np.nanmin(b._ys["band_lo"][sel]) and rng.end >= np.nanmax(b._ys["band_hi"][sel])


def test_y_limits_of_a_flat_or_empty_window():
    from apps.wavelength_browser import y_limits

    x = np.arange(10.0)
    lo, hi = y_limits(x, [np.ones(10)], 2, 5)
    assert lo < 1 < hi and hi - lo == pytest.approx(1e-3 * (1 + 2 * 0.08))
    assert y_limits(x, [np.ones(10)], 20, 30) is None
    assert y_limits(x, [np.full(10, np.nan)], 2, 5) is None
