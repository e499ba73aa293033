"""A candidate's attribution as the store holds it: the label (and species) its depth follows.

The explorer shows the stored ``candidate_attributed_label``, ``candidate_attributed_species``,
``candidate_attributed_chi`` and ``candidate_attribution_confidence`` and never re-derives them: a rule of its
own could name another label than the one ``gapviz`` wrote, and every view must agree with the store.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Attribution:
    """label: the label the feature follows ('none': no label); species ('' if none); chi: eV (NaN if none)."""

    label: str
    species: str
    chi: float
    confidence: float

    def follows(self) -> str:
        """Markdown: "follows **label**, star to star like a <species> line of χ ≈ <chi> eV (confidence c)"."""
        like = ""
        if self.species:
            like = f", star to star like a {self.species} line"
            like += f" of χ ≈ {self.chi:.1f} eV" if np.isfinite(self.chi) else ""
        return f"follows **{self.label}**{like} (confidence {self.confidence:.2f})"


def _text(value) -> str:
    text = "" if value is None else str(value).strip()
    return "" if text.lower() == "nan" else text


def _number(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def stored_attribution(candidates: pd.DataFrame, row: int) -> Attribution | None:
    """The stored attribution of candidate ``row`` (None when the store holds no attributed label)."""
    if "attributed_label" not in candidates or not 0 <= row < len(candidates):
        return None
    c = candidates.iloc[row]
    return Attribution(label=_text(c["attributed_label"]) or "none", species=_text(c.get("attributed_species")),
                       chi=_number(c.get("attributed_chi")), confidence=_number(c.get("attribution_confidence")))
