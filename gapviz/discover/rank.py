"""Order candidates: missing lines first, then by score = significance × |depth|."""

from __future__ import annotations

import numpy as np
import pandas as pd


def rank(candidates: pd.DataFrame) -> pd.DataFrame:
    """Add ``score`` (significance × |depth|, unitless) and ``rank`` (1 = best); return sorted.

    Absorption features absent from the line list rank first (the missing lines the tool is for), then
    strength problems and emission features, each group by descending score.
    """
    out = candidates.copy()
    out["score"] = out["significance"].to_numpy(dtype=float) * np.abs(out["depth"].to_numpy(dtype=float))
    missing = (~out["in_linelist"].astype(bool)) & (out["depth"] > 0)
    out["_group"] = np.where(missing, 0, 1)
    out = out.sort_values(["_group", "score"], ascending=[True, False], ignore_index=True).drop(columns="_group")
    out["rank"] = np.arange(1, len(out) + 1)
    return out
