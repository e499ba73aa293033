"""Stellar label samplers for mock experiments: the theory grid's box and a realistic observed population.

Units: ``teff`` K, ``logg`` dex (cgs), ``fe_h`` and ``<x>_fe`` dex. Every sampler takes a
``numpy.random.Generator`` and returns an ``(n, len(label_names))`` float64 array, columns in
``label_names`` order, so one seed gives one set of labels.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.stats import truncnorm

from gapviz.errors import GapvizError
from gapviz.labels import DEFAULT_LABELS

#: The theory grid's label box (lo, hi), like a real synthetic grid: giants and dwarfs of FGK type.
#: Every [X/Fe] not listed spans ABUNDANCE_BOX.
SYNTHETIC_BOX: dict[str, tuple[float, float]] = {
    "teff": (3800.0, 6000.0),
    "logg": (0.5, 4.8),
    "fe_h": (-1.2, 0.4),
}
ABUNDANCE_BOX: tuple[float, float] = (-0.3, 0.5)

#: How strongly each alpha element follows the population's [alpha/Fe] (1 = fully).
ALPHA_WEIGHT: dict[str, float] = {"o_fe": 1.0, "mg_fe": 1.0, "si_fe": 0.8, "s_fe": 0.8, "ca_fe": 0.6, "ti_fe": 0.7}

#: Fractions of the observed population: red-giant branch, red clump, dwarfs.
POPULATION_FRACTIONS: dict[str, float] = {"rgb": 0.55, "clump": 0.25, "dwarf": 0.20}


def label_box(label_names: Sequence[str] = DEFAULT_LABELS) -> np.ndarray:
    """(nlabel, 2) lower and upper edge of the synthetic box for each label."""
    box = []
    for name in label_names:
        if name in SYNTHETIC_BOX:
            box.append(SYNTHETIC_BOX[name])
        elif name.endswith("_fe"):
            box.append(ABUNDANCE_BOX)
        else:
            raise GapvizError(f"mock: no synthetic box is defined for label {name!r}; known: teff, logg, fe_h, <x>_fe")
    return np.asarray(box, dtype=np.float64)


def latin_hypercube(n: int, label_names: Sequence[str], rng: np.random.Generator) -> np.ndarray:
    """(n, nlabel) labels filling the synthetic box by Latin-hypercube sampling (one stratum per star per label)."""
    box = label_box(label_names)
    unit = np.empty((n, len(label_names)))
    for j in range(len(label_names)):
        unit[:, j] = (rng.permutation(n) + rng.random(n)) / n
    return box[:, 0] + unit * (box[:, 1] - box[:, 0])


def _truncated(rng: np.random.Generator, mean: np.ndarray, sigma: float | np.ndarray, lo: float,
               hi: float) -> np.ndarray:
    """Normal(mean, sigma) draws truncated to [lo, hi] (no pile-up at the edges, unlike clipping)."""
    mean = np.asarray(mean, dtype=np.float64)
    sigma = np.broadcast_to(np.asarray(sigma, dtype=np.float64), mean.shape)
    # A mean far outside the box would make the truncated tail degenerate; pull it to the edge first.
    mean = np.clip(mean, lo, hi)
    a, b = (lo - mean) / sigma, (hi - mean) / sigma
    return truncnorm.rvs(a, b, loc=mean, scale=sigma, size=mean.shape, random_state=rng)


def observed_population(
    n: int, label_names: Sequence[str], rng: np.random.Generator, margin: float = 0.02
) -> np.ndarray:
    """(n, nlabel) labels of a realistic survey population, inside the synthetic box.

    Red-giant branch along teff ≈ 4650 + 380 (logg - 2.5) - 250 [Fe/H] K (60 K scatter), red clump at
    teff ≈ 4700 K, logg ≈ 2.4, and ~20 % dwarfs (logg ≈ 4.4-4.7). [Fe/H] from a thin (75 %, -0.05 ± 0.20)
    plus thick (25 %, -0.50 ± 0.25) disc; [alpha/Fe] falls with [Fe/H] (thick disc ≈ +0.25, thin ≈ 0) and each
    alpha element follows it with weight ALPHA_WEIGHT; giants show first-dredge-up and extra mixing:
    [C/Fe] falls and [N/Fe] rises as logg falls. Every label is kept ``margin`` (fraction of the box width)
    inside the synthetic box so label inference is never an extrapolation.
    """
    if n < 1:
        raise GapvizError(f"mock: the number of observed stars must be >= 1, got {n}")
    box = label_box(label_names)
    width = box[:, 1] - box[:, 0]
    inner = np.stack([box[:, 0] + margin * width, box[:, 1] - margin * width], axis=1)
    lim = {name: tuple(inner[j]) for j, name in enumerate(label_names)}
    lim.setdefault("teff", SYNTHETIC_BOX["teff"])
    lim.setdefault("logg", SYNTHETIC_BOX["logg"])
    lim.setdefault("fe_h", SYNTHETIC_BOX["fe_h"])
    ab_lo, ab_hi = ABUNDANCE_BOX[0] + margin * np.ptp(ABUNDANCE_BOX), ABUNDANCE_BOX[1] - margin * np.ptp(ABUNDANCE_BOX)

    kinds = np.array(list(POPULATION_FRACTIONS))
    p = np.array(list(POPULATION_FRACTIONS.values()))
    kind = rng.choice(kinds, size=n, p=p / p.sum())
    giant = kind != "dwarf"
    clump = kind == "clump"

    thick = rng.random(n) < 0.25
    fe_h = _truncated(rng, np.where(thick, -0.50, -0.05), np.where(thick, 0.25, 0.20), *lim["fe_h"])

    # logg: giants spread along the branch (more stars low on it), clump tight, dwarfs on the main sequence.
    logg_rgb = lim["logg"][0] + (3.6 - lim["logg"][0]) * rng.beta(2.0, 1.3, n)
    logg = np.where(clump, 2.4, np.where(giant, logg_rgb, 4.5))
    logg = _truncated(rng, logg, np.where(clump, 0.08, np.where(giant, 0.05, 0.12)), *lim["logg"])
    teff_rgb = 4650.0 + 380.0 * (logg - 2.5) - 250.0 * fe_h
    teff_dwarf = rng.uniform(4600.0, 5950.0, n)
    teff = np.where(clump, 4700.0 - 150.0 * fe_h, np.where(giant, teff_rgb, teff_dwarf))
    teff = _truncated(rng, teff, np.where(giant, 60.0, 40.0), *lim["teff"])
    if not np.all(giant):
        # Cooler dwarfs sit at higher gravity (main sequence): re-centre dwarf logg on teff.
        ms = 4.45 + 0.00025 * (5777.0 - teff)
        logg = np.where(giant, logg, _truncated(rng, ms, 0.08, *lim["logg"]))

    alpha = np.where(thick, 0.25 - 0.10 * (fe_h + 0.5), np.clip(-0.15 * fe_h, -0.05, 0.15))
    # Mixing on the giant branch: below logg 2.5 carbon drops and nitrogen rises further.
    deep = np.clip(2.5 - logg, 0.0, None)
    c_mean = np.where(giant, -0.10 - 0.08 * deep, 0.0)
    n_mean = np.where(giant, 0.20 + 0.10 * deep, 0.0)

    out = np.empty((n, len(label_names)))
    for j, name in enumerate(label_names):
        lo, hi = lim.get(name, (ab_lo, ab_hi))
        if name == "teff":
            out[:, j] = teff
        elif name == "logg":
            out[:, j] = logg
        elif name == "fe_h":
            out[:, j] = fe_h
        elif name == "c_fe":
            out[:, j] = _truncated(rng, c_mean, 0.06, lo, hi)
        elif name == "n_fe":
            out[:, j] = _truncated(rng, n_mean, 0.08, lo, hi)
        elif name in ALPHA_WEIGHT:
            out[:, j] = _truncated(rng, ALPHA_WEIGHT[name] * alpha, 0.04, lo, hi)
        elif name.endswith("_fe"):
            out[:, j] = _truncated(rng, np.zeros(n), 0.05, lo, hi)
        else:
            raise GapvizError(f"mock: no population model for label {name!r}; known: teff, logg, fe_h, <x>_fe")
    return out
