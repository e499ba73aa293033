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
    np.testing.assert_allclose(sel["teff"], raw("teff")[[3, 5]], atol=0.5)  # to 1 K (apps.precision)


def test_selection_csv_without_a_selection_is_the_shown_star(app, raw):
    sel = pd.read_csv(selection_csv(app.state))
    from apps.session import showcase_star

    assert list(sel["star_index"]) == [showcase_star(app.state.data)] == app.state.shown_stars()


def test_view_png_draws_spectra_and_map(app):
    app.state.stars = [3, 5]
    png = view_png(app.state).getvalue()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    img = Image.open(io.BytesIO(png))
    from apps.figure_png import WIDTH

    assert img.size[0] == WIDTH and np.unique(np.asarray(img.convert("L"))).size > 10  # not blank
    assert len(app.export.__panel__().objects) == 4  # heading and three download buttons


def _decimals(text: str) -> int:
    return len(text.split(".")[1]) if "." in text and "e" not in text.lower() else 0


def test_csv_numbers_carry_their_precision(app):
    """One rule (apps.precision): wavelengths to 0.001 Å, depths to 1e-4, teff to 1 K, abundances to 0.001 dex."""
    cands = pd.read_csv(candidates_csv(app.state), dtype=str)
    assert max(_decimals(v) for v in cands["wavelength"]) <= 3
    assert max(_decimals(v) for v in cands["depth"]) <= 4
    assert max(_decimals(v) for v in cands["depth"]) == 4  # not cut below the rule either
    app.state.stars = [3, 5]
    sel = pd.read_csv(selection_csv(app.state), dtype=str)
    assert all(_decimals(v) == 0 for v in sel["teff"])
    assert max(_decimals(v) for v in sel["mg_fe"]) <= 3 and max(_decimals(v) for v in sel["logg_err"]) <= 3


def test_precision_rule():
    from apps.precision import decimals, number_format, rounded

    assert decimals("wavelength") == decimals("nearest_wavelength") == decimals("line_wavelength") == 3
    assert decimals("depth") == decimals("flux_err") == 4 and decimals("equivalent_width") == 1
    assert decimals("teff") == 0 and decimals("c_fe") == 3 and decimals("loggf_before") == 3
    assert decimals("mystery") is None and number_format("wavelength") == "0.000" and number_format("teff") == "0"
    t = rounded(pd.DataFrame({"wavelength": [15000.123456], "mystery": [1.23456789], "n": [3]}))
    assert t["wavelength"][0] == 15000.123 and t["mystery"][0] == 1.23457 and t["n"][0] == 3


def test_png_axes_flux_range_and_wrapped_star_list(app):
    from apps.figure_png import FLUX_LIMITS, WRAP, flux_limits, header_lines, nice_ticks

    np.testing.assert_allclose(nice_ticks(15200.3, 15206.1, 6), [15201, 15202, 15203, 15204, 15205, 15206])
    x = np.arange(10.0)
    y = np.full(10, 0.9)
    y[3] = 40.0  # a bad pixel
    lo, hi = flux_limits(x, [y], 0, 9)
    assert hi == FLUX_LIMITS[1] and lo < 0.9  # the figure is not flattened to 0–40
    stars = list(range(40))
    lines = header_lines(app.state, stars, stars[:32])
    assert len(lines) > 2 and all(len(line) <= WRAP for line in lines)
    assert "mean of 32 of 40 selected stars" in lines[1] and "2M00000031+0000000" in " ".join(lines)  # all 32


def test_png_leaves_a_gap_at_a_masked_pixel(masked_store, explorer_on):
    from apps.figure_png import LEFT, RIGHT, WIDTH, boxes, header_lines
    from tests.apps.conftest import MASKED_PIXEL

    app = explorer_on(masked_store)
    star, pix = MASKED_PIXEL
    app.state.stars = [star]
    w = app.state.data.wavelength
    app.state.set_range(w[pix - 3], w[pix + 3])
    img = np.asarray(Image.open(view_png(app.state, ["obs"])).convert("RGB")).astype(int)
    spec, _ = boxes(len(header_lines(app.state, [star], [star])))
    to_px = lambda v: int(round(LEFT + (v - app.state.x_start) / (app.state.x_end - app.state.x_start)  # noqa: E731
                                * (WIDTH - RIGHT - LEFT)))
    dark = (img[spec[1] + 1:spec[3] - 1].max(axis=2) < 80)  # the observed line's pixels (#222222)
    assert dark[:, to_px(w[pix - 2])].any() and dark[:, to_px(w[pix + 2])].any()  # drawn either side
    assert not dark[:, to_px(w[pix])].any()  # and nothing across the masked pixel
