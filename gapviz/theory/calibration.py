"""Per-species corrections that bring LineModel's line depths onto SME's (``LineModel(..., calibration="sme")``).

A calibration is a JSON object (``gapviz/data/linemodel_sme.json``, written by
``python benchmarks/compare_linemodel_sme.py --fit``; see docs/CALIBRATION.md)::

    {"version": 1,
     "c12_c13": 20.0,             # isotopologue lines get log gf + log10(isotopic fraction) at this 12C/13C
     "theta_ref": 1.0723, "logg_ref": 2.5, "fe_h_ref": 0.0,
     "log_k_shift": 0.0,          # dex added to the saturation onset log k (all lines, as forward() sums them)
     "depth_max": 1.0,            # D: flux = 1 + D expm1(−τ / D), depths saturate at D (1: LineModel's exp(−τ))
     "species": {"Fe I": {"offset": dex, "theta_slope": dex per unit θ, "logg_slope": dex per dex,
                          "fe_h_slope": dex per dex, "chi_scale": fraction, "theta2_slope": dex,
                          "c_fe_slope": dex per dex, "n_fe_slope": ..., "o_fe_slope": ...}, ...,
                 "atoms": {...}},   # fallback for atoms not listed ("molecules": likewise, if given)
     "provenance": {...}}

For a line of species s at θ = 5040/teff: log10 τ_lin += offset_s + theta_slope_s (θ − theta_ref)
+ logg_slope_s (logg − logg_ref) + fe_h_slope_s (fe_h − fe_h_ref) + theta2_slope_s (θ − theta_ref)²
− chi_scale_s θ χ, with χ LineModel's
excitation energy of the line (χ_low, or χ_low / 0.85 for molecules): the Boltzmann factor becomes
10^(−θ χ (1 + chi_scale_s)), i.e. an excitation-temperature correction; and, where the labels have them,
+ c_fe_slope_s [C/Fe] + n_fe_slope_s [N/Fe] + o_fe_slope_s [O/Fe] (a term missing from the JSON is 0). The
abundance terms carry the molecular chemistry LineModel lacks: its molecules form independently, while in
SME carbon locked in CO starves CN and OH, so a CN line weakens with [O/Fe] and OH weakens with [C/Fe]
(measured at 4500/2.2/0: d log depth / d [O/Fe] −0.8 for CN in SME, 0 in LineModel). Species are named as in the line list ("Fe I", "Si II", "CO"); 13CO lines
belong to "CO" (their strength difference is the folded isotopic fraction).

Pure functions only; the fits (``fit_calibration``, then ``fit_abundance_slopes`` on stars whose [C/Fe], [N/Fe]
and [O/Fe] vary) work on LineModel's weak-line optical depths and measured (SME) depths.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import pandas as pd

from gapviz.errors import GapvizError
from gapviz.files import atomic_path
from gapviz.theory.isotopes import folded_loggf

SME_CALIBRATION_PATH = Path(__file__).resolve().parents[1] / "data" / "linemodel_sme.json"
C12_C13_GIANT = 20.0
THETA_REF = 5040.0 / 4700.0
LOGG_REF = 2.5
FE_H_REF = 0.0
#: the star-level terms (fitted by ``fit_calibration``) ...
STAR_TERMS = ("offset", "theta_slope", "logg_slope", "fe_h_slope", "chi_scale", "theta2_slope")
#: ... and the abundance terms (``fit_abundance_slopes``): dex of log τ per dex of the label
ABUNDANCE_LABELS = ("c_fe", "n_fe", "o_fe")
ABUNDANCE_TERMS = tuple(f"{label}_slope" for label in ABUNDANCE_LABELS)
TERMS = STAR_TERMS + ABUNDANCE_TERMS
#: bounds of each star-level term in the fit
BOUNDS = ((-4.0, 4.0), (-15.0, 15.0), (-1.5, 1.5), (-1.5, 1.5), (-0.6, 0.6), (-40.0, 40.0))
#: bounds of each abundance term
ABUNDANCE_BOUNDS = (-3.0, 3.0)
ROMAN = ("I", "II", "III")
#: nested term sets tried by the fit (indices into TERMS), simplest first
DEPTH_MAX_GRID = (1.0, 0.9, 0.8, 0.7, 0.6)
MODELS = ((0,), (0, 4), (0, 1), (0, 1, 4), (0, 1, 3), (0, 1, 5), (0, 1, 3, 4), (0, 1, 4, 5), (0, 1, 3, 4, 5), (0, 1, 2, 4),
          (0, 1, 2, 3, 4), (0, 1, 2, 3, 4, 5))


def species_name(group_key: str) -> str:
    """LineModel group key -> species name: "Fe:0" -> "Fe I", "Si:1" -> "Si II", "CO" -> "CO"."""
    if ":" in group_key:
        element, ion = group_key.split(":")
        return f"{element} {ROMAN[int(ion)]}"
    return group_key


def _check(data, source: str) -> dict:
    if not isinstance(data, dict) or not isinstance(data.get("species"), dict):
        raise GapvizError(f"LineModel calibration {source}: expected a JSON object with a 'species' object")
    try:
        out = {
            "c12_c13": float(data.get("c12_c13", C12_C13_GIANT)),
            "theta_ref": float(data.get("theta_ref", THETA_REF)),
            "logg_ref": float(data.get("logg_ref", LOGG_REF)),
            "fe_h_ref": float(data.get("fe_h_ref", FE_H_REF)),
            "log_k_shift": float(data.get("log_k_shift", 0.0)),
            "depth_max": float(data.get("depth_max", 1.0)),
            "species": {},
        }
        for name, terms in data["species"].items():
            if not isinstance(terms, dict) or set(terms) - set(TERMS):
                raise ValueError(f"species {name!r}: expected an object with keys among {TERMS}")
            out["species"][str(name)] = {t: float(terms.get(t, 0.0)) for t in TERMS}
    except (TypeError, ValueError) as exc:
        raise GapvizError(f"LineModel calibration {source}: {exc}") from None
    values = [out["c12_c13"], out["theta_ref"], out["logg_ref"], out["fe_h_ref"], out["log_k_shift"], out["depth_max"]]
    values += [v for t in out["species"].values() for v in t.values()]
    if not all(math.isfinite(v) for v in values) or out["c12_c13"] <= 0 or not 0 < out["depth_max"] <= 1:
        raise GapvizError(f"LineModel calibration {source}: values must be finite, c12_c13 > 0 and 0 < depth_max <= 1")
    if "provenance" in data:
        out["provenance"] = data["provenance"]
    return out


def load_calibration(spec) -> dict | None:
    """None -> None; "sme" -> the shipped SME calibration; a path (str/Path) -> that JSON file; a dict -> itself.

    Returns the checked calibration (see the module docstring); GapvizError for anything else."""
    if spec is None:
        return None
    if isinstance(spec, dict):
        return _check(spec, "(dict)")
    if isinstance(spec, (str, os.PathLike)):
        path = SME_CALIBRATION_PATH if str(spec) == "sme" else Path(spec)
        try:
            data = json.loads(Path(path).read_text())
        except FileNotFoundError:
            raise GapvizError(f"LineModel calibration {path}: no such file; expected 'sme', a JSON path or a dict") from None
        except (OSError, ValueError) as exc:
            raise GapvizError(f"LineModel calibration {path}: not readable JSON ({exc})") from None
        return _check(data, str(path))
    raise GapvizError(f"LineModel calibration: expected None, 'sme', a JSON path or a dict, got {type(spec).__name__}")


def group_terms(calibration: dict, group_keys: list[str], is_molecule: list[bool]) -> np.ndarray:
    """(ngroup, len(TERMS)) the terms of LineModel's groups in ``TERMS`` order (fallback "atoms"/"molecules")."""
    out = np.zeros((len(group_keys), len(TERMS)))
    species = calibration["species"]
    for j, (key, mol) in enumerate(zip(group_keys, is_molecule)):
        terms = species.get(species_name(key)) or species.get("molecules" if mol else "atoms")
        if terms:
            out[j] = [terms[t] for t in TERMS]
    return out


