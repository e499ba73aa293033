"""gapviz.io.grids: the shipped ASPCAP grid and masks, the sample grid cut from it, chips and gap-free segments."""

from __future__ import annotations

import numpy as np

from gapviz.io.grids import (
    GAP_FACTOR,
    SAMPLE_WINDOWS,
    aspcap_continuum_pixels,
    aspcap_payne_mask,
    aspcap_wavelength,
    chip_of,
    sample_wavelength,
    segments,
    window_pixels,
)


def test_aspcap_grid_and_its_masks():
    wl = aspcap_wavelength()
    assert wl.shape == (7214,) and wl.dtype == np.float64 and np.all(np.diff(wl) > 0)
    assert round(wl[0], 2) == 15168.13 and round(wl[-1], 2) == 16936.75
    assert aspcap_payne_mask().shape == aspcap_continuum_pixels().shape == wl.shape
    assert 0.1 < aspcap_payne_mask().mean() < 0.15  # Ting et al. 2019: 12 % of the pixels
    assert aspcap_continuum_pixels().dtype == bool and 0 < aspcap_continuum_pixels().sum() < 1000


def test_segments_are_the_three_chips_of_the_aspcap_grid():
    wl = aspcap_wavelength()
    parts = segments(wl)
    assert [(p.start, p.stop) for p in parts] == [(0, 2920), (2920, 5320), (5320, 7214)]
    for chip, part in enumerate(parts):
        assert (chip_of(wl[part]) == chip).all()


def test_segments_split_the_sample_grid_at_its_window_edges():
    wl = sample_wavelength()
    assert wl.size == sum(n for _, n in SAMPLE_WINDOWS) == 1024
    assert [(p.start, p.stop) for p in segments(wl)] == [(0, 256), (256, 512), (512, 768), (768, 1024)]
    for (start, _), part in zip(SAMPLE_WINDOWS, segments(wl)):
        assert start <= wl[part][0] < start + 0.25  # each window starts at the first ASPCAP pixel >= its start
    np.testing.assert_array_equal(wl, aspcap_wavelength()[window_pixels()])


def test_segments_break_only_beyond_gap_factor_median_steps():
    wl = np.arange(10.0)
    assert segments(wl) == [slice(0, 10)]
    wl[5:] += GAP_FACTOR - 1.0 + 0.01  # the step 4 -> 5 is GAP_FACTOR + 0.01 median steps
    assert segments(wl) == [slice(0, 5), slice(5, 10)]
    wl[5:] -= 0.02  # now just under
    assert segments(wl) == [slice(0, 10)]
    assert segments(np.array([15200.0])) == [slice(0, 1)]
    assert segments(np.array([])) == [slice(0, 0)]


def test_chip_of_marks_wavelengths_off_the_chips():
    assert chip_of(np.array([15000.0, 15200.0, 15837.0, 16000.0, 16900.0, 17100.0])).tolist() == [-1, 0, -1, 1, 2, -1]
