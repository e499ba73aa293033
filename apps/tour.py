"""Teaching tour: a few plain-language steps that drive the views, for a first look at the synthetic gap.

Each step first sets the views (stars, range, curves, colouring), then writes its text from what they now show:
the colours it names are the drawn curves' own (``COLOUR_NAMES``), and a dip it points at is measured in the
shown star (``candidate_residuals``), so the words never describe something the page does not show.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import panel as pn
import param

from apps.attribution import stored_attribution
from apps.batching import batched
from apps.live_text import LiveMarkdown
from apps.session import ExplorerState
from apps.wavelength_browser import (
    BAND_COLOR,
    CANDIDATE_COLOR,
    COLOUR_NAMES,
    PICKED_COLOR,
    SERIES,
    WavelengthBrowser,
)

DIP_HALF_WIDTH = 0.35  # Å: half an APOGEE resolution element, where a candidate's dip is measured
Action = Callable[[ExplorerState, WavelengthBrowser], None]
Text = Callable[[ExplorerState, WavelengthBrowser], str]


@dataclass(frozen=True)
class Step:
    title: str
    text: Text  # written after ``action`` from what the views then show
    action: Action


def colour(curve: str) -> str:
    """The name of a browser curve's colour ("blue" for the theory)."""
    return COLOUR_NAMES[SERIES[curve][1]]


def top_candidate(state: ExplorerState) -> int:
    """Row of the top-ranked candidate: the store keeps them in rank order (-1 when there is none)."""
    return 0 if len(state.data.candidates) else -1


def candidate_residuals(state: ExplorerState, browser: WavelengthBrowser) -> tuple[float, float] | None:
    """(obs − theory, obs − adapted) of the shown star(s) at the pixel within ±``DIP_HALF_WIDTH`` Å of the picked
    candidate where obs − theory is most extreme in the feature's sense (None: no candidate, no finite pixel)."""
    c = state.candidate
    if not 0 <= c < len(state.data.candidates) or not browser._ys:
        return None
    w = float(state.data.candidates["wavelength"].iloc[c])
    near = np.abs(state.data.wavelength - w) <= DIP_HALF_WIDTH
    theory, adapted = browser._ys["res_theory"][near], browser._ys["res_adapted"][near]
    if not np.isfinite(theory).any():
        return None
    # the extreme in the feature's sense: the deepest (absorption) or highest (emission) pixel
    i = int(np.nanargmin(theory)) if _absorption(state) else int(np.nanargmax(theory))
    return float(theory[i]), float(adapted[i])


def _absorption(state: ExplorerState) -> bool:
    c = state.data.candidates
    return "depth" not in c or float(c["depth"].iloc[max(state.candidate, 0)]) >= 0


def _opening(state: ExplorerState, browser: WavelengthBrowser) -> None:
    """The showcase star (no selection) around the top-ranked candidate, with the given curves."""
    state.stars = []
    if (c := top_candidate(state)) >= 0:
        state.select_candidate(c)


def _theory(state, browser) -> None:
    _opening(state, browser)
    browser.visible = ["theory"]


def _star(state, browser) -> None:
    _opening(state, browser)
    browser.visible = ["obs", "theory"]


def _adapted(state, browser) -> None:
    _opening(state, browser)
    browser.visible = ["obs", "theory", "adapted"]


def _who(state, browser) -> None:
    if state.candidate < 0 and (c := top_candidate(state)) >= 0:
        state.select_candidate(c)
    state.color_by = "correction at candidate"


def _map(state, browser) -> None:
    state.cube = "residual_theory"
    attributed = stored_attribution(state.data.candidates, state.candidate)
    if attributed and attributed.label in state.param["sort_by"].objects:
        state.sort_by = attributed.label


def _free(state, browser) -> None:
    browser.visible = list(browser.param["visible"].objects)


def _theory_text(state, browser) -> str:
    return (f"The {colour('theory')} line is what theory predicts for this star: a model atmosphere and a line "
            "list turned into flux. Each dip is light absorbed by an atom or molecule; the grey ticks at the top "
            "mark the line list's lines expected to be deepest in this star.")


def _star_text(state, browser) -> str:
    return (f"The {colour('obs')} line is the observed spectrum of the same star, with its noise as a "
            f"{COLOUR_NAMES[BAND_COLOR]} band. Where {colour('obs')} and {colour('theory')} disagree, the theory is "
            "missing something (or the data have a problem).")


