"""apps.candidates: the ranked candidate table; a picked row centres every view and is described."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from apps.candidates import describe, nearest_lines


def test_table_keeps_the_store_rank_order_and_units(app, raw):
    table = app.candidates.table
    assert len(table.value) == 6 and list(table.value["rank"]) == [1, 2, 3, 4, 5, 6]
    np.testing.assert_allclose(table.value["wavelength"], raw("candidate_wavelength"))
    assert table.titles["equivalent_width"] == "equivalent width (mÅ)"
    assert table.titles["wavelength"] == "λ (Å, vacuum)" and table.titles["rank"] == "rank"


def test_table_shows_the_useful_columns_first_with_readable_headers(app):
    from bokeh.document import Document
    from bokeh.models import TableColumn

    from apps.candidates import CAPTION

    root = app.candidates.table.get_root(Document())
    cols = [(c.field, c.title) for c in root.columns if isinstance(c, TableColumn)]
    assert cols[:10] == [
        ("wavelength", "λ (Å, vacuum)"), ("kind", "kind"), ("attributed_species", "attributed species"),
        ("attributed_label", "attributed label"), ("identification", "identification"),
        ("in_linelist", "in line list"), ("depth", "depth"), ("significance", "significance (σ)"),
        ("score", "score (σ × |depth|)"), ("rank", "rank")]
    assert "significance × |depth|" in CAPTION and "absent from the line list" in CAPTION
    assert app.candidates.__panel__()[0].object == CAPTION  # shown above the table


def test_picking_a_row_centres_every_view(app, raw):
    w = raw("candidate_wavelength")[3]
    app.candidates.table.selection = [3]
    assert app.state.candidate == 3
    assert app.state.x_range.start == pytest.approx(w - 3, abs=0.01)
    assert app.state.x_range.end == pytest.approx(w + 3, abs=0.01)
    assert app.browser.cand_src.selected.indices == [3]
    assert "Candidate 4" in app.corrections.attr_text.object  # named by its 1-based rank, as the table shows it
    assert app.residual_map.source.data["dw"][0] == pytest.approx(6.0, abs=0.02)  # the map shows those 6 Å


def test_a_candidate_picked_elsewhere_selects_its_row(app):
    app.state.select_candidate(5)
    assert app.candidates.table.selection == [5]
    assert app.candidates.detail.object.startswith("### Candidate 6")  # row 5 is rank 6
    assert app.state.rank == 6


def test_description_names_the_stored_attribution_and_near_lines(app, raw):
    data = app.state.data
    text = describe(data, 2)
    label, species = str(raw("candidate_attributed_label")[2]), str(raw("candidate_attributed_species")[2])
    chi, conf = float(raw("candidate_attributed_chi")[2]), float(raw("candidate_attribution_confidence")[2])
    assert f"follows **{label}**, star to star like a {species} line of χ ≈ {chi:.1f} eV" in text
    assert f"(confidence {conf:.2f})" in text
    near = nearest_lines(data.lines, float(raw("candidate_wavelength")[2]))
    if near.empty:
        assert "No theory line within" in text
    else:
        assert f"{near['species'].iloc[0]} {near['wavelength'].iloc[0]:.2f} Å" in text


def test_nearest_lines_within_window():
    lines = pd.DataFrame({"wavelength": [100.0, 101.0, 104.5], "species": ["A", "B", "C"], "loggf": [0, 0, 0]})
    near = nearest_lines(lines, 100.8)
    assert list(near["species"]) == ["B", "A"]
    assert near["offset"].tolist() == pytest.approx([0.2, -0.8])
    assert nearest_lines(lines, 110.0).empty
