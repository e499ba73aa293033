"""apps.links: the address bar's compact form of a star selection."""

from __future__ import annotations

from apps.links import MAX_URL_STARS, format_stars, parse_stars


def test_star_ranges_roundtrip():
    assert format_stars([7, 0, 1, 2, 9, 10]) == "0-2,7,9-10"
    assert parse_stars("0-2,7,9-10", 50) == [0, 1, 2, 7, 9, 10]
    assert format_stars([]) == "" and parse_stars("", 50) == []


def test_malformed_parts_and_outside_positions_are_dropped():
    assert parse_stars("x,3-1,48-99,-4", 50) == [48, 49]


def test_the_address_bar_keeps_the_first_stars_only():
    text = format_stars(range(0, 4 * MAX_URL_STARS, 2))
    assert len(parse_stars(text, 10 * MAX_URL_STARS)) == MAX_URL_STARS
