"""Which species makes a feature: the population fit of an added line of each species, best first.

For a feature at ``centre`` (vacuum Å) and each species hypothesised, a line of that species is fitted as
``gapviz.repair.explain`` fits an added line (``fits.fit_added``: log gf and a shift within ±``MAX_SHIFT_ELEMENTS``
λ/R, over the population's stars at their own labels, in the window ``population.window``); its lower-level
energy χ is the one of the grid (``CHI_ATOM`` / ``CHI_MOLECULE`` eV, as the finder's hypotheses) of least χ²
(each χ fitted in full: a linearised ranking picked the wrong χ for a line ~40 % deep in the tests). Each
species' fit then has three parameters (log gf, shift, χ), so the BIC differences between species are their χ²
differences; against "no line" it pays 3 ln(n_points).

``species_fits(pop, centre, species, ...)`` returns one row per species: ``species``, ``elow_ev`` (the χ chosen),
``loggf``, ``loggf_err``, ``shift`` (Å), ``chi2``, ``delta_chi2`` (χ² − χ²(no line); negative is better),
``bic``, ``delta_bic`` (BIC − the best BIC; 0 for the winner), sorted best first. ``table.attrs``: ``chi2_none``,
``bic_none``, ``n_points``, ``n_stars``. Pure: the same inputs give the same table.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from gapviz.instrument import resolution_element
from gapviz.io.linelist import parse_species
from gapviz.repair.explain import MAX_SHIFT_ELEMENTS
from gapviz.repair.line_hypotheses import species_row
from gapviz.repair.fits import bic, chi2, fit_added
from gapviz.repair.population import Lines, Population, window

#: Lower-level energies (eV) tried for atoms and ions, and for molecules (the finder's grids).
CHI_ATOM = tuple(float(x) for x in np.arange(0.0, 8.01, 1.0))
CHI_MOLECULE = (0.0, 0.5, 1.0, 1.5, 2.0, 3.0)
#: χ of each species fitted in full (the best of the linearised fits: saturation moves the optimum).
N_FITTED = 9
#: Parameters of one species' line: log gf, shift, χ.
N_PARAM = 3
COLUMNS = ["species", "elow_ev", "loggf", "loggf_err", "shift", "chi2", "delta_chi2", "bic", "delta_bic"]


def hypotheses(centre: float, species: Sequence[str], linelist: pd.DataFrame | None = None) -> pd.DataFrame:
    """One line per (species, χ of the grid) at ``centre``, log gf 0, in the line-list contract."""
    rows = []
    for s in dict.fromkeys(species):
        molecule = parse_species(s)[2]
        for chi in CHI_MOLECULE if molecule else CHI_ATOM:
            rows.append(species_row(s, (linelist,)) | {"species": s, "wavelength": float(centre),
                                                         "elow_ev": chi, "loggf": 0.0})
    return pd.DataFrame(rows)


def species_fits(pop: Population, centre: float, species: Sequence[str], *, resolution: float,
                 calibration: str | None = None, linelist: pd.DataFrame | None = None) -> pd.DataFrame:
    """The fit of a line of each of ``species`` to the feature at ``centre`` (see the module docstring)."""
    sl = window(pop.wavelength, float(centre), resolution)
    stars = np.any(pop.weight[:, sl] > 0, axis=1)
    obs, weight, theory = pop.obs[stars, sl], pop.weight[stars, sl], pop.theory[stars, sl]
    x = pop.wavelength[sl]
    n_points = int(np.count_nonzero(weight))
    none = chi2(obs, weight, theory)
    table = pd.DataFrame(columns=COLUMNS)
    table.attrs = {"chi2_none": none, "bic_none": none, "n_points": n_points, "n_stars": int(stars.sum())}
    if n_points == 0 or not len(species):
        return table
    hyp = Lines.build(hypotheses(centre, species, linelist), pop, resolution, calibration)
    if not len(hyp.table):
        return table
    tau = hyp.tau[stars]  # (S, H): τ per unit gf (log gf 0)
    names = hyp.table["species"].astype(str).to_numpy()
    max_shift = MAX_SHIFT_ELEMENTS * resolution_element(float(centre), resolution)
    rows = []
    for s in dict.fromkeys(names):
        idx = np.flatnonzero(names == s)
        fits = {int(h): fit_added(obs, weight, theory, x, tau[:, h], float(centre), float(hyp.sigma[h]), max_shift,
                                  hyp.log_k, depth_max=hyp.depth_max) for h in idx}
        h = min(fits, key=lambda k: fits[k].chi2)
        fit = fits[h]
        rows.append({"species": s, "elow_ev": float(hyp.table["elow_ev"].iloc[h]), "loggf": fit.value,
                     "loggf_err": fit.error, "shift": fit.shift, "chi2": fit.chi2, "delta_chi2": fit.chi2 - none,
                     "bic": bic(fit.chi2, N_PARAM, n_points)})
    out = pd.DataFrame(rows).sort_values("chi2", kind="stable").reset_index(drop=True)
    out["delta_bic"] = out["bic"] - out["bic"].min()
    out = out[COLUMNS]
    out.attrs = dict(table.attrs) | {"bic_none": none}
    return out
