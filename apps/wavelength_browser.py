"""Wavelength browser: the selected star(s) against theory, adapted model and synthetic counterpart.

Top: observed flux with its ±1σ band, the theory, the adapted model and the synthetic counterpart;
bottom: residuals on the same x-range (the session's one ``Range1d``). Window/chip gaps are shaded and
no line crosses them. Line-list markers (species, log gf and expected depth on hover) are limited to the
visible range, filtered by species and by their expected depth at the shown star's labels (``apps.line_depths``)
and capped at ``MAX_LINES`` (deepest first); candidates are marked and clickable.
"""

from __future__ import annotations

import numpy as np
import panel as pn
import param
from bokeh.models import BoxAnnotation, ColumnDataSource, HoverTool, Range1d, TapTool

from apps.batching import batched
from apps.line_depths import (
    MAX_LINES,
    MIN_DEPTH,
    expected_depths,
    marker_lines,
    shown_labels,
)
from apps.live_text import LiveMarkdown
from apps.plotting import (
    band_patches,
    outside_legend,
    wavelength_figure,
    with_gaps,
    zero_line,
)
from apps.repair_view import ORIGINAL, REPAIRED, chi2_text, repaired_rows
from apps.rows import read_shown
from apps.session import ExplorerState

Y_PAD = 0.08  # fraction of the visible data's span added above and below it on the flux and residual axes
MIN_Y_SPAN = 1e-3  # the smallest y span shown (a flat stretch of spectrum is not blown up into noise)
#: markers (line list, candidates) sit on their own 0..1 axis, so they stay at the top of the plot whatever the
#: flux axis shows
MARKS = "marks"
BAND_COLOR = "#999999"  # the observed ±1σ band
LINE_COLOR = "#7f7f7f"  # line-list markers
CANDIDATE_COLOR = "#e377c2"  # candidate markers
PICKED_COLOR = "#ff7f0e"  # the picked candidate's marker
#: the colours' names, as the tour's text says them
COLOUR_NAMES = {"#2ca02c": "green", "#1f77b4": "blue", "#d62728": "red", "#222222": "black", BAND_COLOR: "grey",
                LINE_COLOR: "grey", CANDIDATE_COLOR: "pink", PICKED_COLOR: "orange"}
SERIES = {  # name -> (store variable, colour, legend); drawn in this order, the observed flux on top
    "synthetic": ("flux_synthetic_counterpart", "#2ca02c", "synthetic counterpart"),
    "theory": ("flux_theory", "#1f77b4", "theory"),
    "adapted": ("flux_adapted", "#d62728", "adapted model"),
    "obs": ("flux_obs", "#222222", "observed"),
}


def y_limits(x: np.ndarray, ys: list[np.ndarray], x0: float, x1: float) -> tuple[float, float] | None:
    """(low, high) y of the curves ``ys`` (on the common ``x``) inside [x0, x1], padded by ``Y_PAD`` of their span;
    None when nothing finite is there."""
    i0, i1 = int(np.searchsorted(x, x0, side="left")), int(np.searchsorted(x, x1, side="right"))
    if i1 <= i0 or not ys:
        return None
    block = np.stack([y[i0:i1] for y in ys])
    if not np.isfinite(block).any():
        return None
    lo, hi = float(np.nanmin(block)), float(np.nanmax(block))
    pad = max(hi - lo, MIN_Y_SPAN) * Y_PAD + max(MIN_Y_SPAN - (hi - lo), 0.0) / 2
    return lo - pad, hi + pad


