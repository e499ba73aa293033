"""apps.warm: the store's map overviews are built once per process, in the background."""

from __future__ import annotations

import apps.warm


def test_warm_up_runs_once_per_store(tiny_store, data_of, monkeypatch):
    monkeypatch.setattr(apps.warm, "_warmed", set())
    built = []
    real = apps.warm.cube_digest
    monkeypatch.setattr(apps.warm, "cube_digest", lambda path, cube: built.append(cube) or real(path, cube))
    data = data_of(tiny_store)
    assert apps.warm.warm_up(data, background=False) is None  # errors would raise here
    assert built == ["residual_theory", "residual_adapted", "correction"]
    assert apps.warm.warm_up(data) is None and len(built) == 3  # not again


def test_warm_up_in_the_background(packed_store, data_of, monkeypatch):
    monkeypatch.setattr(apps.warm, "_warmed", set())
    thread = apps.warm.warm_up(data_of(packed_store))
    assert thread is not None and thread.daemon
    thread.join(timeout=300)
    assert not thread.is_alive()
