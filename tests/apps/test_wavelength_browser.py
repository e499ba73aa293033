"""apps.wavelength_browser: the shown star(s) against the models, residuals, line and candidate markers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from apps.wavelength_browser import MAX_LINES, star_summary, visible_lines


def test_default_star_is_the_best_snr(app, raw):
    best = int(np.argmax(raw("snr")))
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


def test_visible_lines_capped_strongest_first():
    lines = pd.DataFrame({"wavelength": np.linspace(15000, 15100, 200), "species": ["Fe I", "CN"] * 100,
                          "loggf": np.linspace(-3, 0, 200)})
    vis = visible_lines(lines, 15000, 15100, [], -5)
    assert len(vis) == MAX_LINES and vis["loggf"].is_monotonic_decreasing and vis["loggf"].iloc[0] == 0
    vis = visible_lines(lines, 15070, 15080, ["CN"], -0.8)
    assert set(vis["species"]) == {"CN"}
    assert vis["wavelength"].between(15070, 15080).all() and (vis["loggf"] >= -0.8).all()


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
