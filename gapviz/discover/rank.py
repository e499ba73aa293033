"""Order candidates: missing lines first, then by score = significance × |depth|."""

from __future__ import annotations

import numpy as np
import pandas as pd


def absent_absorption(candidates: pd.DataFrame) -> np.ndarray:
    """(n,) bool: absorption features (depth > 0) the theory's line list does not explain (``in_linelist`` 0)."""
    if candidates.empty:
        return np.zeros(0, dtype=bool)
    return (~candidates["in_linelist"].astype(bool).to_numpy()) & (candidates["depth"].to_numpy(float) > 0)


def rank(candidates: pd.DataFrame) -> pd.DataFrame:
    """Add ``score`` (significance × |depth|, unitless) and ``rank`` (1 = best); return sorted.

    Absorption features absent from the line list rank first (the missing lines the tool is for), then
    strength problems and emission features, each group by descending score.
    """
    out = candidates.copy()
    out["score"] = out["significance"].to_numpy(dtype=float) * np.abs(out["depth"].to_numpy(dtype=float))
    out["_group"] = np.where(absent_absorption(out), 0, 1)
    out = out.sort_values(["_group", "score"], ascending=[True, False], ignore_index=True).drop(columns="_group")
    out["rank"] = np.arange(1, len(out) + 1)
    return out
