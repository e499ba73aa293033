"""What the browser tests share: the pytest marks; Chromium, its flags and the poller come from
``gapviz.testing.browser`` (also the screenshot script's and the browser benchmark's)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gapviz.testing.browser import ARGS, CHROMIUM, wait_for

__all__ = ["ARGS", "CHROMIUM", "MARKS", "wait_for"]

MARKS = [pytest.mark.browser, pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium")]
