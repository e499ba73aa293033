"""Headless Chromium for the browser tests, the browser benchmark and the screenshot script: Debian's binary and
its flags, a poller, and a Panel app served from a thread on a free port (no network: Panel serves its own JS)."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def wait_for(cond: Callable[[], bool], timeout: float = 60.0) -> bool:
    """Poll ``cond()`` every 0.1 s until it is true (True) or ``timeout`` seconds pass (False)."""
    end = time.time() + timeout
    while time.time() < end:
        if cond():
            return True
        time.sleep(0.1)
    return False


def free_port() -> int:
    """A TCP port on localhost that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def listening(port: int) -> bool:
    """Something accepts connections on localhost:``port`` (a TCP connect: no Panel session is created)."""
    try:
        socket.create_connection(("localhost", port), timeout=1).close()
        return True
    except OSError:
        return False


def serve_in_thread(name: str, build: Callable, timeout: float = 60.0, **kw):
    """(url, server): ``pn.serve({name: build})`` from a thread on a free port, once it listens; ``kw`` goes to
    ``pn.serve``. Stop it with ``server.stop()``."""
    import panel as pn

    port = free_port()
    server = pn.serve({name: build}, port=port, threaded=True, show=False, verbose=False, **kw)
    if not wait_for(lambda: listening(port), timeout):
        server.stop()
        raise RuntimeError(f"the {name} app did not start listening on port {port} within {timeout:g} s")
    return f"http://localhost:{port}/{name}", server
