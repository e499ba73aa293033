"""The explorer on a store written by the real pipeline (gapviz.pipeline.analyze on the toy problem)."""

from __future__ import annotations

import numpy as np
import pytest
from bokeh.document import Document


@pytest.mark.e2e
def test_explorer_on_a_pipeline_store(tmp_path):
    from gapviz.testing.toy import standard_toy, toy_line_depths, toy_observed, toy_population, toy_synthetic
    from gapviz.io.grids import sample_wavelength
    from gapviz.io.linelist import write_linelist_csv
    from gapviz.io.spectra import write_spectra
    from gapviz.workflow.analyze import analyze

    from apps.explorer import Explorer
    from apps.export import view_png
    from apps.store_data import load_store

    model, theory, reference, _ = standard_toy(sample_wavelength())
    write_spectra(toy_observed(model, toy_population(120, 1), seed=2), tmp_path / "obs.h5")
    write_spectra(toy_synthetic(model, toy_population(120, 3)), tmp_path / "syn.h5")
    write_linelist_csv(theory, tmp_path / "ll.csv")
    write_linelist_csv(reference, tmp_path / "ref.csv")
    analyze(None, tmp_path / "obs.h5", tmp_path / "ll.csv", tmp_path / "store", synthetic=tmp_path / "syn.h5",
            reference_linelist=tmp_path / "ref.csv", adaptation=model, line_depths=toy_line_depths,
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
