"""gapviz.io.text: one spectrum in a two- or three-column text file."""

from __future__ import annotations

import numpy as np
import pytest

from gapviz.errors import GapvizError
from gapviz.io.text import read_text_spectrum


def test_text_spectrum_real_file(apogee_files):
    s = read_text_spectrum(apogee_files["text"])
    assert s.n_star == 1 and s.n_pix == 8575 and s.flux_err is None
    assert s.star_id.tolist() == ["2M19410822+4019319"]  # first word of the name line
    assert 15100.0 < s.wavelength[0] < 15101.0 and 16999.0 < s.wavelength[-1] < 17000.0
    usable = s.usable()[0]
    assert 0.0 < 1.0 - usable.mean() < 0.5  # zero flux = no data, between and beyond the chips
    assert not usable[0]  # the file starts with flux 0
    assert 0.9 <= np.median(s.flux[0, usable]) <= 1.1


def test_text_three_columns_and_zero_flux(tmp_path):
    path = tmp_path / "star.txt"
    path.write_text("# my star\nwavelength flux err\n15000.0 1.0 0.01\n15000.2 0.0 0.01\n15000.4 0.9 0.02\n")
    s = read_text_spectrum(path)
    assert s.flux_err.tolist() == [[pytest.approx(0.01), np.inf, pytest.approx(0.02)]]
    assert s.usable().tolist() == [[True, False, True]]
    assert s.star_id.tolist() == ["wavelength"]


@pytest.mark.parametrize("body,match", [
    ("15000 1 2 3\n15001 1 2 3\n", "expected 2 or 3 numbers"),
    ("15000 1\n15001 1 0.1\n", "has 3 columns, earlier lines have 2"),
    ("name\n15000 1\n", "found 1 numeric line"),
    ("15000 1\nfoo bar\n", "not numeric"),
])
def test_text_bad_input(tmp_path, body, match):
    path = tmp_path / "bad.txt"
    path.write_text(body)
    with pytest.raises(GapvizError, match=match):
        read_text_spectrum(path)
