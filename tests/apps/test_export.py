"""apps.export: candidates and star selection as CSV, the current view as PNG (drawn on the server)."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
from PIL import Image

from apps.export import candidates_csv, selection_csv, view_png


def test_candidates_csv_is_the_table(app, raw):
    table = pd.read_csv(candidates_csv(app.state))
    np.testing.assert_allclose(table["wavelength"], raw("candidate_wavelength"))
    assert list(table["attributed_label"]) == [str(v) for v in raw("candidate_attributed_label")]
    assert list(table["rank"]) == list(range(1, len(table) + 1))


def test_selection_csv_lists_the_selected_stars(app, raw):
    app.state.stars = [3, 5]
    sel = pd.read_csv(selection_csv(app.state))
    assert list(sel["star_id"]) == list(raw("star_id")[[3, 5]]) and list(sel["star_index"]) == [3, 5]
    np.testing.assert_allclose(sel["teff"], raw("teff")[[3, 5]], rtol=1e-6)


def test_selection_csv_without_a_selection_is_the_shown_star(app, raw):
    sel = pd.read_csv(selection_csv(app.state))
    from apps.session import showcase_star

    assert list(sel["star_index"]) == [showcase_star(app.state.data)] == app.state.shown_stars()


def test_view_png_draws_spectra_and_map(app):
    app.state.stars = [3, 5]
    png = view_png(app.state).getvalue()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    img = Image.open(io.BytesIO(png))
    assert img.size[0] == 1200 and np.unique(np.asarray(img.convert("L"))).size > 10  # not blank
    assert len(app.export.__panel__().objects) == 4  # heading and three download buttons
