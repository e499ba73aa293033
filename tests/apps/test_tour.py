"""apps.tour: the guided steps drive the views."""

from __future__ import annotations

import numpy as np
import pytest

from apps.tour import STEPS, top_candidate


def test_steps_drive_the_views(app):
    assert app.tour.step == -1 and app.tour.prev_button.disabled
    for i in range(len(STEPS)):
        app.tour.go(i)
        assert app.tour.text.object.startswith(f"**{i + 1}/{len(STEPS)} — {STEPS[i].title}**")
        if i == 0:
            assert app.browser.visible == ["theory"] and app.tour.prev_button.disabled
        if i == 2:
            assert app.state.candidate == top_candidate(app.state) == 0
            assert app.state.x_end - app.state.x_start == pytest.approx(6.0, abs=0.02)
        if i == 4:
            assert app.state.color_by == "correction at candidate"
        if i == 5:
            assert app.state.cube == "residual_theory"
            assert app.state.sort_by == app.state.data.candidates["attributed_label"].iloc[0]
    assert app.tour.next_button.disabled and not app.tour.prev_button.disabled
    assert app.browser.visible == list(app.browser.param["visible"].objects)


def test_steps_are_clamped(app):
    app.tour.go(99)
    assert app.tour.step == len(STEPS) - 1
    app.tour.go(-5)
    assert app.tour.step == 0


def test_buttons_move_one_step(app):
    app.tour.next_button.clicks += 1
    app.tour.next_button.clicks += 1
    assert app.tour.step == 1
    app.tour.prev_button.clicks += 1
    assert app.tour.step == 0


def _drawn_colours(app) -> set[str]:
    """Names of the colours of the curves the browser draws now."""
    from apps.wavelength_browser import COLOUR_NAMES, SERIES

    return {COLOUR_NAMES[SERIES[k][1]] for k, r in app.browser.curves.items() if r.visible}


def test_each_step_says_what_the_view_shows(app):
    """Every colour a step names is drawn; the dip and the filling-in it describes are measured in the shown
    star; the label and sort it names are the state's."""
    from apps.tour import candidate_residuals
    from apps.wavelength_browser import COLOUR_NAMES, SERIES

    names = set(COLOUR_NAMES.values()) - {"grey"}
    st, b, cands = app.state, app.browser, app.state.data.candidates
    for i in range(len(STEPS)):
        app.tour.go(i)
        text = app.tour.text.object.split("**", 2)[2]
        named = {n for n in names if f" {n} " in text}
        drawn = _drawn_colours(app)
        if i in (0, 1, 2, 3):  # the curve colours a step names are drawn (steps 1-2: every drawn one is named)
            assert named - {"pink", "orange"} <= drawn and (i > 1 or named == drawn), (i, named, drawn)
            assert not st.stars and b.spectrum.title.text.startswith("star ")  # "this star": one star shown
        if i == 0:
            x = st.data.wavelength
            theory = b._ys["theory"][(x >= st.x_start) & (x <= st.x_end)]
            assert np.nanmin(theory) < 0.97 * np.nanmax(theory)  # "each dip": there are dips in view
        if i == 2:
            w = float(cands["wavelength"].iloc[0])
            assert st.candidate == 0 and st.x_start < w < st.x_end and f"{w:.2f} Å" in text
            assert b.candidate_marks.glyph.fill_color == "#e377c2" and COLOUR_NAMES["#e377c2"] in text
            assert b.candidate_marks.selection_glyph.fill_color == "#ff7f0e" and "orange triangle" in text
            assert list(b.cand_src.selected.indices) == [0]  # the picked one is the orange one
            res = candidate_residuals(st, b)
            if "goes below" in text:
                assert res[0] < 0 and f"{abs(res[0]):.3f}" in text
            else:
                assert res is None or res[0] >= 0
        if i == 3:
            res = candidate_residuals(st, b)
            assert ("closer to the data" in text) == (abs(res[1]) < abs(res[0]))
            assert COLOUR_NAMES[SERIES["adapted"][1]] == "red" and "red line" in text
        if i == 4:
            label = str(cands["attributed_label"].iloc[0])
            assert st.color_by == "correction at candidate" and f"**{label}**" in text
            from apps.plotting import DIVERGING

            assert tuple(app.label_space.mapper.palette) == DIVERGING  # the "blue ... red" of the text
        if i == 5:
            assert f"sorted by {st.sort_by}" in text and "the label the feature follows" in text
    assert _drawn_colours(app) == {"green", "blue", "red", "black"}


def test_a_step_does_not_claim_a_dip_the_shown_star_lacks(app, monkeypatch):
    """When the shown star shows no dip at the candidate, step 3 says so rather than pointing at one."""
    import apps.tour as tour

    monkeypatch.setattr(tour, "candidate_residuals", lambda state, browser: (0.002, 0.001))
    app.tour.go(2)
    assert "lost in the noise" in app.tour.text.object and "goes below" not in app.tour.text.object
