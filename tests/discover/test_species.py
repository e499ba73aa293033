"""Species-behaviour attribution: a missing line goes to the species whose known lines vary like it."""

from __future__ import annotations

import numpy as np
import pandas as pd

from gapviz.discover.detect import FWHM_TO_SIGMA
from gapviz.discover.species import attribute_species, clean_lines, species_label, species_patterns

R = 22500.0
WL = np.arange(15200.0, 15260.0, 0.2)
NAMES = ["teff", "logg", "fe_h", "c_fe", "o_fe"]
KNOWN = {"CO": [15205.0, 15212.0, 15219.0], "OH": [15226.0, 15233.0], "Fe I": [15240.0, 15247.0]}
MISSING = {"CO": 15215.4, "OH": 15229.6}  # lines the theory lacks, each following its species


def _profile(at: float) -> np.ndarray:
    sig = at / R * FWHM_TO_SIGMA
    return np.exp(-0.5 * ((WL - at) / sig) ** 2)


def _depths(labels: np.ndarray) -> dict[str, np.ndarray]:
    """Per-star central depth of one line of each species (n,): CO follows [C/Fe] and teff, OH [O/Fe]..."""
    teff, fe_h, c_fe, o_fe = labels[:, 0], labels[:, 2], labels[:, 3], labels[:, 4]
    cool = (5000.0 - teff) / 1000.0
    return {"CO": 0.08 * (1 + 2.0 * c_fe) * (1 + cool), "OH": 0.08 * (1 + 2.0 * o_fe) * (1 + 2 * cool),
            "Fe I": 0.08 * (1 + 1.5 * fe_h)}


def _case(seed: int = 0, n: int = 400, snr: float = 100.0):
    rng = np.random.default_rng(seed)
    labels = np.column_stack([rng.uniform(4000, 5000, n), rng.uniform(1, 3, n), rng.normal(0, 0.2, n),
                              rng.normal(0, 0.15, n), rng.normal(0, 0.15, n)])
    d = _depths(labels)
    theory = 1.0 - sum(d[sp][:, None] * _profile(w)[None, :] for sp, ws in KNOWN.items() for w in ws)
    observed = theory - sum(d[sp][:, None] * _profile(w)[None, :] for sp, w in MISSING.items())
    observed = observed + rng.normal(0, 1.0 / snr, observed.shape)
    rows = [(w, sp) for sp, ws in KNOWN.items() for w in ws]
    lines = pd.DataFrame({"wavelength": [r[0] for r in rows], "species": [r[1] for r in rows],
                          "elements": [{"CO": "C,O", "OH": "O,H", "Fe I": "Fe"}[r[1]] for r in rows]})
    return lines, observed, observed - theory


def _candidates(at: list[float], depth: float = 0.08) -> pd.DataFrame:
    return pd.DataFrame({"wavelength": at, "pixel": [int(np.argmin(np.abs(WL - w))) for w in at],
                         "depth": [depth] * len(at)})


def test_species_label_is_the_limiting_element():
    assert species_label("CO", "C,O", NAMES) == "c_fe"
    assert species_label("OH", "O,H", NAMES) == "o_fe"
    assert species_label("CN", "C,N", NAMES) == "fe_h"  # no n_fe label here: N scales with [Fe/H]
    assert species_label("Fe I", "Fe", NAMES) == "fe_h"


def test_missing_line_goes_to_the_species_it_varies_like():
    lines, observed, residual = _case()
    known = species_patterns(observed, WL, lines, np.full(len(lines), 0.08), NAMES, R)
    assert known.species == ["CO", "Fe I", "OH"] and known.label == ["c_fe", "fe_h", "o_fe"]
    out = attribute_species(_candidates([MISSING["CO"], MISSING["OH"]]), residual, known)
    assert out["attributed_species"].tolist() == ["CO", "OH"]
    assert out["attributed_label"].tolist() == ["c_fe", "o_fe"]
    assert (out["attribution_confidence"] > 0.05).all()


def test_feature_unlike_any_species_is_none():
    lines, observed, residual = _case(seed=1)
    known = species_patterns(observed, WL, lines, np.full(len(lines), 0.08), NAMES, R)
    # a dip that gets *shallower* wherever every known species gets deeper: no positive correlation
    rng = np.random.default_rng(2)
    at = int(np.argmin(np.abs(WL - 15255.0)))
    residual = residual.copy()
    shallower = 0.3 * (known.pattern.mean(axis=1) - 1.0)
    residual[:, at - 1:at + 2] = shallower[:, None] + rng.normal(0, 1e-3, (len(residual), 3))
    out = attribute_species(_candidates([WL[at]]), residual, known)
    assert out["attributed_label"].iloc[0] == "none" and out["attribution_confidence"].iloc[0] == 0.0


def test_blended_or_weak_lines_do_not_make_a_pattern():
    lines = pd.DataFrame({"wavelength": [15210.0, 15210.3, 15220.0, 15230.0], "species": ["CO", "CN", "OH", "Fe I"]})
    depth = np.array([0.05, 0.2, 0.01, 0.1])  # CO swamped by CN 0.3 Å away; OH too weak
    assert clean_lines(lines, depth, WL, R).tolist() == [False, True, False, True]
