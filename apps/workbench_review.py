"""The workbench's review glue: the changes table with each decision, the reviewed list, its downloads, the header.

The decisions themselves live in ``STORE_DIR/review.csv`` (``gapviz.repair.review``: read, record under a lock,
apply to the repaired list); every session re-reads the file when it records a decision or builds a download.
"""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from apps.workbench_data import Workbench
from gapviz.errors import GapvizError
from gapviz.io.linelist import write_linelist_csv
from gapviz.io.moog_writer import write_moog
from gapviz.repair.review import (
    decision_for,
    empty_review,
    review_counts,
    reviewed_linelist,
)

DECIDED = {"accept": "accepted", "reject": "rejected", "edit": "edited"}


def changes_frame(wb: Workbench, review: pd.DataFrame) -> pd.DataFrame:
    """The changes table: candidate rank, what, species, λ (Å), proposed log gf, the decision on file."""
    c = wb.changes
    decided = [decision_for(review, float(r.wavelength), str(r.species), int(r.candidate)) for r in c.itertuples()]
    return pd.DataFrame({
        "candidate": pd.to_numeric(c["candidate"], errors="coerce").fillna(0).astype(int),
        "what": c["choice"].astype(str), "species": c["species"].astype(str),
        "wavelength": pd.to_numeric(c["wavelength"], errors="coerce").round(3),
        "log gf": pd.to_numeric(c["loggf"], errors="coerce").round(3),
        "decision": [DECIDED[d["decision"]] if d else "" for d in decided]})


def reviewed_list(wb: Workbench, review: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """(the repaired list with the decisions applied, ""), or (the list as proposed, why the review cannot be
    applied: e.g. it was made for another repair)."""
    try:
        return reviewed_linelist(wb.repaired, review, wb.source_sha256, what=str(wb.review_path)), ""
    except GapvizError as exc:
        return reviewed_linelist(wb.repaired, empty_review()), str(exc)


def linelist_bytes(wb: Workbench, reviewed: pd.DataFrame, fmt: str) -> io.BytesIO:
    """``reviewed`` as gapviz CSV (``fmt`` "csv") or MOOG (air Å), written by ``gapviz.io.linelist`` / ``gapviz.io.moog_writer``."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"reviewed.{fmt}"
        if fmt == "csv":
            write_linelist_csv(reviewed, path)
        else:
            write_moog(reviewed, path, title=f"gapviz reviewed repair {wb.repair.path.name} (air wavelengths)")
        return io.BytesIO(path.read_bytes())


def header_text(wb: Workbench, reviewed: pd.DataFrame, factor: np.ndarray) -> str:
    """Markdown: the store, the repair, the review's counts and the displayed stars' χ²ν with both lists."""
    counts = ", ".join(f"{n} {k}" for k, n in review_counts(reviewed).items())
    before, after = wb.chi2nu_median(), wb.chi2nu_median(factor)
    title = wb.data.attrs.get("title", wb.data.path.parent.name)
    return (f"**{title}** — repair `{wb.repair.path.name}`: {wb.repair.counts()} — review: {counts} — χ²ν "
            f"(median of the {wb.pop.labels.shape[0]} displayed stars): **original list {before:.3f}** → "
            f"**reviewed list {after:.3f}**")
