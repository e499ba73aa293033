"""Progress bars for long work: shown when asked for and when stderr is a terminal, so a log file gets none."""

from __future__ import annotations


def progress_bar(iterable=None, enabled: bool = True, **kw):
    """A ``tqdm`` bar over ``iterable`` (or a manual one with ``total=``); ``disable=None`` lets tqdm hide it
    when stderr is not a terminal."""
    from tqdm.auto import tqdm

    return tqdm(iterable, disable=None if enabled else True, **kw)
