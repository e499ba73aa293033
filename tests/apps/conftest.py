"""Fixtures for the explorer's tests: tiny generated stores (docs/ARCHITECTURE.md §6)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # make_store
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root, for `apps` (not an installed package)
import make_store  # noqa: E402

from gapviz.io.grids import sample_wavelength  # noqa: E402


def tiny_wavelength() -> np.ndarray:
    """300 pixels in two windows of the sample grid (one gap between them), vacuum Å."""
    wl = sample_wavelength()
    return np.concatenate([wl[:150], wl[256:406]])


@pytest.fixture(scope="session")
def tiny_store(tmp_path_factory) -> Path:
    """50 stars × 300 pixels, float32 cubes, chunks of 16 stars."""
    return make_store.write_store(tmp_path_factory.mktemp("store") / "tiny", n_star=50,
                                  wavelength=tiny_wavelength(), n_line=80, n_candidate=6, chunk=16)


@pytest.fixture(scope="session")
def packed_store(tmp_path_factory) -> Path:
    """Like tiny_store but int16-packed and compressed as gapviz.store writes it, 1200 stars (> MAX_ROWS)."""
    return make_store.write_store(tmp_path_factory.mktemp("store") / "packed", n_star=1200,
                                  wavelength=tiny_wavelength(), n_line=80, n_candidate=6, chunk=256,
                                  pack=True, compress=True)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


@pytest.fixture()
def serve_app():
    """serve_app(store_dir) -> (url, sessions): the explorer served from a thread on a free port; sessions
    collects each session's Explorer. Servers stop at the end of the test."""
    import socket
    import time

    import panel as pn

    from apps.explorer import build_app

    servers = []

    def serve(store_dir):
        sessions: list = []
        port = free_port()
        # sessions live 5 min unconnected (default 15 s) so a test can connect to each one a page created
        servers.append(pn.serve({"explorer": lambda: build_app(store_dir, sessions)}, port=port, threaded=True,
                                show=False, verbose=False, unused_session_lifetime_milliseconds=300_000))
        for _ in range(200):  # wait until it listens (a TCP connect, so no session is created)
            try:
                socket.create_connection(("localhost", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        return f"http://localhost:{port}/explorer", sessions

    yield serve
    for server in servers:
        server.stop()


@pytest.fixture()
def served(serve_app, tiny_store):
    """The explorer on tiny_store: (url, list of each session's Explorer)."""
    return serve_app(tiny_store)
