"""Candidates table: the ranked missing-physics features, sortable and filterable.

Selecting a row centres every wavelength view on the feature (±3 Å) and describes it: the label it
follows (the store's attribution) and the known lines nearest to it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import panel as pn
import param
from bokeh.models.widgets.tables import NumberFormatter

from apps.attribution import stored_attribution
from apps.batching import batched
from apps.live_text import LiveMarkdown
from apps.precision import number_format
from apps.session import ExplorerState
from apps.store_data import StoreData

#: the table's columns, most useful first (those the store lacks are left out)
COLUMNS = ["wavelength", "kind", "attributed_species", "attributed_label", "identification", "in_linelist", "depth",
           "significance", "score", "rank", "n_stars", "equivalent_width", "width", "attribution_confidence",
           "nearest_species", "nearest_wavelength"]
#: readable headers; units from the store are added to the others (``column_titles``)
TITLES = {"wavelength": "λ (Å, vacuum)", "kind": "kind", "attributed_species": "attributed species",
          "attributed_label": "attributed label", "identification": "identification", "in_linelist": "in line list",
          "depth": "depth", "significance": "significance (σ)", "score": "score (σ × |depth|)", "rank": "rank",
          "n_stars": "stars showing it", "equivalent_width": "equivalent width", "width": "FWHM",
          "attribution_confidence": "attribution confidence", "nearest_species": "nearest line: species",
          "nearest_wavelength": "nearest line: λ"}
UNITS = {"Angstrom": "Å", "mAngstrom": "mÅ"}
CAPTION = ("Ranked as the run that wrote the store ranked them: absorption features absent from the line list "
           "first, then by score = significance × |depth|. Click a header to sort by it; the **rank** column "
           "restores this order.")
NEAREST_LINES = 3
NEAREST_WINDOW = 3.0  # Å either side searched for known lines


def nearest_lines(lines: pd.DataFrame, wavelength: float, n: int = NEAREST_LINES,
                  window: float = NEAREST_WINDOW) -> pd.DataFrame:
    """The ``n`` line-list entries nearest ``wavelength`` Å within ± ``window`` Å, nearest first."""
    if lines.empty:
        return lines
    d = (lines["wavelength"] - wavelength).abs()
    near = lines[d <= window].assign(offset=lines["wavelength"] - wavelength)
    return near.loc[d[d <= window].sort_values().index].head(n)


def column_titles(data: StoreData, columns) -> dict[str, str]:
    """Readable table headers (``TITLES``) with the store's units where they do not already say them, e.g.
    ``equivalent width (mÅ)``; a column without a readable name keeps its own."""
    titles = {}
    for col in columns:
        name = TITLES.get(col, col)
        var = f"candidate_{col}"
        units = data.ds[var].attrs.get("units", "1") if var in data.ds.variables else "1"
        titles[col] = name if units in ("1", "") or "(" in name else f"{name} ({UNITS.get(units, units)})"
    return titles


def describe(data: StoreData, row: int) -> str:
    """Markdown describing candidate ``row``: what it follows and the known lines near it."""
    c = data.candidates.iloc[row]
    w = float(c["wavelength"])
    text = [f"### Candidate {row + 1}: {w:.2f} Å"]  # its rank (the store keeps candidates in rank order)
    attributed = stored_attribution(data.candidates, row)
    if attributed:
        text.append(f"Its depth {attributed.follows()}.")
    if "depth" in c:
        text.append(f"Depth {float(c['depth']):.3f}, significance {float(c.get('significance', np.nan)):.1f}, "
                    f"identification: {c.get('identification', '—')}.")
    near = nearest_lines(data.lines, w)
    if near.empty:
        text.append(f"No theory line within ±{NEAREST_WINDOW:g} Å.")
    else:
        text.append("Nearest theory lines: " + "; ".join(
            f"{r.species} {r.wavelength:.2f} Å (log gf {r.loggf:.2f}, Δ {r.offset:+.2f} Å)"
            for r in near.itertuples()))
    return "\n\n".join(text)


class CandidatesTable(pn.viewable.Viewer):
    """Tabulator of the store's candidates; row selection drives ``state.candidate``."""

    state = param.ClassSelector(class_=ExplorerState)

    def __init__(self, **params):
        super().__init__(**params)
        data = self.state.data
        # the store keeps candidates in rank order (as the run that wrote it ranked them): rank 1 = row 0
        table = data.candidates.assign(rank=np.arange(1, len(data.candidates) + 1))
        if "kind" not in table and "depth" in table:  # older stores: the sign of the depth says it
            table = table.assign(kind=np.where(table["depth"] >= 0, "absorption", "emission"))
        table = table[[c for c in COLUMNS if c in table]]
        fmt = {c: NumberFormatter(format=number_format(c)) for c in table.columns if table[c].dtype.kind == "f"}
        self.table = pn.widgets.Tabulator(
            table, selectable=1, disabled=True, pagination="remote", page_size=10, show_index=False,
            header_filters={c: ({"type": "input", "func": "like", "placeholder": "filter"}
                                if table[c].dtype == object else {"type": "number", "func": ">=",
                                                                   "placeholder": ">="})
                            for c in table.columns},
            titles=column_titles(data, table.columns), formatters=fmt, sizing_mode="stretch_width", height=380)
        self.detail = LiveMarkdown("Pick a candidate (a row, or a pink triangle in the spectrum).", height=370)
        self.table.param.watch(self._on_select, "selection")
        self._show()

    @batched
    def _on_select(self, event) -> None:
        if event.new and event.new[0] != self.state.candidate:
            self.state.select_candidate(int(event.new[0]))

    @param.depends("state.candidate", watch=True)
    def _show(self) -> None:
        c = self.state.candidate
        if 0 <= c < len(self.state.data.candidates):
            if self.table.selection != [c]:
                self.table.selection = [c]
            self.detail.object = describe(self.state.data, c)

    def __panel__(self):
        return pn.Column(pn.pane.Markdown(CAPTION, sizing_mode="stretch_width", margin=(0, 10)),
                         pn.Row(self.table, pn.Column(self.detail, width=320), sizing_mode="stretch_width"),
                         sizing_mode="stretch_width")
