"""Text that changes on every interaction, sent to the page as one small document patch.

A Panel ``Markdown`` (or ``HTML``) pane re-sends its stylesheets as new models on every change of its text: the
page then restyles and re-lays out the whole template, 300–450 ms of main-thread time per pane in headless
Chromium (measured with ``benchmarks/bench_explorer_browser.py``). ``LiveMarkdown`` renders the Markdown on the
server and changes only the ``text`` of one Bokeh ``Div``.
"""

from __future__ import annotations

import panel as pn
from bokeh.models import Div
from markdown_it import MarkdownIt

_MD = MarkdownIt("commonmark", {"html": False})


class LiveMarkdown(pn.viewable.Viewer):
    """``object``: the Markdown shown (read and set like a Markdown pane's); one Bokeh ``Div`` in the page."""

    def __init__(self, object: str = "", width: int | None = None, height: int | None = None,
                 sizing_mode: str | None = None):
        """A fixed ``height`` (the text scrolls inside) spares the page a re-layout when the text changes."""
        super().__init__()
        kw = {"width": width} if width else {"sizing_mode": sizing_mode or "stretch_width"}
        if height:
            kw.update(height=height, styles={"overflow-y": "auto"})
        self.div = Div(text="", **kw)
        self._object = ""
        self.object = object

    @property
    def object(self) -> str:
        return self._object

    @object.setter
    def object(self, text: str) -> None:
        self._object = text
        html = _MD.render(text)
        if self.div.text != html:
            self.div.text = html

    def __panel__(self):
        size = {"width": self.div.width} if self.div.width else {"sizing_mode": self.div.sizing_mode}
        return pn.pane.Bokeh(self.div, **size, **({"height": self.div.height} if self.div.height else {}))
