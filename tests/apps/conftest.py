"""Fixtures for the explorer's tests: tiny generated stores (docs/ARCHITECTURE.md §6)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root, for `apps` (not an installed package)
from gapviz.io.grids import sample_wavelength  # noqa: E402
from gapviz.testing import stores as make_store  # noqa: E402
from gapviz.testing.browser import serve_in_thread  # noqa: E402


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


@pytest.fixture(scope="session")
def misattributed_store(tmp_path_factory) -> Path:
    """Like tiny_store, but each candidate's stored attribution is the label after the one its depth really
    follows (and the response difference shows): a rule of the explorer's own would disagree with the store."""
    true = [make_store.LABEL_NAMES[i % len(make_store.LABEL_NAMES)] for i in range(6)]
    stored = [make_store.LABEL_NAMES[(make_store.LABEL_NAMES.index(t) + 1) % len(make_store.LABEL_NAMES)]
              for t in true]
    return make_store.write_store(tmp_path_factory.mktemp("store") / "misattributed", n_star=50,
                                  wavelength=tiny_wavelength(), n_line=80, n_candidate=6, chunk=16,
                                  attributed=stored)


#: (star, pixel) of masked_store's masked pixel (pixel_mask 0) and of its non-finite one (flux_obs NaN)
MASKED_PIXEL = (3, 40)
NAN_PIXEL = (3, 100)


@pytest.fixture(scope="session")
def masked_store(tmp_path_factory) -> Path:
    """Like tiny_store, with star 3 masked at pixel 40 (pixel_mask 0) and NaN in its flux_obs at pixel 100."""
    import h5netcdf

    path = make_store.write_store(tmp_path_factory.mktemp("store") / "masked", n_star=50,
                                  wavelength=tiny_wavelength(), n_line=80, n_candidate=6, chunk=16)
    with h5netcdf.File(path / "store.nc", "a") as f:
        f.variables["pixel_mask"][MASKED_PIXEL] = 0
        f.variables["flux_obs"][NAN_PIXEL] = np.nan
    return path


def store_data(store_dir: Path):
    """The explorer's in-memory part of ``store_dir`` (cached per process, as the server does)."""
    from apps.store_data import load_store

    return load_store(str((store_dir / "store.nc").resolve()))


def build_explorer(store_dir: Path):
    """An Explorer on ``store_dir`` with every view turned into Bokeh models (no address bar)."""
    from bokeh.document import Document

    from apps.explorer import Explorer

    e = Explorer(store_data(store_dir), sync_url=False)
    e.template().server_doc(Document())
    return e


@pytest.fixture()
def data_of():
    """data_of(store_dir) -> the explorer's in-memory part of that store (``apps.store_data.load_store``)."""
    return store_data


@pytest.fixture()
def explorer_on():
    """explorer_on(store_dir) -> a fresh session (Explorer) on that store, built into a Bokeh document."""
    return build_explorer


@pytest.fixture()
def app(tiny_store):
    """A fresh session (Explorer) on tiny_store."""
    return build_explorer(tiny_store)


@pytest.fixture()
def raw(tiny_store):
    """raw(name) -> the values of variable ``name`` of tiny_store, read straight from the file."""
    def read(name: str) -> np.ndarray:
        with xr.open_dataset(tiny_store / "store.nc", engine="h5netcdf") as ds:
            return np.asarray(ds[name].values)
    return read


@pytest.fixture()
def serve_app():
    """serve_app(store_dir) -> (url, sessions): the explorer served from a thread on a free port; sessions
    collects each session's Explorer. Servers stop at the end of the test."""
    from apps.explorer import build_app

    servers = []

    def serve(store_dir):
        sessions: list = []
        # sessions live 5 min unconnected (default 15 s) so a test can connect to each one a page created
        url, server = serve_in_thread("explorer", lambda: build_app(store_dir, sessions),
                                      unused_session_lifetime_milliseconds=300_000)
        servers.append(server)
        return url, sessions

    yield serve
    for server in servers:
        server.stop()


@pytest.fixture()
def served(serve_app, tiny_store):
    """The explorer on tiny_store: (url, list of each session's Explorer)."""
    return serve_app(tiny_store)