def star_summary(rows: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """One curve per variable from (n, npix) rows: the star itself (n = 1) or the mean over stars; the band
    is flux_err for one star and the star-to-star scatter of flux_obs for several. Residuals are computed
    as the store defines them (flux_obs − flux_theory, flux_obs − flux_adapted) rather than read."""
    rows = {**rows, "residual_theory": rows["flux_obs"] - rows["flux_theory"],
            "residual_adapted": rows["flux_obs"] - rows["flux_adapted"]}
    out = {k: np.nanmean(v, axis=0) if v.shape[0] > 1 else v[0] for k, v in rows.items()}
    if rows["flux_obs"].shape[0] > 1:
        out["band"] = np.nanstd(rows["flux_obs"], axis=0)
    else:
        out["band"] = rows.get("flux_err", np.full_like(out["flux_obs"], np.nan))[0]
    return out


class WavelengthBrowser(pn.viewable.Viewer):
    """Spectrum and residual panels of the shown star(s), sharing ``state.x_range``."""

    state = param.ClassSelector(class_=ExplorerState)
    visible = param.ListSelector(default=list(SERIES), objects=list(SERIES), doc="curves drawn")
    species = param.ListSelector(default=[], objects=[], doc="line-list species shown (empty: all)")
    min_depth = param.Number(default=MIN_DEPTH, bounds=(0.0, 0.5),
                             doc="shallowest expected line depth shown (at the shown star's labels)")
    repair = param.Parameter(default=None, doc="the RepairData whose repaired theory the toggle shows (None: none)")
    theory_list = param.Selector(default=ORIGINAL, objects=[ORIGINAL, REPAIRED], doc="line list of the theory drawn")
    jump_to = param.Number(default=None, allow_None=True, doc="wavelength to centre on, Å vacuum")

    def __init__(self, **params):
        super().__init__(**params)
        data = self.state.data
        self.param["species"].objects = sorted(data.lines["species"].unique()) if "species" in data.lines else []
        self.lines_note = LiveMarkdown("", height=60)
        self.repair_text = LiveMarkdown("")  # χ²ν of the shown stars with both lists (when a repair is shown)
        self._summaries: dict[str, dict[str, np.ndarray]] = {}
        self._depth = np.full(len(data.lines), np.nan)  # expected depth of each line at the shown labels
        # the flux and residual axes follow the data in the visible wavelength range (``_autoscale_y``)
        self.spectrum = wavelength_figure(self.state, height=330, y_axis_label="normalised flux",
                                          y_range=Range1d(0.0, 1.2, name="flux_y"))
        self.residual = wavelength_figure(self.state, height=170, x_axis_label="vacuum wavelength (Å)",
                                          y_axis_label="residual (flux)", y_range=Range1d(-0.1, 0.1, name="residual_y"))
        self.spectrum.extra_y_ranges = {MARKS: Range1d(0.0, 1.0)}
        self.spectrum.xaxis.visible = False
        self.flux_src = ColumnDataSource({"x": [], "band_lo": [], "band_hi": [],
                                          **{k: [] for k in SERIES}, "res_theory": [], "res_adapted": []})
        self.band_src = ColumnDataSource({"xs": [], "ys": []})  # one polygon per unmasked run (``band_patches``)
        self.band = self.spectrum.patches("xs", "ys", source=self.band_src, fill_color=BAND_COLOR, fill_alpha=0.35,
                                          line_color=None, legend_label="observed ±1σ")
        self.curves = {k: self.spectrum.line("x", k, source=self.flux_src, color=c, legend_label=lab,
                                             line_width=1.6 if k == "obs" else 1.2)
                       for k, (_, c, lab) in SERIES.items()}
        outside_legend(self.spectrum)
        self.spectrum.legend.click_policy = "hide"
        self.residual.line("x", "res_theory", source=self.flux_src, color=SERIES["theory"][1],
                           legend_label="obs − theory")
        self.residual.line("x", "res_adapted", source=self.flux_src, color=SERIES["adapted"][1],
                           legend_label="obs − adapted")
        zero_line(self.residual)
        outside_legend(self.residual)
        for fig in (self.spectrum, self.residual):
            for a, b in zip(data.segments[:-1], data.segments[1:]):
                fig.add_layout(BoxAnnotation(left=float(data.wavelength[a.stop - 1]),
                                             right=float(data.wavelength[b.start]),
                                             fill_color="#cccccc", fill_alpha=0.4))
        self.line_src = ColumnDataSource({"x": [], "y0": [], "y1": [], "species": [], "loggf": [], "depth": []})
        self.spectrum.segment(x0="x", x1="x", y0="y0", y1="y1", source=self.line_src, color=LINE_COLOR,
                              y_range_name=MARKS)
        marks = self.spectrum.scatter("x", "y1", source=self.line_src, marker="inverted_triangle", size=8,
                                      color=LINE_COLOR, y_range_name=MARKS)
        self.spectrum.add_tools(HoverTool(renderers=[marks], tooltips=[("line", "@species"), ("λ", "@x{0.00} Å"),
                                                                       ("log gf", "@loggf{0.00}"),
                                                                       ("expected depth", "@depth{0.000}")]))
        cands = data.candidates
        self.cand_src = ColumnDataSource({
            "x": cands["wavelength"].to_numpy() if "wavelength" in cands else [],
            "y": np.full(len(cands), 0.94),
            "label": cands["attributed_label"].to_numpy() if "attributed_label" in cands else [""] * len(cands),
            "row": np.arange(len(cands)), "rank": np.arange(1, len(cands) + 1)})
        cand_r = self.spectrum.scatter("x", "y", source=self.cand_src, marker="triangle", size=13,
                                       color=CANDIDATE_COLOR, line_color="black", legend_label="candidate",
                                       y_range_name=MARKS,
                                       selection_color=PICKED_COLOR, nonselection_alpha=0.6)
        self.candidate_marks = cand_r
        self.spectrum.add_tools(TapTool(renderers=[cand_r]),
                                HoverTool(renderers=[cand_r], tooltips=[("candidate (rank)", "@rank"),
                                                                        ("λ", "@x{0.00} Å"),
                                                                        ("follows", "@label")]))
        self.cand_src.selected.on_change("indices", self._on_tap)
        self._rows_key: tuple | None = None
        self._ys: dict[str, np.ndarray] = {}
        self._load_stars()
        self._show_candidate()

    # -- reactions -------------------------------------------------------------------------------
    @batched
    def _on_tap(self, attr, old, new) -> None:
        if new and new[0] != self.state.candidate:
            self.state.select_candidate(int(new[0]))

    @param.depends("state.candidate", watch=True)
    def _show_candidate(self) -> None:
        c = self.state.candidate
        want = [c] if c >= 0 else []
        if list(self.cand_src.selected.indices) != want:
            self.cand_src.selected.indices = want

    @param.depends("state.stars", watch=True)
    def _load_stars(self) -> None:
        st = self.state
        data = st.data
        shown = st.shown_stars()
        idx, rows = read_shown(data, shown)
        key = tuple(idx.tolist())
        if key == self._rows_key:
            return
        self._rows_key = key
        self._depth = expected_depths(data, shown_labels(data, shown))
        self._update_lines()
        self._summaries = {ORIGINAL: star_summary(rows)}
        if self.repair is not None:  # the same stars with the repaired list's theory
            fixed = repaired_rows(data, idx, rows, self.repair)
            self._summaries[REPAIRED] = star_summary(fixed)
            self.repair_text.object = chi2_text(data, idx, rows, fixed, self.repair)
        self._draw_stars()
        if len(shown) == 1:
            row = data.stars.iloc[shown[0]]
            labs = ", ".join(f"{n} {row[n]:.4g}" if n == "teff" else f"{n} {row[n]:.2f}" for n in data.label_names[:3])
            self.spectrum.title.text = f"star {row['star_id']} (#{shown[0]}): {labs}"
        else:
            self.spectrum.title.text = (f"mean of {idx.size} of {len(shown):,} selected stars "
                                        "(band: star-to-star scatter)")

    @param.depends("theory_list", watch=True)
    def _draw_stars(self) -> None:
        """Send the shown stars' curves, with the theory of the chosen line list."""
        data = self.state.data
        s = self._summaries.get(self.theory_list, self._summaries[ORIGINAL])
        obs = s["flux_obs"]
        ys = {"obs": obs, "band_lo": obs - s["band"], "band_hi": obs + s["band"],
              "res_theory": s["residual_theory"], "res_adapted": s["residual_adapted"]}
        for k, (var, _, _) in SERIES.items():
            ys[k] = s.get(var, np.full_like(obs, np.nan))
        self._ys = {k: np.asarray(v, dtype=float) for k, v in ys.items()}
        self.flux_src.data = with_gaps(data.wavelength, ys, data.segments)
        self.band_src.data = band_patches(data.wavelength, ys["band_lo"], ys["band_hi"])
        repaired = self.theory_list == REPAIRED and REPAIRED in self._summaries
        self.curves["theory"].glyph.line_dash = "dashed" if repaired else "solid"
        for item in self.spectrum.legend[0].items:
            if self.curves["theory"] in item.renderers:
                item.label = {"value": "theory (repaired list)" if repaired else SERIES["theory"][2]}
        self._autoscale_y()

    @param.depends("visible", watch=True)
    def _visibility(self) -> None:
        for k, r in self.curves.items():
            r.visible = k in self.visible
        self._autoscale_y()

    @param.depends("state.x_start", "state.x_end", watch=True)
    def _autoscale_y(self) -> None:
        """Fit the flux axis to the drawn curves (and the ±1σ band) in the visible range, the residual axis to
        the residuals there: a 3 % feature in a 1 Å window fills the plot. A few hundred pixels at most are
        looked at, on the server, within the interaction's one patch."""
        if not self._ys:
            return
        x, ys, st = self.state.data.wavelength, self._ys, self.state
        flux = [ys[k] for k in self.visible if k in ys] + ([ys["band_lo"], ys["band_hi"]] if "obs" in self.visible
                                                           else [])
        for rng, curves in ((self.spectrum.y_range, flux or [ys["obs"]]),
                            (self.residual.y_range, [ys["res_theory"], ys["res_adapted"], np.zeros_like(x)])):
            lim = y_limits(x, curves, st.x_start, st.x_end)
            if lim is not None and (rng.start, rng.end) != lim:
                rng.update(start=lim[0], end=lim[1])

    @param.depends("state.x_start", "state.x_end", "species", "min_depth", watch=True)
    def _update_lines(self) -> None:
        st = self.state
        choice = marker_lines(st.data.lines, self._depth, st.x_start, st.x_end, list(self.species), self.min_depth)
        vis, n = choice.lines, len(choice.lines)
        self.line_src.data = {"x": vis["wavelength"].to_numpy() if n else [], "y0": np.full(n, 0.8),
                              "y1": np.full(n, 0.88), "species": vis["species"].to_numpy() if n else [],
                              "loggf": vis["loggf"].to_numpy() if n else [],
                              "depth": vis["depth"].to_numpy() if n else []}
        self.lines_note.object = choice.note

    @param.depends("jump_to", watch=True)
    def _jump(self) -> None:
        if self.jump_to is not None:
            half = max((self.state.x_end - self.state.x_start) / 2, 1.0)
            self.state.centre_on(self.jump_to, min(half, 20.0))

    # -- layout ----------------------------------------------------------------------------------
    def controls(self) -> pn.Column:
        """Sidebar widgets: jump-to box, curve toggles, line-list filters."""
        return pn.Column(
            pn.widgets.FloatInput.from_param(self.param.jump_to, label="jump to wavelength (Å)", step=1.0),
            pn.widgets.CheckButtonGroup.from_param(self.param.visible, label="curves", color="light"),
            pn.widgets.MultiChoice.from_param(self.param.species, label="line-list species (empty: all)"),
            pn.widgets.FloatSlider.from_param(self.param.min_depth, label="shallowest expected depth shown",
                                              step=0.005),
            pn.pane.Markdown(f"Line markers: the lines at least this deep at the shown star's labels (line model), "
                             f"at most {MAX_LINES}, deepest first, in the visible range."),
            self.lines_note,
        )

    def __panel__(self):
        before_after = []
        if self.repair is not None:
            before_after = [pn.widgets.RadioButtonGroup.from_param(self.param.theory_list, name="theory",
                                                                    color="primary", variant="outline"),
                            self.repair_text]
        return pn.Column(*before_after, pn.pane.Bokeh(self.spectrum, sizing_mode="stretch_width"),
                         pn.pane.Bokeh(self.residual, sizing_mode="stretch_width"), sizing_mode="stretch_width")