def _dip_text(state, browser) -> str:
    if state.candidate < 0:
        return "This store has no candidate missing line; zoom and pan the spectrum to compare data and theory."
    w = float(state.data.candidates["wavelength"].iloc[state.candidate])
    dip, sense = ("dip", "below") if _absorption(state) else ("bump", "above")
    res = candidate_residuals(state, browser)
    marks = (f"The {COLOUR_NAMES[PICKED_COLOR]} triangle above the spectrum marks it (the other candidates are "
             f"{COLOUR_NAMES[CANDIDATE_COLOR]} triangles); the residual panel below shows the mismatch.")
    if res is not None and (res[0] < 0 if _absorption(state) else res[0] > 0):
        return (f"We have jumped to the top-ranked candidate at {w:.2f} Å: a {dip} that is in the data but not "
                f"in the theory. The {colour('obs')} line goes {sense} the {colour('theory')} one there, by "
                f"{abs(res[0]):.3f} of the continuum. {marks}")
    return (f"We have jumped to the top-ranked candidate at {w:.2f} Å, a {dip} the theory lacks in many stars; "
            f"in this star it is lost in the noise. {marks}")


def _adapted_text(state, browser) -> str:
    base = (f"The {colour('adapted')} line is the adapted model: the theory plus a correction learned from "
            "thousands of stars without using their labels.")
    res = candidate_residuals(state, browser)
    if res is None:
        return base
    if abs(res[1]) < abs(res[0]):
        return (f"{base} At the candidate it comes closer to the data than the theory: "
                f"{abs(res[1]):.3f} off instead of {abs(res[0]):.3f}. It fills in what the theory missed.")
    return f"{base} In this star it does not come closer to the data at the candidate than the theory does."


def _who_text(state, browser) -> str:
    if state.candidate < 0:
        return "Pick a candidate: the stars in label space are then coloured by the correction at its wavelength."
    w = float(state.data.candidates["wavelength"].iloc[state.candidate])
    attributed = stored_attribution(state.data.candidates, state.candidate)
    said = (f" The store attributes this one to **{attributed.label}**"
            + (f" (like a {attributed.species} line)" if attributed.species else "") + "."
            if attributed and attributed.label != "none" else "")
    return (f"The stars in label space are now coloured by the correction at {w:.2f} Å: blue where the adapted "
            "model is below the theory (extra absorption), red where above. If the colour follows one label "
            "(temperature, gravity, an abundance), that points to the element or molecule responsible." + said)


def _map_text(state, browser) -> str:
    attributed = stored_attribution(state.data.candidates, state.candidate)
    follows = " — the label the feature follows" if attributed and attributed.label == state.sort_by else ""
    where = (f" at {float(state.data.candidates['wavelength'].iloc[state.candidate]):.2f} Å"
             if state.candidate >= 0 else "")
    return (f"The residual map shows every star (rows, sorted by {state.sort_by}{follows}) against wavelength: "
            f"observed minus theory, blue where the star is below the theory. A missing line is a vertical stripe"
            f"{where} whose strength changes down the map.")


def _free_text(state, browser) -> str:
    return ("Pick candidates in the table, select stars with the lasso, zoom in wavelength. The URL keeps what "
            "you see, so you can share it.")


STEPS = (
    Step("A theoretical spectrum", _theory_text, _theory),
    Step("The star itself", _star_text, _star),
    Step("A dip the theory lacks", _dip_text, _star),
    Step("The adapted model", _adapted_text, _adapted),
    Step("Who has the missing line?", _who_text, _who),
    Step("All stars at once", _map_text, _map),
    Step("Your turn", _free_text, _free),
)


class Tour(pn.viewable.Viewer):
    """Step-by-step guide; each step sets the views (stars, range, curves, colouring), then says what they show."""

    state = param.ClassSelector(class_=ExplorerState)
    browser = param.ClassSelector(class_=WavelengthBrowser)
    step = param.Integer(default=-1, bounds=(-1, len(STEPS) - 1))

    def __init__(self, **params):
        super().__init__(**params)
        self.text = LiveMarkdown(f"A guided look at the synthetic gap in {len(STEPS)} short steps.", height=190)
        self.prev_button = pn.widgets.Button(label="◀ back", width=80, disabled=True)
        self.next_button = pn.widgets.Button(label="start the tour ▶", color="success", width=150)
        self.prev_button.on_click(batched(lambda e: self.go(self.step - 1)))
        self.next_button.on_click(batched(lambda e: self.go(self.step + 1)))

    def go(self, step: int) -> None:
        """Show step ``step`` (0-based): apply its action to the views, then write what they show."""
        step = max(0, min(step, len(STEPS) - 1))
        s = STEPS[step]
        s.action(self.state, self.browser)
        self.step = step
        self.text.object = f"**{step + 1}/{len(STEPS)} — {s.title}**\n\n{s.text(self.state, self.browser)}"
        self.prev_button.disabled = step == 0
        self.next_button.disabled = step == len(STEPS) - 1
        self.next_button.label = "next ▶"

    def __panel__(self):
        return pn.Column("### Guided tour", self.text, pn.Row(self.prev_button, self.next_button))
