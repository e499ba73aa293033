"""Teaching tour: a few plain-language steps that drive the views, for a first look at the synthetic gap."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import panel as pn
import param

from apps.attribution import stored_attribution
from apps.batching import batched
from apps.live_text import LiveMarkdown
from apps.session import ExplorerState
from apps.wavelength_browser import WavelengthBrowser


@dataclass(frozen=True)
class Step:
    title: str
    text: str
    action: Callable[[ExplorerState, WavelengthBrowser], None]


def top_candidate(state: ExplorerState) -> int:
    """Row of the top-ranked candidate: the store keeps them in rank order (-1 when there is none)."""
    return 0 if len(state.data.candidates) else -1


def _show(*curves: str) -> Callable[[ExplorerState, WavelengthBrowser], None]:
    def act(state: ExplorerState, browser: WavelengthBrowser) -> None:
        browser.visible = list(curves)
    return act


def _focus(state: ExplorerState, browser: WavelengthBrowser) -> None:
    state.stars = []
    browser.visible = ["obs", "theory"]
    if (c := top_candidate(state)) >= 0:
        state.select_candidate(c)


def _adapted(state: ExplorerState, browser: WavelengthBrowser) -> None:
    browser.visible = ["obs", "theory", "adapted"]


def _who(state: ExplorerState, browser: WavelengthBrowser) -> None:
    if state.candidate < 0 and (c := top_candidate(state)) >= 0:
        state.select_candidate(c)
    state.color_by = "correction at candidate"


def _map(state: ExplorerState, browser: WavelengthBrowser) -> None:
    state.cube = "residual_theory"
    attributed = stored_attribution(state.data.candidates, state.candidate)
    if attributed and attributed.label in state.param["sort_by"].objects:
        state.sort_by = attributed.label


def _free(state: ExplorerState, browser: WavelengthBrowser) -> None:
    browser.visible = list(browser.param["visible"].objects)


STEPS = (
    Step("A theoretical spectrum", "The blue line is what theory predicts for this star: a model atmosphere and "
         "a line list turned into flux. Each dip is light absorbed by an atom or molecule.", _show("theory")),
    Step("The star itself", "The black line is the observed spectrum of the same star, with its noise as a grey "
         "band. Where black and blue disagree, the theory is missing something (or the data have a problem).",
         _show("obs", "theory")),
    Step("A dip the theory lacks", "We have jumped to the top-ranked candidate: a dip that is in the data but not "
         "in the theory. The pink triangle marks it; the residual panel below shows the mismatch.", _focus),
    Step("The adapted model", "The red line is the adapted model: the theory plus a correction learned from "
         "thousands of stars without using their labels. It fills the dip the theory missed.", _adapted),
    Step("Who has the missing line?", "The stars in label space are now coloured by the correction at this "
         "wavelength. If the colour follows one label (temperature, gravity, an abundance), that points to the "
         "element or molecule responsible.", _who),
    Step("All stars at once", "The residual map shows every star (rows, sorted by the label the feature follows) "
         "against wavelength. A missing line is a vertical stripe whose strength changes down the map.", _map),
    Step("Your turn", "Pick candidates in the table, select stars with the lasso, zoom in wavelength. The URL "
         "keeps what you see, so you can share it.", _free),
)


class Tour(pn.viewable.Viewer):
    """Step-by-step guide; each step sets the views (stars, range, curves, colouring)."""

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
        """Show step ``step`` (0-based) and apply its action to the views."""
        step = max(0, min(step, len(STEPS) - 1))
        s = STEPS[step]
        s.action(self.state, self.browser)
        self.step = step
        self.text.object = f"**{step + 1}/{len(STEPS)} — {s.title}**\n\n{s.text}"
        self.prev_button.disabled = step == 0
        self.next_button.disabled = step == len(STEPS) - 1
        self.next_button.label = "next ▶"

    def __panel__(self):
        return pn.Column("### Guided tour", self.text, pn.Row(self.prev_button, self.next_button))