def _line_species(model) -> np.ndarray:
    """(nline,) the species name of each of a LineModel's lines ("Fe I", "CN", ...)."""
    return np.array([species_name(model.group_keys[g]) for g in model._group_np])


def isotope_offsets(lines: pd.DataFrame, c12_c13: float) -> np.ndarray:
    """(nline,) log10 isotopic fraction to add to each line's log gf (0 for atoms and unlabelled lines)."""
    return folded_loggf(lines, c12_c13) - lines["loggf"].to_numpy(np.float64)


def save_calibration(data: dict, path) -> Path:
    """Check and write a calibration JSON atomically."""
    _check(data, str(path))
    with atomic_path(path) as tmp:
        Path(tmp).write_text(json.dumps(data, indent=1, sort_keys=False) + "\n")
    return Path(path)


# --- fitting ------------------------------------------------------------------------------------------------

def _depth(log_tau_lin: np.ndarray, log_k: float, depth_max: float = 1.0) -> np.ndarray:
    """Central depth of isolated lines from their weak-line log10 τ, LineModel's saturation (numpy)."""
    import torch

    from gapviz.theory.profiles import saturation_factor

    x = torch.as_tensor(np.power(10.0, np.minimum(log_tau_lin + log_k, 30.0)))
    log_tau = log_tau_lin + np.log10(saturation_factor(x).numpy())
    return -depth_max * np.expm1(-np.power(10.0, log_tau) / depth_max)


