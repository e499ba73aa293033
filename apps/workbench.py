"""The line-list workbench: look at one change of a repair across the population, edit it, decide on it.

Serve it with ``panel serve apps/workbench.py --args STORE_DIR [--repair REPAIR_DIR]`` (REPAIR_DIR defaults to
``STORE_DIR/repair/``). Store and repair are fixed at server start; nothing in the page or the URL can choose a
server path. Decisions go to ``STORE_DIR/review.csv`` (``gapviz.repair.review``); ``gapviz repair STORE_DIR
--review STORE_DIR/review.csv --from REPAIR_DIR --out DIR`` applies them from the command line.

Per session: the changes table (a row picks a change), the population image of its feature before and with the
proposal as edited (rows sorted by a label), the mean residual in label bins with the proposal drawn over it,
the species fits (``gapviz.repair.species_fit``), the mean spectrum with the original or the reviewed list, and
χ²ν of the displayed stars with both lists. Data and re-synthesis: ``apps.workbench_data``; figures:
``apps.workbench_views``.
"""

from __future__ import annotations

import io
import math
import sys
from dataclasses import replace
from pathlib import Path

_ROOT = str(Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:  # `panel serve apps/workbench.py` puts only apps/ on the path
    sys.path.insert(0, _ROOT)

import numpy as np
import panel as pn
import param

from apps.batching import batched
from apps.explorer import template as explorer_template
from apps.live_text import LiveMarkdown
from apps.store_data import server_args
from apps.workbench_data import NONE_OF_THESE, Edit, Workbench, open_workbench
from apps.workbench_review import (
    DECIDED,
    changes_frame,
    header_text,
    linelist_bytes,
    reviewed_list,
)
from apps.workbench_views import (
    FeatureFigures,
    SpectrumFigure,
    binned_means,
    residual,
    sorted_rows,
)
from gapviz.errors import GapvizError
from gapviz.repair.fits import chi2
from gapviz.repair.review import (
    Decision,
    check_decision,
    decision_for,
    empty_review,
    read_review,
    record_decision,
)

TITLE = "gapviz line-list workbench"
ORIGINAL, REVIEWED = "original list", "reviewed list"
#: How often a served page looks whether another session changed the review file (ms).
FOLLOW_MS = 2000


def file_stamp(path: Path) -> tuple[int, int] | None:
    """(mtime in ns, size) of ``path``, None when it does not exist."""
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


class WorkbenchSession(pn.viewable.Viewer):
    """One visitor's workbench on a shared ``Workbench``; ``row`` is the picked change (row of changes.csv)."""

    row = param.Integer(default=0)
    sort_label = param.Selector(objects=["teff"])
    theory_list = param.Selector(objects=[ORIGINAL, REVIEWED], default=ORIGINAL)

    def __init__(self, wb: Workbench, **params):
        super().__init__(**params)
        self.wb = wb
        self.param.sort_label.objects = list(wb.pop.label_names)
        with param.discard_events(self):
            self.sort_label = wb.pop.label_names[0]
        self.figures, self.spectrum = FeatureFigures(), SpectrumFigure()
        self.header, self.proposal_text, self.chi2_text = LiveMarkdown(), LiveMarkdown(), LiveMarkdown()
        self.message = LiveMarkdown()
        self.species = pn.widgets.Select(label="species", options=[*wb.species, NONE_OF_THESE])
        self.wavelength = pn.widgets.FloatInput(label="wavelength (Å, vacuum)", step=0.01, format="0.000")
        self.loggf = pn.widgets.FloatInput(label="log gf", step=0.05, format="0.000")
        self.elow = pn.widgets.FloatInput(label="E_low (eV)", step=0.1, format="0.000")
        self.buttons = {k: pn.widgets.Button(label=n, color=t) for k, n, t in (
            ("accept", "Accept as proposed", "success"), ("edit", "Save the edit", "primary"),
            ("reject", "Reject (none of these)", "danger"))}
        self.downloads = [pn.widgets.FileDownload(callback=lambda f=f: self.download(f), filename=name,
                                                  label=label, color="light")
                          for f, name, label in (("csv", "reviewed_linelist.csv", "Reviewed list (CSV)"),
                                                 ("moog", "reviewed_linelist.moog", "Reviewed list (MOOG)"))]
        self.review, self.reviewed_factor = empty_review(), None
        self.table = pn.widgets.Tabulator(changes_frame(wb, self.review), selectable=1, disabled=True,
                                          show_index=False, pagination="remote", page_size=12,
                                          sizing_mode="stretch_width", height=420, titles={"wavelength": "λ (Å)"})
        self.reload_review()
        self.table.param.watch(self._on_select, "selection")
        for w in (self.species, self.wavelength, self.loggf, self.elow):
            w.param.watch(self._on_edit, "value")
        for kind, b in self.buttons.items():
            b.on_click(lambda event, kind=kind: self.decide(kind))
        self.list_toggle = pn.widgets.RadioButtonGroup(options=[ORIGINAL, REVIEWED], value=ORIGINAL)
        self.list_toggle.param.watch(batched(lambda e: setattr(self, "theory_list", e.new)), "value")
        self.sort_select = pn.widgets.Select(label="sort stars by", options=list(wb.pop.label_names),
                                             value=self.sort_label)
        self.sort_select.param.watch(batched(lambda e: setattr(self, "sort_label", e.new)), "value")
        self._picking = False
        self.pick(0)

    # --- the review -----------------------------------------------------------------------------------------------
    def reload_review(self) -> None:
        """Re-read STORE_DIR/review.csv: the table's decisions, the reviewed theory and the header's χ²ν."""
        self._stamp = file_stamp(self.wb.review_path)
        try:
            self.review = read_review(self.wb.review_path)
        except GapvizError as exc:
            self.review = empty_review()
            self.message.object = f"**The review file cannot be read:** {exc}"
        self.table.value = changes_frame(self.wb, self.review)
        reviewed, problem = reviewed_list(self.wb, self.review)
        if problem:
            self.message.object = f"**The review file cannot be applied:** {problem}"
        self.reviewed_factor = self.wb.reviewed_transmission(reviewed)
        self.header.object = header_text(self.wb, reviewed, self.reviewed_factor)

    def follow_review(self) -> None:
        """Re-read the review file when another session has changed it (polled every FOLLOW_MS in a served page)."""
        if file_stamp(self.wb.review_path) != self._stamp:
            with pn.io.hold():
                self.reload_review()

    def decide(self, kind: str) -> None:
        """Record ``kind`` (accept, reject, edit) for the picked change in STORE_DIR/review.csv."""
        c = self.wb.changes.iloc[self.row]
        d = Decision(float(c["wavelength"]), str(c["species"]), int(c["candidate"]), kind, choice=str(c["choice"]))
        if kind == "edit":
            edit = self.edit()
            if edit is None:
                return
            if edit.species == NONE_OF_THESE:
                d = replace(d, decision="reject")
            else:
                d = replace(d, loggf=edit.loggf, elow_ev=edit.elow_ev, edit_wavelength=edit.wavelength,
                            edit_species=edit.species)
        try:
            check_decision(d, species=set(self.wb.species), wavelength_range=self.range())
            record_decision(self.wb.review_path, d, self.wb.source_sha256)
        except (GapvizError, OSError) as exc:
            self.message.object = f"**Not recorded:** {exc}"
            return
        with pn.io.hold():
            self.reload_review()
            self.message.object = f"Recorded: {DECIDED[d.decision]} {d.species} {d.wavelength:.3f} Å."
            self.update()

    def download(self, fmt: str) -> io.BytesIO:
        """The reviewed list (the decisions on file) as gapviz CSV or MOOG."""
        return linelist_bytes(self.wb, reviewed_list(self.wb, read_review(self.wb.review_path))[0], fmt)

    # --- picking and editing --------------------------------------------------------------------------------------
    def range(self) -> tuple[float, float]:
        wl = self.wb.data.wavelength
        return float(wl[0]), float(wl[-1])

    @batched
    def _on_select(self, event) -> None:
        if event.new:
            self.pick(int(event.new[0]))

    def pick(self, row: int) -> None:
        """Show change ``row``: its proposal (or the recorded edit) in the controls, its species fits."""
        self.row = row
        p, c = self.wb.proposal(row), self.wb.changes.iloc[row]
        done = decision_for(self.review, p.wavelength, p.species, int(c["candidate"]))
        if done and done["decision"] == "edit":
            species = str(done["edit_species"] or p.species)
            species = species if species in self.species.options else p.species
            p = Edit(species,
                     float(done["edit_wavelength"]) if math.isfinite(float(done["edit_wavelength"])) else p.wavelength,
                     float(done["loggf"]), float(done["elow_ev"]), p.isotopes if species == p.species else "")
        movable = str(c["choice"]) == "added"
        self._picking = True
        try:
            self.species.value, self.wavelength.value = p.species, p.wavelength
            self.loggf.value, self.elow.value = p.loggf, p.elow_ev
            self.species.disabled = self.wavelength.disabled = not movable
        finally:
            self._picking = False
        err = float(c.get("loggf_err", math.nan))
        before = float(c.get("loggf_before", math.nan))
        what = {"added": "an added line", "recalibrated": "a recalibrated known line (log gf "
                f"{before:.3f} →)", "damping": "the damping of a known line (not re-synthesised)"}
        self.proposal_text.object = (f"**Proposal** (candidate {int(c['candidate'])}): {what.get(str(c['choice']), '')}"
                                     f" **{c['species']}** λ {float(c['wavelength']):.3f} Å, E_low "
                                     f"{float(c['elow_ev']):.2f} eV, log gf {float(c['loggf']):.3f}"
                                     + (f" ± {err:.3f}" if math.isfinite(err) else ""))
        self.figures.show_species(self.wb.species_fit(row), str(c["species"]))
        self.update()

    def edit(self) -> Edit | None:
        """The controls' line, validated (None, with the reason in the page, when a value is not allowed)."""
        c = self.wb.changes.iloc[self.row]
        proposed = self.wb.proposal(self.row)
        e = Edit(self.species.value, float(self.wavelength.value if self.wavelength.value is not None else math.nan),
                 float(self.loggf.value if self.loggf.value is not None else math.nan),
                 float(self.elow.value if self.elow.value is not None else math.nan),
                 proposed.isotopes if self.species.value == proposed.species else "")
        if e.species == NONE_OF_THESE:
            return e
        try:
            check_decision(Decision(float(c["wavelength"]), str(c["species"]), int(c["candidate"]), "edit",
                                    choice=str(c["choice"]), loggf=e.loggf, elow_ev=e.elow_ev,
                                    edit_wavelength=e.wavelength, edit_species=e.species),
                           species=set(self.wb.species), wavelength_range=self.range())
        except GapvizError as exc:
            self.message.object = f"**Not applied:** {exc}"
            return None
        return e

    @batched
    def _on_edit(self, event) -> None:
        if not self._picking:
            self.update()

    @param.depends("sort_label", "theory_list", watch=True)
    def _on_view(self) -> None:
        self.update()

    def update(self) -> None:
        """Re-synthesise the picked change as edited for the displayed stars; redraw images, bins, χ², spectrum."""
        edit = self.edit()
        if edit is None:
            return
        if self.message.object.startswith("**Not applied"):
            self.message.object = ""
        wb, row, pop = self.wb, self.row, self.wb.pop
        sl, fit = wb.pixels(row), wb.fit_pixels(row)
        obs, theory, weight = pop.obs[:, sl], pop.theory[:, sl], pop.weight[:, sl]
        proposed = wb.proposed_transmission(row)
        factor = proposed if edit == wb.proposal(row) else wb.transmission(row, edit, sl)
        before, after = residual(obs, theory, weight), residual(obs, theory * factor, weight)
        labels = pop.labels[:, pop.label_names.index(self.sort_label)]
        order = sorted_rows(labels)
        dx = pop.wavelength[sl] - wb.centre(row)
        line_dx = None if edit.species == NONE_OF_THESE else edit.wavelength - wb.centre(row)  # None: no marker
        self.figures.show_images(before[order], after[order], dx, line_dx, self.sort_label)
        names, means = binned_means(labels, {"obs": before, "model": np.where(weight > 0, theory * factor - theory,
                                                                               np.nan)})
        self.figures.show_bins(names, dx, means["obs"], means["model"], self.sort_label)
        a, b = max(fit.start - sl.start, 0), fit.stop - sl.start
        w = weight[:, a:b]
        none = chi2(obs[:, a:b], w, theory[:, a:b])
        prop, now = chi2(obs[:, a:b], w, (theory * proposed)[:, a:b]), chi2(obs[:, a:b], w, (theory * factor)[:, a:b])
        self.chi2_text.object = (f"χ² in the fit window ({int(np.any(w > 0, axis=1).sum())} stars, "
                                 f"{int(np.count_nonzero(w))} points): no change {none:.1f}; as proposed {prop:.1f} "
                                 f"(Δχ² {prop - none:+.1f}); **as edited {now:.1f} (Δχ² {now - none:+.1f})**")
        ok = weight > 0
        shown = theory * (self.reviewed_factor[:, sl] if self.theory_list == REVIEWED else 1.0)
        with np.errstate(all="ignore"):
            mean_obs = np.nanmean(np.where(ok, obs, np.nan), axis=0)
            mean_theory = np.nanmean(np.where(ok, shown, np.nan), axis=0)
        self.spectrum.show(pop.wavelength[sl], mean_obs, mean_theory, self.theory_list)

    # --- layout -------------------------------------------------------------------------------------------------
    def controls(self) -> pn.Column:
        return pn.Column("### Edit the proposal", self.species, self.wavelength, self.loggf, self.elow,
                         self.message, *self.buttons.values(), pn.layout.Divider(), self.sort_select,
                         pn.layout.Divider(), "### Download the reviewed list", *self.downloads,
                         sizing_mode="stretch_width")

    def views(self) -> pn.Column:
        f = self.figures
        return pn.Column(
            self.header,
            pn.Row(pn.Column("## Changes of the repair", self.table, sizing_mode="stretch_width"),
                   pn.Column("## Which species", f.species, sizing_mode="stretch_width"), sizing_mode="stretch_width"),
            self.proposal_text, self.chi2_text,
            pn.Row(f.before, f.after, sizing_mode="stretch_width"),
            pn.Row(f.bins, pn.Column(self.list_toggle, self.spectrum.fig, sizing_mode="stretch_width"),
                   sizing_mode="stretch_width"),
            sizing_mode="stretch_width")

    def __panel__(self) -> pn.Row:
        return pn.Row(pn.Column(self.controls(), width=300), self.views(), sizing_mode="stretch_width")

    def template(self) -> pn.template.FastListTemplate:
        page = explorer_template(sidebar=[self.controls()], main=[self.views()], sidebar_width=300)
        page.title = TITLE
        return page


def error_page(message: str) -> pn.template.FastListTemplate:
    alert = pn.pane.Alert(f"**The workbench could not open its store and repair.**\n\n{message}\n\nStart it with "
                          "`panel serve apps/workbench.py --args STORE_DIR [--repair REPAIR_DIR]`, where STORE_DIR "
                          "holds store.nc and REPAIR_DIR (default STORE_DIR/repair) what `gapviz repair` wrote.",
                          alert_type="danger")
    page = explorer_template(main=[alert])
    page.title = TITLE
    return page


def build_app(store_dir: str | Path | None = None, sessions: list | None = None,
              repair_dir: str | Path | None = None) -> pn.template.FastListTemplate:
    """The workbench page for the store and repair chosen at server start (an error page when they cannot be read).
    ``sessions``, when given, collects each session (tests and benchmarks inspect them)."""
    argv_store, argv_repair = server_args()
    try:
        wb = open_workbench(store_dir if store_dir is not None else argv_store,
                            repair_dir if store_dir is not None else argv_repair)
        session = WorkbenchSession(wb)
    except GapvizError as exc:
        return error_page(str(exc))
    if sessions is not None:
        sessions.append(session)
    page = session.template()
    if pn.state.curdoc is not None and pn.state.curdoc.session_context is not None:  # a served page
        pn.state.add_periodic_callback(session.follow_review, period=FOLLOW_MS)
    return page


if __name__.startswith("bokeh"):
    build_app().servable(title=TITLE)
