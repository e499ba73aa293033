"""apps.label_space: Kiel and [Fe/H]–logg diagrams; a selection there drives the other views."""

from __future__ import annotations

import numpy as np

from apps.label_space import color_limits, color_values


def test_both_diagrams_plot_every_star(app, raw):
    ls = app.label_space
    assert ls.kiel.x_range.flipped and ls.kiel.y_range.flipped and ls.metal.y_range is ls.kiel.y_range
    np.testing.assert_allclose(ls.source.data["teff"], raw("teff"), rtol=1e-6)
    np.testing.assert_allclose(ls.source.data["fe_h"], raw("fe_h"), rtol=1e-6)


def test_selection_drives_the_browser(app, raw):
    app.label_space.source.selected.indices = [9, 4, 7]
    assert app.state.stars == [4, 7, 9] and app.state.stars_url == "4,7,9"
    assert "mean of 3 of 3" in app.browser.spectrum.title.text
    shown = np.asarray(app.browser.flux_src.data["obs"])
    np.testing.assert_allclose(shown[np.isfinite(shown)], raw("flux_obs")[[4, 7, 9]].mean(0), rtol=1e-5)


def test_selection_made_elsewhere_shows_here(app):
    app.state.stars_url = "1-3"
    assert app.label_space.source.selected.indices == [1, 2, 3]


def test_colour_by_correction_at_candidate(app, raw):
    app.state.select_candidate(2)
    app.state.color_by = "correction at candidate"
    wl = raw("wavelength")
    pix = int(np.argmin(np.abs(wl - raw("candidate_wavelength")[2])))
    np.testing.assert_allclose(app.label_space.source.data["color"], raw("correction")[:, pix], rtol=1e-6)
    assert app.label_space.mapper.low == -app.label_space.mapper.high  # symmetric about zero
    assert app.label_space.colorbar.title == "correction at candidate 3"  # row 2 is rank 3
    app.state.color_by = "teff"
    np.testing.assert_allclose(app.label_space.source.data["color"], raw("teff"), rtol=1e-6)
    assert app.label_space.colorbar.title == "teff"


def test_no_candidate_means_no_colour(app):
    assert np.isnan(color_values(app.state.data, "correction at candidate", -1)).all()


def test_colour_limits_are_robust():
    values = np.r_[np.linspace(0, 1, 101), np.nan, 1e6]
    lo, hi = color_limits(values)
    assert 0 <= lo < 0.05 and 0.95 < hi < 1.1
    assert color_limits(np.full(3, np.nan)) == (0.0, 1.0)
    assert color_limits(np.ones(4)) == (0.5, 1.5)
