"""The mock's spectra from SME (``gapviz mock --physics sme``): real radiative transfer for theory and stars.

The gap is chosen as in the LineModel mock (which lines are strong enough to matter is judged by LineModel
calibrated against SME, ``calibration="sme"``, fast), then every spectrum is computed by SME on MARCS atmospheres (``gapviz.theory.sme``):

* theory (``synthetic.h5`` and the χ² at the true labels, on the first ``TRUE_CHI2_STARS`` stars): the theory's line list (lines removed, log gf
  perturbed), SME's default van der Waals damping (Unsöld), at the theory's resolution;
* observed: the complete list, with the damping errors below, at the observed resolution, then the
  observing effects of ``gapviz.mock.effects`` as in the LineModel mock;
* the truth's line depths of the removed lines are measured in SME, leave one out: the spectrum with and
  without the line, at the observed resolution, at the reference giant and at the star where the line is
  deepest (``leave_one_out_depths``).

Damping errors (optional, ``damping_fraction``): a share of the strong atomic lines whose true van der
Waals constant is log γ6 = ``TRUE_GAMVW`` (per H atom at 10⁴ K, typical of ABO theory for H-band Fe I/Si I
lines), where the theory keeps Unsöld's approximation, known to be too weak by ~2×: the residual is in
the wings of strong lines.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gapviz.theory.calibration import C12_C13_GIANT
from gapviz.theory.sme import Job, SMESettings, sme_linelist, spectra, synthesize_many

#: 12C/13C of theory and stars: a first-dredge-up giant, as LineModel's SME calibration assumes.
C12_C13 = C12_C13_GIANT
#: log10 γ6 (rad s⁻¹ per H atom at 10⁴ K) of the lines given "wrong damping": the observed stars have it,
#: the theory uses Unsöld's (SME's default when gamvw = 0).
TRUE_GAMVW = -7.2
#: Observed stars whose χ² against the theory at their true labels is computed (truth's chi2nu_theory_true;
#: NaN for the others): each costs one more SME spectrum.
TRUE_CHI2_STARS = 100
#: Half-width (Å) of the window in which a leave-one-out depth is measured.
LOO_HALF_WIDTH = 1.5


def sme_spectra(lines: pd.DataFrame, wavelength: np.ndarray, labels: np.ndarray, names, resolution: float,
                c12_c13: float, workers: int, progress: bool, desc: str) -> np.ndarray:
    """(nstar, npix) SME flux of ``lines`` at each row of ``labels`` (columns ``names``)."""
    return spectra(lines, wavelength, labels, names, SMESettings(resolution=resolution, c12_c13=c12_c13), workers,
                   progress, desc)


def choose_damped(lines: pd.DataFrame, depth_max: np.ndarray, fraction: float, rng: np.random.Generator,
                  min_depth: float = 0.3) -> np.ndarray:
    """(nline,) bool: ``fraction`` of the atomic lines deeper than ``min_depth`` somewhere, at random."""
    eligible = np.flatnonzero((depth_max > min_depth) & ~lines["is_molecule"].to_numpy(bool))
    n = int(round(fraction * eligible.size))
    out = np.zeros(len(lines), dtype=bool)
    if n:
        out[rng.choice(eligible, size=n, replace=False)] = True
    return out


def with_damping(lines: pd.DataFrame, damped: np.ndarray) -> pd.DataFrame:
    """``lines`` with a ``gamvw`` column: TRUE_GAMVW where ``damped``, 0 (Unsöld) elsewhere."""
    out = lines.copy()
    out["gamvw"] = np.where(damped, TRUE_GAMVW, 0.0)
    return out


def leave_one_out_depths(lines: pd.DataFrame, targets: np.ndarray, star_labels: list[dict], resolution: float,
                         c12_c13: float, workers: int, progress: bool) -> np.ndarray:
    """(ntarget,) central depth of line ``targets[i]`` at ``star_labels[i]``: the SME flux without the line
    minus the flux with it, at the line's centre, all other lines within the window kept."""
    if len(targets) == 0:
        return np.zeros(0)
    settings = SMESettings(resolution=resolution, c12_c13=c12_c13)
    table, _ = sme_linelist(lines, c12_c13)
    order = np.argsort(lines["wavelength"].to_numpy(), kind="stable")  # sme_linelist sorts by wavelength
    row_of = np.empty(len(lines), dtype=int)
    row_of[order] = np.arange(len(lines))
    step = lines["wavelength"].to_numpy()[targets].mean() / resolution / 6.0
    tables, grids, jobs = [], [], []
    for i, line in enumerate(targets):
        centre = float(table["wlcent"].iloc[row_of[line]])
        grid = np.arange(centre - LOO_HALF_WIDTH, centre + LOO_HALF_WIDTH + step / 2, step)
        near = table.loc[(table["wlcent"] - centre).abs() <= LOO_HALF_WIDTH + settings.line_margin]
        grids.append(grid)
        tables += [near, near.drop(index=row_of[line])]
        jobs += [Job(2 * i, i, star_labels[i]), Job(2 * i + 1, i, star_labels[i])]
    flux = synthesize_many(tables, grids, jobs, settings, workers, progress, "truth depths")
    centre_pixel = [np.argmin(np.abs(g - g.mean())) for g in grids]
    return np.array([flux[2 * i + 1][c] - flux[2 * i][c] for i, c in enumerate(centre_pixel)])


def in_atmosphere_grid(labels: np.ndarray, names) -> np.ndarray:
    """(nstar,) bool: the stars MARCS covers (interpolation needs every surrounding node)."""
    from gapviz.errors import GapvizError
    from gapviz.theory import marcs

    col = {n: j for j, n in enumerate(names)}
    ok = np.ones(labels.shape[0], dtype=bool)
    for i, row in enumerate(labels):
        try:
            marcs.check_in_grid(row[col["teff"]], row[col["logg"]], row[col["fe_h"]])
        except GapvizError:
            ok[i] = False
    return ok


def draw_inside_grid(draw, n: int, names, max_rounds: int = 50) -> np.ndarray:
    """(n, nlabel) labels from ``draw(k)`` (a sampler of k stars), redrawing the ones MARCS does not cover
    (hot stars of low gravity, the grid's holes), as real synthetic grids leave those corners out."""
    from gapviz.errors import GapvizError

    kept = np.zeros((0, len(names)))
    for _ in range(max_rounds):
        batch = draw(max(n - kept.shape[0], 1) * 2)
        kept = np.concatenate([kept, batch[in_atmosphere_grid(batch, names)]])
        if kept.shape[0] >= n:
            return kept[:n]
    raise GapvizError("could not draw enough stars inside the MARCS grid; narrow the label box")