def fit_calibration(model, labels: np.ndarray, depths: np.ndarray, mask: np.ndarray, c12_c13: float = C12_C13_GIANT,
                    min_depth: float = 0.02, min_lines: int = 6, fit_log_k: bool = True) -> dict:
    """Fit per-species terms so that ``model``'s isolated depths match ``depths`` (nstar, nline).

    model: an uncalibrated LineModel whose lines are the columns of ``depths`` (same order); labels (nstar,
    nlabel) in its label order (teff, logg first); mask (nstar, nline): entries that may be fitted (only those
    deeper than ``min_depth`` count). The residual is ln(model depth / measured depth), soft-L1 robust.
    Species with fewer than ``min_lines`` usable entries get an offset only (from >= 2 entries), else nothing:
    atoms then take the "atoms" fallback (fitted on all atomic lines together), molecules stay uncorrected. Each species takes the simplest of ``MODELS`` (offset; + θ slope; + χ scale, fe_h, logg)
    unless a richer one predicts left-out fit stars (leave one star out) at least 5 % better; one saturation
    shift (log k, 0.2-dex grid) and depth ceiling (``depth_max``, ``DEPTH_MAX_GRID``) is chosen for all lines
    from the atoms. Returns the calibration dict (without provenance)."""
    import torch
    from scipy.optimize import least_squares

    with torch.no_grad():
        base = model.log_tau_linear(torch.as_tensor(labels, dtype=model.dtype)).numpy().astype(np.float64)
    base = base + isotope_offsets(model.linelist, c12_c13)[None, :]
    names = model.label_names
    theta = 5040.0 / labels[:, names.index("teff")]
    logg = labels[:, names.index("logg")]
    fe_h = labels[:, names.index("fe_h")] if "fe_h" in names else np.zeros_like(logg)
    design = np.stack([np.ones_like(theta), theta - THETA_REF, logg - LOGG_REF, fe_h - FE_H_REF], axis=1)
    theta2 = (theta - THETA_REF) ** 2
    is_mol = model.linelist["is_molecule"].to_numpy(bool) if "is_molecule" in model.linelist else \
        np.array([species_name(model.group_keys[g]) == model.group_keys[g] for g in model._group_np])
    species = _line_species(model)
    use = mask & (depths > min_depth) & np.isfinite(depths)

    chi = np.asarray(model._chi_np, dtype=np.float64)

    def entry_design(star: np.ndarray, line: np.ndarray, chi0: float) -> np.ndarray:
        """Design rows; the χ column is centred on chi0 for conditioning (undone by ``uncentre``)."""
        return np.column_stack([design[star], -theta[star] * (chi[line] - chi0), theta2[star]])

    def uncentre(p: np.ndarray, chi0: float) -> np.ndarray:
        # −θ e (χ − χ0) = −θ e χ + e χ0 (θ − θ_ref) + e χ0 θ_ref
        p = p.copy()
        p[1] += p[4] * chi0
        p[0] += p[4] * chi0 * THETA_REF
        return p

    def solve(cols: np.ndarray, log_k: float, terms=(0, 1), stars=None) -> tuple[np.ndarray, float]:
        """Best terms for lines ``cols`` using only ``terms`` (others 0) and the entries of ``stars``; the
        χ term centred on the lines' median χ (``uncentre`` gives the stored form)."""
        m = use[:, cols].copy()
        if stars is not None:
            m[~np.isin(np.arange(m.shape[0]), stars)] = False
        star, line = np.nonzero(m)
        b, d = base[:, cols][star, line], depths[:, cols][star, line]
        chi0 = float(np.median(chi[cols]))
        dsgn = entry_design(star, cols[line], chi0)[:, list(terms)]

        def resid(q):
            return np.log(np.maximum(_depth(b + dsgn @ q, log_k, dmax), 1e-12) / d)

        lo, hi = np.array([BOUNDS[t] for t in terms]).T
        q = least_squares(resid, np.zeros(len(terms)), loss="soft_l1", f_scale=0.1, bounds=(lo, hi)).x
        p = np.zeros(len(STAR_TERMS))
        p[list(terms)] = q
        return uncentre(p, chi0), float(np.median(np.abs(resid(q))))

    def held_error(cols: np.ndarray, log_k: float, p: np.ndarray, star: int) -> np.ndarray:
        line = np.flatnonzero(use[star, cols])
        b, d = base[star, cols[line]], depths[star, cols[line]]
        dsgn = entry_design(np.full(line.size, star), cols[line], 0.0)
        return np.abs(np.log(np.maximum(_depth(b + dsgn @ p, log_k, dmax), 1e-12) / d))

    def choose(cols: np.ndarray, log_k: float) -> np.ndarray:
        """Fit with the nested term set that predicts left-out stars best (leave one star out)."""
        stars = np.flatnonzero(use[:, cols].any(axis=1))
        best = None
        for terms in MODELS:
            if len([t for t in terms if t != 4]) > max(stars.size - 1, 1):  # star-level terms vs stars
                continue
            errs = []
            for s in stars if stars.size >= 3 else []:
                p, _ = solve(cols, log_k, terms, np.setdiff1d(stars, [s]))
                errs.append(held_error(cols, log_k, p, s))
            err = float(np.median(np.concatenate(errs))) if errs else 0.0
            if best is None or err < 0.95 * best[0]:  # a richer model must predict clearly better
                best = (err, terms)
        return solve(cols, log_k, best[1])[0]

    log_k = float(model._log_k)
    shift, dmax = 0.0, 1.0
    if fit_log_k:  # one saturation onset (log k shift) and depth ceiling D for all lines, from the atoms
        atoms = np.flatnonzero(~is_mol)
        best = None
        for dmax in DEPTH_MAX_GRID:
            for s in np.arange(-0.4, 0.61, 0.2):
                err = []
                for name in np.unique(species[atoms]):
                    cols = np.flatnonzero(species == name)
                    if use[:, cols].sum() >= min_lines:
                        err.append(solve(cols, log_k + s)[1] * use[:, cols].sum())
                total = float(np.sum(err))
                if best is None or total < best[0]:
                    best = (total, float(round(s, 2)), float(dmax))
        _, shift, dmax = best
    out = {"version": 1, "c12_c13": float(c12_c13), "theta_ref": THETA_REF, "logg_ref": LOGG_REF, "fe_h_ref": FE_H_REF,
           "log_k_shift": shift, "depth_max": dmax, "species": {}}
    cols = np.flatnonzero(~is_mol)
    if use[:, cols].sum() >= min_lines:
        out["species"]["atoms"] = dict(zip(STAR_TERMS, np.round(choose(cols, log_k + shift), 4).tolist()))
    for name in sorted(set(species)):
        cols = np.flatnonzero(species == name)
        n = use[:, cols].sum()
        if n >= min_lines:
            p = choose(cols, log_k + shift)
        elif n >= 2:
            p = solve(cols, log_k + shift, (0,))[0]
        else:
            continue
        out["species"][name] = dict(zip(STAR_TERMS, np.round(p, 4).tolist()))
    return out


