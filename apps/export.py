"""Export: the candidates (CSV), the current star selection (CSV) and the current view (PNG).

Numbers in the CSVs carry the precision they are known to (``apps.precision``: wavelengths 0.001 Å, depths
1e-4, ...). The PNG is drawn on the server (``apps.figure_png``: no browser or webdriver, works offline); every
Bokeh plot also carries the SaveTool for a pixel-exact screenshot.
"""

from __future__ import annotations

import io

import numpy as np
import panel as pn
import param

from apps.figure_png import view_png
from apps.precision import rounded
from apps.session import ExplorerState

__all__ = ["Export", "candidates_csv", "selection_csv", "view_png"]


def candidates_csv(state: ExplorerState) -> io.StringIO:
    """All candidates of the store in rank order, with their 1-based ``rank`` as the table shows it."""
    table = state.data.candidates
    if "rank" not in table:
        table = table.assign(rank=np.arange(1, len(table) + 1))
    return io.StringIO(rounded(table).to_csv(index=False))


def selection_csv(state: ExplorerState) -> io.StringIO:
    """star_id, position in the store and labels (with errors) of the selected (or shown) stars."""
    stars = state.shown_stars()
    table = state.data.stars.iloc[stars].copy()
    table.insert(1, "star_index", stars)
    return io.StringIO(rounded(table).to_csv(index=False))


class Export(pn.viewable.Viewer):
    """Three download buttons; files are built on click, from the session's state (and the browser's curves)."""

    state = param.ClassSelector(class_=ExplorerState)
    browser = param.Parameter(default=None, doc="the WavelengthBrowser whose drawn curves the PNG shows")

    def __init__(self, **params):
        super().__init__(**params)
        st = self.state
        self.candidates_button = pn.widgets.FileDownload(callback=lambda: candidates_csv(st),
                                                         filename="gapviz_candidates.csv",
                                                         label="Candidates (CSV)", color="primary")
        self.selection_button = pn.widgets.FileDownload(callback=lambda: selection_csv(st),
                                                        filename="gapviz_selection.csv",
                                                        label="Star selection (CSV)", color="primary")
        self.png_button = pn.widgets.FileDownload(callback=self.png, filename="gapviz_view.png",
                                                  label="Current view (PNG)", color="primary")

    def png(self) -> io.BytesIO:
        """The current view as PNG (the curves the browser draws)."""
        return view_png(self.state, self.browser.visible if self.browser is not None else None)

    def __panel__(self):
        return pn.Column("### Export", self.candidates_button, self.selection_button, self.png_button)
