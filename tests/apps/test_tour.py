"""apps.tour: the guided steps drive the views."""

from __future__ import annotations

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