def fit_abundance_slopes(model, calibration: dict, labels: np.ndarray, depths: np.ndarray, mask: np.ndarray,
                         min_depth: float = 0.02, min_entries: int = 6) -> dict:
    """``calibration`` with the abundance terms (``ABUNDANCE_TERMS``) of every molecule fitted.

    model: a LineModel calibrated with ``calibration`` (its abundance terms are taken as they are and fitted
    on top), whose label names include those of ``ABUNDANCE_LABELS`` that vary in ``labels`` (nstar, nlabel)
    and whose lines are the columns of ``depths`` (nstar, nline, measured); mask: the entries that may be
    fitted (only those deeper than ``min_depth`` count). Per molecule with at least ``min_entries`` usable
    entries, the slopes of the labels that vary over its stars are fitted with the star-level terms held,
    residual ln(model depth / measured depth), soft-L1 robust. Atoms keep 0: the C/O budget is molecular."""
    import torch
    from scipy.optimize import least_squares

    with torch.no_grad():
        base = model.log_tau_linear(torch.as_tensor(labels, dtype=model.dtype)).numpy().astype(np.float64)
    names = list(model.label_names)
    present = [x for x in ABUNDANCE_LABELS if x in names]
    x_all = np.column_stack([labels[:, names.index(x)] for x in present]) if present else np.zeros((len(labels), 0))
    is_mol = model.linelist["is_molecule"].to_numpy(bool)
    species = _line_species(model)
    use = mask & (depths > min_depth) & np.isfinite(depths)
    log_k, dmax = float(model._log_k), float(calibration["depth_max"])
    out = {**calibration, "species": {k: dict(v) for k, v in calibration["species"].items()}}
    for name in sorted(set(species[is_mol])):
        cols = np.flatnonzero(species == name)
        star, line = np.nonzero(use[:, cols])
        if star.size < min_entries:
            continue
        vary = [k for k in range(len(present)) if np.ptp(x_all[np.unique(star), k]) > 0]
        if not vary:
            continue
        b, d, x = base[:, cols][star, line], depths[:, cols][star, line], x_all[star][:, vary]

        def resid(q):
            return np.log(np.maximum(_depth(b + x @ q, log_k, dmax), 1e-12) / d)

        q = least_squares(resid, np.zeros(len(vary)), loss="soft_l1", f_scale=0.1,
                          bounds=(ABUNDANCE_BOUNDS[0], ABUNDANCE_BOUNDS[1])).x
        terms = out["species"].setdefault(name, {t: 0.0 for t in TERMS})
        for k, value in zip(vary, q):
            key = f"{present[k]}_slope"
            terms[key] = round(float(terms.get(key, 0.0) + value), 4)
    return out
