"""The explorer on a store written by the real stages (gapviz.workflow.analyze on the toy problem)."""

from __future__ import annotations

import numpy as np
import pytest
from bokeh.document import Document


@pytest.mark.e2e
def test_explorer_on_a_pipeline_store(tmp_path):
    from apps.explorer import Explorer
    from apps.export import view_png
    from apps.store_data import load_store
    from gapviz.testing.toy import toy_line_depths, write_toy_case
    from gapviz.workflow.analyze import analyze

    case = write_toy_case(tmp_path, n_star=120, seed=0)
    analyze(None, case.observed, case.linelist, tmp_path / "store", synthetic=case.synthetic,
            reference_linelist=case.reference, adaptation=case.model, line_depths=toy_line_depths,
            chunk_size=64, progress=False)

    data = load_store(str((tmp_path / "store" / "store.nc").resolve()))
    assert data.n_star == 120 and len(data.segments) == 4 and len(data.candidates) > 0
    e = Explorer(data, sync_url=False)
    e.template().server_doc(Document())
    e.candidates.table.selection = [0]
    w = float(data.candidates["wavelength"].iloc[0])
    assert (e.state.x_start, e.state.x_end) == pytest.approx((w - 3, w + 3), abs=0.01)
    e.state.color_by = "correction at candidate"
    colours = np.asarray(e.label_space.source.data["color"])
    assert np.isfinite(colours).sum() > 100
    e.label_space.source.selected.indices = list(range(40))
    assert "of 40 selected" in e.browser.spectrum.title.text
    assert view_png(e.state).getvalue()[:4] == b"\x89PNG"
