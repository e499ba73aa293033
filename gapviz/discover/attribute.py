"""Which stellar label drives a candidate feature?

Two measures of a feature's sensitivity to each label, both per population standard deviation of the label
(so K and dex compare):

* ``"regression"``: ``correction_label_slope``, the joint linear regression coefficient of the per-star
  correction on the standardised inferred labels (accumulated while the store is written);
* ``"response"``: the adaptation's extra response, ``response_difference`` (label × wavelength, flux per
  label unit) × the label's population spread.

Rule (``attribute``): sensitivities are averaged over the line profile at the candidate. If no label moves
the feature by ``min_fraction`` × |depth| per σ, it is "none" (instrumental or telluric suspect). Otherwise
the abundance labels (``fe_h``, ``<x>_fe``) that move the feature in its own sense are preferred (more of
an element deepens a missing absorption line: its sensitivity is negative), because a missing line's element
is the actionable answer (teff and logg change almost every line): the abundance label with the largest
|sensitivity| per σ wins if it moves the feature by ``min_fraction`` × |depth|; if that is ``fe_h`` but an
``<x>_fe`` label moves the feature at least ``specific_ratio`` as much *per dex* (every element follows
[Fe/H] too, so a line of element X responds to both), the more specific ``<x>_fe`` wins. If no abundance
label qualifies, the label with the largest |sensitivity| (teff or logg) wins. Confidence is the winner's
share of the squared sensitivities of its group (abundance labels, or all labels).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gapviz.instrument import FWHM_TO_SIGMA, RESOLUTION

METHODS = ("regression", "response")
NONE = "none"


def sensitivity_at(
    sensitivity: np.ndarray, wavelength: np.ndarray, at: float, resolution: float = RESOLUTION
) -> np.ndarray:
    """(L,) line-profile-weighted mean of ``sensitivity`` (L, npix) around wavelength ``at`` (Å)."""
    sig = at / resolution * FWHM_TO_SIGMA
    w = np.exp(-0.5 * ((wavelength - at) / sig) ** 2)
    w[np.abs(wavelength - at) > 3 * sig] = 0.0
    s = np.nan_to_num(sensitivity)
    return (s * w).sum(axis=1) / max(w.sum(), 1e-30)


def _is_abundance(name: str) -> bool:
    return name == "fe_h" or name.endswith("_fe")


def choose_label(s: np.ndarray, names: list[str], depth: float, spread: np.ndarray | None,
                 min_fraction: float = 0.1, specific_ratio: float = 0.5) -> tuple[str, float]:
    """(label, confidence) for one feature from its per-σ sensitivities ``s`` (L,); see the module doc."""
    total = float(np.sum(s**2))
    floor = min_fraction * abs(depth)
    if s.size == 0 or total == 0.0 or np.max(np.abs(s)) < floor:
        return NONE, 0.0
    # only abundance labels that move the feature in its own sense: more of the element makes a missing
    # absorption line deeper (correction more negative), an over-strong theory line (emission) more so
    wanted = -np.sign(depth)
    abundance = np.array([_is_abundance(n) for n in names]) & (np.sign(s) == wanted)
    if abundance.any():
        idx = np.flatnonzero(abundance)
        j = idx[int(np.argmax(np.abs(s[idx])))]
        if abs(s[j]) >= floor:
            if names[j] == "fe_h" and spread is not None:
                per_dex = np.abs(s) / np.where(spread > 0, spread, np.inf)
                specific = [k for k in idx if names[k] != "fe_h"]
                if specific:
                    k = specific[int(np.argmax(per_dex[specific]))]
                    if per_dex[k] >= specific_ratio * per_dex[j]:
                        j = k
            return names[j], float(s[j] ** 2 / np.sum(s[idx] ** 2))
    j = int(np.argmax(np.abs(s)))
    return names[j], float(s[j] ** 2 / total)


def attribute(
    candidates: pd.DataFrame,
    sensitivity: np.ndarray,
    wavelength: np.ndarray,
    label_names: list[str],
    resolution: float = RESOLUTION,
    spread: np.ndarray | None = None,
    min_fraction: float = 0.1,
    specific_ratio: float = 0.5,
) -> pd.DataFrame:
    """Add ``attributed_label`` and ``attribution_confidence`` (0-1) to ``candidates``.

    sensitivity (L, npix): change of the correction per population σ of each label; spread (L,): those σ
    in label units (enables the per-dex preference for ``<x>_fe`` over ``fe_h``; see the module doc).
    """
    out = candidates.copy()
    names = list(label_names)
    chosen = [
        choose_label(sensitivity_at(sensitivity, wavelength, wl, resolution) if names else np.zeros(0),
                     names, depth, spread, min_fraction, specific_ratio)
        for wl, depth in zip(out["wavelength"].to_numpy(), out["depth"].to_numpy())
    ]
    out["attributed_label"] = [c[0] for c in chosen]
    out["attribution_confidence"] = [c[1] for c in chosen]
    return out


def sensitivity_from_arrays(agg, method: str = "regression") -> np.ndarray:
    """(L, npix) sensitivity per label σ from the store aggregates (a store Dataset or a dict of arrays)."""
    if method == "regression":
        return np.asarray(agg["correction_label_slope"], dtype=np.float64)
    if method == "response":
        spread = np.asarray(agg["label_spread"], dtype=np.float64)
        return np.asarray(agg["response_difference"], dtype=np.float64) * spread[:, None]
    raise ValueError(f"unknown attribution method {method!r}; expected one of {METHODS}")
