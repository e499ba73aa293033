"""Before/after a line-list repair: the shown stars' theory with the repaired list, their χ²ν with both lists,
and the table of the repair's changes (``apps.repair_data`` reads them).

The wavelength browser's toggle "theory: original list / repaired list" swaps its theory curve (and obs − theory)
for ``repaired_rows``; its text says the shown stars' χ²ν with both (``chi2_text``, ``gapviz.stats.chi2nu`` over
their usable pixels). The changes table sits beside the candidates table; a row centres the views on its line
and picks its candidate.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import panel as pn
import param
from bokeh.models.widgets.tables import NumberFormatter

from apps.batching import batched
from apps.line_depths import star_labels
from apps.precision import decimals, number_format
from apps.repair_data import DRAWN, RepairData, repaired_theory
from apps.session import ExplorerState
from apps.store_data import StoreData
from gapviz.stats import chi2nu

ORIGINAL, REPAIRED = "original list", "repaired list"


def repaired_rows(data: StoreData, idx: np.ndarray, rows: dict[str, np.ndarray], repair: RepairData
                  ) -> dict[str, np.ndarray]:
    """``rows`` of stars ``idx`` with flux_theory times the repair's transmission at each star's own labels."""
    factor = repaired_theory(repair, data).transmission(star_labels(data, idx), rows["flux_theory"])
    return {**rows, "flux_theory": rows["flux_theory"] * factor}


def chi2_text(data: StoreData, idx: np.ndarray, rows: dict[str, np.ndarray], fixed: dict[str, np.ndarray],
              repair: RepairData) -> str:
    """Markdown: χ²ν of the shown star (median over the stars drawn) with the original and the repaired list."""
    before = chi2nu(rows["flux_obs"] - rows["flux_theory"], rows["flux_err"])
    after = chi2nu(fixed["flux_obs"] - fixed["flux_theory"], fixed["flux_err"])
    who = (f"star {data.stars['star_id'].iloc[int(idx[0])]}" if len(idx) == 1
           else f"the {len(idx)} stars drawn (median)")
    with np.errstate(all="ignore"):
        b, a = float(np.nanmedian(before)), float(np.nanmedian(after))
    return (f"χ²ν of {who}, theory with the **original list** {b:.3f} → with the **repaired list** {a:.3f} "
            f"(repair `{repair.path.name}`: {repair.counts()})")


def changes_table(repair: RepairData) -> pd.DataFrame:
    """The table shown: candidate rank ("" for none), what changed, species, λ, log gf before → after ± err."""
    c = repair.changes
    n = decimals("loggf")

    def loggf(row) -> str:
        before = "—" if not np.isfinite(row.loggf_before) else f"{row.loggf_before:.{n}f}"
        err = f" ± {row.loggf_err:.{n}f}" if np.isfinite(row.loggf_err) else ""
        return f"{before} → {row.loggf:.{n}f}{err}"

    rank = pd.to_numeric(c["candidate"], errors="coerce").fillna(0).astype(int)
    return pd.DataFrame({
        "candidate": [str(r) if r > 0 else "" for r in rank],
        "what": c["choice"].where(c["choice"].isin(DRAWN), c["choice"] + " (not drawn)"),
        "species": c["species"].astype(str),
        "wavelength": pd.to_numeric(c["wavelength"], errors="coerce"),
        "log gf before → after": [loggf(r) for r in c[["loggf_before", "loggf", "loggf_err"]].astype(float)
                                  .itertuples()],
    })


class ChangesTable(pn.viewable.Viewer):
    """The repair's changes (one row each); a row picks its candidate (or centres on its line when it has none)."""

    state = param.ClassSelector(class_=ExplorerState)
    repair = param.Parameter(default=None, doc="the RepairData shown (None: no repair)")
    error = param.String(default="", doc="why the repair could not be read")

    def __init__(self, **params):
        super().__init__(**params)
        self.table = None
        if self.repair is not None:
            frame = changes_table(self.repair)
            self.table = pn.widgets.Tabulator(
                frame, selectable=1, disabled=True, pagination="remote", page_size=10, show_index=False,
                formatters={"wavelength": NumberFormatter(format=number_format("wavelength"))},
                titles={"wavelength": "λ (Å, vacuum)", "candidate": "candidate (rank)"},
                header_filters={"what": {"type": "input", "func": "like", "placeholder": "filter"},
                                "species": {"type": "input", "func": "like", "placeholder": "filter"}},
                sizing_mode="stretch_width", height=380)
            self.table.param.watch(self._on_select, "selection")

    @batched
    def _on_select(self, event) -> None:
        if not event.new:
            return
        row = self.repair.changes.iloc[int(event.new[0])]
        rank = int(pd.to_numeric(row["candidate"], errors="coerce") or 0)
        if 1 <= rank <= len(self.state.data.candidates):
            self.state.select_candidate(rank - 1)
        self.state.centre_on(float(row["wavelength"]))

    def __panel__(self):
        if self.table is None:
            text = (f"**The repair could not be read.** {self.error}" if self.error else
                    "No repair shown. Run `gapviz repair STORE_DIR --out REPAIR_DIR`, then "
                    "`gapviz explore STORE_DIR --repair REPAIR_DIR` (or put it in `STORE_DIR/repair/`).")
            return pn.pane.Alert(text, alert_type="warning" if self.error else "light", sizing_mode="stretch_width")
        caption = (f"`{self.repair.path.name}`: {self.repair.counts()}. The repaired theory (toggle above the "
                   "spectrum) draws the added and recalibrated lines.")
        return pn.Column(pn.pane.Markdown(caption, margin=(0, 10)), self.table, sizing_mode="stretch_width")
