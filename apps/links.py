"""The address bar's compact form of a star selection: [0, 1, 2, 7] <-> "0-2,7"."""

from __future__ import annotations

MAX_URL_STARS = 1000  # stars written to the address bar


def format_stars(stars: list[int], limit: int = MAX_URL_STARS) -> str:
    """Compact ranges for the URL: [0, 1, 2, 7] -> "0-2,7" (the first ``limit`` stars)."""
    s = sorted(set(int(i) for i in stars))[:limit]
    parts, i = [], 0
    while i < len(s):
        j = i
        while j + 1 < len(s) and s[j + 1] == s[j] + 1:
            j += 1
        parts.append(str(s[i]) if i == j else f"{s[i]}-{s[j]}")
        i = j + 1
    return ",".join(parts)


def parse_stars(text: str, n_star: int) -> list[int]:
    """Inverse of ``format_stars``; ignores malformed parts and positions outside 0..n_star-1."""
    out: list[int] = []
    for part in (text or "").split(","):
        a, _, b = part.strip().partition("-")
        try:
            lo, hi = int(a), int(b or a)
        except ValueError:
            continue
        out.extend(range(max(lo, 0), min(hi, n_star - 1) + 1))
    return sorted(set(out))[:MAX_URL_STARS * 100]
