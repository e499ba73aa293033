"""Which lines the mock theory lacks (or gets wrong), and the ground truth that describes them.

Pure functions on a line table (``gapviz.io.linelist`` columns: ``wavelength`` vacuum Å, ``species``,
``elements``, ``loggf``, ...) and per-line depths (central depth each line alone makes, 0-1).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from gapviz.labels import (  # noqa: F401
    MOLECULE_ELEMENT,
    UNSCALED_ELEMENTS,
    element_to_label,
    line_element,
)


def stratified_choice(species: np.ndarray, eligible: np.ndarray, fraction: float,
                      rng: np.random.Generator) -> np.ndarray:
    """(nline,) bool: ``fraction`` of the ``eligible`` lines of each species, chosen at random.

    Sampling the same fraction within every species keeps one numerous molecule (CO, CN) from dominating.
    The count per species is rounded stochastically (floor plus a Bernoulli draw for the remainder) so a
    species with one eligible line is still removed with probability ``fraction``.
    """
    chosen = np.zeros(species.shape, dtype=bool)
    if fraction <= 0:
        return chosen
    for sp in sorted(set(species[eligible].tolist())):
        idx = np.flatnonzero(eligible & (species == sp))
        want = fraction * idx.size
        k = int(np.floor(want)) + int(rng.random() < want - np.floor(want))
        k = min(k, idx.size)
        if k:
            chosen[rng.choice(idx, size=k, replace=False)] = True
    return chosen


def loggf_perturbations(eligible: np.ndarray, fraction: float, scatter: float,
                        rng: np.random.Generator, species: np.ndarray) -> np.ndarray:
    """(nline,) Δlog gf (dex): ``fraction`` of the eligible lines per species get Normal(0, ``scatter``), others 0."""
    delta = np.zeros(eligible.shape)
    if scatter <= 0 or fraction <= 0:
        return delta
    pick = stratified_choice(species, eligible, fraction, rng)
    delta[pick] = rng.normal(0.0, scatter, size=int(pick.sum()))
    return delta


def blend_ratio(wavelength: np.ndarray, depth: np.ndarray, kept: np.ndarray, targets: np.ndarray,
                resolution: float) -> np.ndarray:
    """(ntarget,) depth of the deepest kept line within one resolution element over the target's own depth.

    wavelength: (nline,) Å sorted; depth: central depths, (nline,) at one star or (ntarget, nline) with row i
    the star at which target i is judged; kept: (nline,) bool; targets: indices of the lines to test; the
    window is |Δλ| <= λ / ``resolution``. 0 where no kept line is that close; >= 0.5 counts as blended.
    """
    depth = np.broadcast_to(np.asarray(depth), (targets.size, wavelength.size)) if np.ndim(depth) == 1 else depth
    kept_idx = np.flatnonzero(kept)
    kw = wavelength[kept_idx]
    out = np.zeros(targets.size)
    for i, t in enumerate(targets):
        half = wavelength[t] / resolution
        lo = np.searchsorted(kw, wavelength[t] - half, side="left")
        hi = np.searchsorted(kw, wavelength[t] + half, side="right")
        near = kept_idx[lo:hi]
        if near.size and depth[i, t] > 0:
            out[i] = float(depth[i, near].max() / depth[i, t])
    return out


def removed_table(linelist: pd.DataFrame, removed: np.ndarray, depth_ref: np.ndarray, depth_max: np.ndarray,
                  blend: np.ndarray, label_names: Sequence[str]) -> pd.DataFrame:
    """The truth table of removed lines: wavelength (vacuum Å), species, element, label, loggf, elow_ev,
    depth_ref (at the reference giant), depth_max (deepest over the observed stars), blend_ratio (see
    ``blend_ratio``, judged at the star where the line is deepest) and blended (blend_ratio >= 0.5)."""
    sub = linelist.loc[removed]
    elements = [line_element(s, e) for s, e in zip(sub["species"], sub["elements"])]
    return pd.DataFrame({
        "wavelength": sub["wavelength"].to_numpy(np.float64),
        "species": sub["species"].astype(str).to_numpy(),
        "element": np.array(elements, dtype=str),
        "label": np.array([element_to_label(e, label_names) for e in elements], dtype=str),
        "loggf": sub["loggf"].to_numpy(np.float64),
        "elow_ev": sub["elow_ev"].to_numpy(np.float64),
        "depth_ref": depth_ref[removed],
        "depth_max": depth_max[removed],
        "blend_ratio": blend,
        "blended": blend >= 0.5,
    })
