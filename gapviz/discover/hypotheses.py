"""Attribution by hypothetical lines: which species, at which excitation energy, varies like the feature?

A missing line's depth changes from star to star the way a line of its species and lower-level energy χ
changes: CO strengthens steeply towards cool giants and follows C, a high-excitation Fe I line
strengthens towards hot stars and follows [Fe/H], OH follows O and is steeper still in teff. So, for every
candidate:

* hypotheses: each species that makes at least one visible line (central depth >= ``VISIBLE_DEPTH`` at the
  stars' median labels) in the theory's own list, at a grid of χ (``CHI_ATOM``, ``CHI_MOLECULE``, eV);
* template of a hypothesis: the weak-line optical depth of such a line at every star's labels (the refit below),
  from the theory's line-formation model (``gapviz.theory.linemodel.LineModel.log_tau_linear``; the log gf
  only scales it, so the fit below does not depend on it);
* the candidate's per-star signal: observed − theory flux at the candidate's pixel ± 1 (sign flipped for
  absorption), with the theory at labels refitted by the theory alone with every candidate's pixels
  (± 1 λ/R) left out (``gapviz.discover.find``): a star's own label fit then cannot absorb the feature (fitted
  with them, a higher [C/Fe] deepens the known CO lines by as much as a missing CO line, most in the stars
  where it is strongest, which bends the feature's star-to-star behaviour). Where the missing line is
  blended with a known line, part of the signal follows the known line's misfit, so the theory's per-star
  depth at the pixel (1 − flux_theory) and a constant are nuisance regressors: R² is the partial R² of the
  hypothesis after both are projected out (with a positive amplitude);
* score = R² + ``PRIOR_WEIGHT`` × log10(visible lines of the species / those of the commonest species): a
  missing line is a priori likelier from a species that makes many lines in the band, and hypotheses that
  behave alike (a Fe I and a Si I line of the same χ differ only through [Si/Fe]) are then decided by it;
  the best score wins. Its label is the species' limiting element's (``gapviz.labels.line_element``,
  ``element_to_label``: CO -> c_fe, CN -> n_fe, OH -> o_fe, Fe I -> fe_h);
* confidence: the winner's score minus the best score of a hypothesis with another label (0-1); if no
  hypothesis reaches R² ``MIN_R2``: "none" (the feature follows no label: instrumental or telluric suspect).

Measured figures: docs/FINDER.md. On real spectra the templates are only as good as the theory's physics
(1D LTE scalings).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from gapviz.discover.attribute import NONE
from gapviz.discover.species import pixel_window_mean, species_label
from gapviz.instrument import RESOLUTION

#: A species is hypothesised if the theory's list has a line at least this deep (at the median star).
VISIBLE_DEPTH = 0.01
#: Lower-level energies (eV) tried for atoms and ions ...
CHI_ATOM = tuple(float(x) for x in np.arange(0.0, 8.01, 1.0))
#: ... and for molecules.
CHI_MOLECULE = (0.0, 0.5, 1.0, 1.5, 2.0, 3.0)
#: Weight of the log10 visible-line-count prior against the partial R² (see the module doc).
PRIOR_WEIGHT = 0.1
#: Below this best partial R² the feature follows no label.
MIN_R2 = 0.05


@dataclass
class Hypotheses:
    """species (H,), chi (H,) eV, label (H,), prior (H,) visible lines of the species, template (n_star, H)."""

    species: np.ndarray
    chi: np.ndarray
    label: list[str]
    prior: np.ndarray
    template: np.ndarray


def hypothesis_lines(linelist: pd.DataFrame, line_depth: np.ndarray, wavelength: np.ndarray,
                     visible_depth: float = VISIBLE_DEPTH) -> tuple[pd.DataFrame, dict[str, int]]:
    """One hypothetical line per (visible species, χ), placed on the grid; and each species' visible-line count."""
    depth = np.asarray(line_depth, dtype=np.float64).reshape(-1)
    visible = linelist[depth >= visible_depth]
    counts = visible["species"].astype(str).value_counts().to_dict()
    where = float(wavelength[wavelength.size // 2])
    rows = []
    for species in counts:
        first = linelist[linelist["species"].astype(str) == species].iloc[0].to_dict()
        molecule = bool(first.get("is_molecule", False))
        for chi in (CHI_MOLECULE if molecule else CHI_ATOM):
            rows.append(first | {"wavelength": where, "elow_ev": chi})
    return pd.DataFrame(rows), counts


def build_hypotheses(linelist: pd.DataFrame, line_depth: np.ndarray, wavelength: np.ndarray, labels: np.ndarray,
                     label_names: Sequence[str], resolution: float = RESOLUTION,
                     calibration: str | None = None) -> Hypotheses:
    """Templates (weak-line optical depth at each star's ``labels`` (n, L)) of every hypothesis."""
    from gapviz.theory.linemodel import LineModel

    lines, counts = hypothesis_lines(linelist, line_depth, wavelength)
    if lines.empty:
        return Hypotheses(np.zeros(0, str), np.zeros(0), [], np.zeros(0), np.zeros((len(labels), 0)))
    model = LineModel(lines, wavelength, resolution=resolution, label_names=list(label_names), min_depth=0.0,
                      calibration=calibration)
    x = torch.as_tensor(np.nan_to_num(np.asarray(labels, dtype=np.float64)), dtype=torch.float32)
    with torch.no_grad():
        template = torch.pow(10.0, model.log_tau_linear(x)).numpy().astype(np.float64)
    template[~np.all(np.isfinite(labels), axis=1)] = np.nan
    species = model.line_species.astype(str)
    label = [species_label(s, e, label_names) or NONE for s, e in zip(species, model.line_elements.astype(str))]
    prior = np.array([counts.get(s, 0) for s in species], dtype=np.float64)
    return Hypotheses(species, model.linelist["elow_ev"].to_numpy(float), label, prior, template)


def r_squared(signal: np.ndarray, template: np.ndarray, nuisance: np.ndarray | None = None) -> np.ndarray:
    """(H,) partial R² of signal (n,) ≈ a × template (n, H) + nuisance (n, K) @ b + c, a > 0; −inf if a <= 0."""
    n = signal.shape[0]
    design = np.ones((n, 1)) if nuisance is None else np.column_stack([np.ones(n), nuisance])
    ok = np.isfinite(signal) & np.all(np.isfinite(template), axis=1) & np.all(np.isfinite(design), axis=1)
    if ok.sum() < design.shape[1] + 2:
        return np.full(template.shape[1], -np.inf)
    d = design[ok]
    y = signal[ok] - d @ np.linalg.lstsq(d, signal[ok], rcond=None)[0]
    x = template[ok] - d @ np.linalg.lstsq(d, template[ok], rcond=None)[0]
    den = np.sqrt((x * x).sum(axis=0) * (y * y).sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.where(den > 0, (x * y[:, None]).sum(axis=0) / den, np.nan)
    return np.where(np.isfinite(r) & (r > 0), r * r, -np.inf)


def choose_hypothesis(r2: np.ndarray, hyp: Hypotheses, prior_weight: float = PRIOR_WEIGHT,
                      min_r2: float = MIN_R2) -> tuple[int, float]:
    """(index of the chosen hypothesis or −1 for "none", confidence 0-1); see the module doc."""
    if r2.size == 0 or not np.isfinite(r2).any() or r2.max() < min_r2:
        return -1, 0.0
    with np.errstate(divide="ignore"):
        score = r2 + prior_weight * np.log10(np.maximum(hyp.prior, 1e-3) / max(hyp.prior.max(), 1e-3))
    best = int(np.argmax(score))
    other = [score[k] for k in range(r2.size) if hyp.label[k] != hyp.label[best] and np.isfinite(score[k])]
    return best, float(np.clip(score[best] - (max(other) if other else 0.0), 0.0, 1.0))


def attribute_hypotheses(candidates: pd.DataFrame, residual: np.ndarray, theory: np.ndarray,
                         hyp: Hypotheses) -> pd.DataFrame:
    """Add ``attributed_species``, ``attributed_chi`` (eV), ``attributed_label``, ``attribution_confidence``.

    residual, theory (n, npix): per-star observed − theory flux (NaN where unusable) and the theory flux of
    the stars the templates were built for; candidates need ``pixel`` and ``depth``.
    """
    out = candidates.copy()
    residual = np.asarray(residual, dtype=np.float64)
    theory = np.asarray(theory, dtype=np.float64)
    species, chi, label, confidence = [], [], [], []
    for p, d in zip(out["pixel"].to_numpy(int), out["depth"].to_numpy(float)):
        signal = -np.sign(d) * pixel_window_mean(residual, p)
        known_depth = 1.0 - pixel_window_mean(theory, p)
        k, conf = choose_hypothesis(r_squared(signal, hyp.template, known_depth[:, None]), hyp)
        species.append(str(hyp.species[k]) if k >= 0 else "")
        chi.append(float(hyp.chi[k]) if k >= 0 else np.nan)
        label.append(hyp.label[k] if k >= 0 else NONE)
        confidence.append(conf)
    out["attributed_species"] = species
    out["attributed_chi"] = chi
    out["attributed_label"] = label
    out["attribution_confidence"] = confidence
    return out
