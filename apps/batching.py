"""One interaction, one document patch: the views' updates of an interaction are held and sent together.

Without it every changed Bokeh property went to the page as its own PATCH-DOC message (18 for a picked
candidate), and the page redrew the plots after each: a colour change redrew both label-space plots four times
(measured in Chromium with ``benchmarks/bench_explorer_browser.py``). Each entry point of an interaction (a
table row, a selection, a zoom, a tour button, a select widget) runs under ``panel.io.hold``; outside a server
session it changes nothing.
"""

from __future__ import annotations

import functools

import panel as pn
import param
from panel.io import hold


def batched(fn):
    """``fn`` with all document changes it causes sent as one patch."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with hold():
            return fn(*args, **kwargs)
    return wrapper


def select_for(obj: param.Parameterized, name: str, label: str, **kw) -> pn.widgets.Select:
    """A Select showing ``obj.<name>`` (a param.Selector) both ways, like ``Select.from_param``, but a choice in
    the page is applied under one hold (``batched``)."""
    p = obj.param[name]
    widget = pn.widgets.Select(label=label, options=list(p.objects), value=getattr(obj, name), **kw)

    @batched
    def to_obj(event) -> None:
        if getattr(obj, name) != event.new:
            setattr(obj, name, event.new)

    def to_widget(event) -> None:
        if widget.value != event.new:
            widget.value = event.new

    widget.param.watch(to_obj, "value")
    obj.param.watch(to_widget, name)
    return widget
