import numpy as np
import pytest

from gapviz.errors import GapvizError
from gapviz.labels import DEFAULT_LABELS
from gapviz.mock.population import label_box, latin_hypercube, observed_population

NAMES = DEFAULT_LABELS


def test_latin_hypercube_fills_box_one_star_per_stratum():
    n = 40
    labels = latin_hypercube(n, NAMES, np.random.default_rng(3))
    box = label_box(NAMES)
    assert labels.shape == (n, len(NAMES))
    unit = (labels - box[:, 0]) / (box[:, 1] - box[:, 0])
    assert np.all((unit >= 0) & (unit < 1))
    for j in range(len(NAMES)):
        strata = np.sort(np.floor(unit[:, j] * n).astype(int))
        assert np.array_equal(strata, np.arange(n))
    assert tuple(box[NAMES.index("teff")]) == (3800.0, 6000.0)
    assert tuple(box[NAMES.index("mg_fe")]) == (-0.3, 0.5)


def test_observed_population_realistic_and_inside_box():
    labels = observed_population(3000, NAMES, np.random.default_rng(5))
    box = label_box(NAMES)
    assert np.all(labels >= box[:, 0]) and np.all(labels <= box[:, 1])
    col = {n: labels[:, i] for i, n in enumerate(NAMES)}
    # [alpha/Fe] rises as [Fe/H] falls
    for name in ("o_fe", "mg_fe", "si_fe", "ca_fe", "ti_fe"):
        assert np.corrcoef(col["fe_h"], col[name])[0, 1] < -0.4, name
    dwarfs = col["logg"] > 4.0
    assert 0.12 < dwarfs.mean() < 0.28
    clump = (np.abs(col["teff"] - 4700) < 200) & (np.abs(col["logg"] - 2.4) < 0.2)
    assert clump.mean() > 0.15
    giants = col["logg"] < 3.7
    # on the giant branch cooler stars have lower gravity
    assert np.corrcoef(col["teff"][giants], col["logg"][giants])[0, 1] > 0.5
    # giant-branch mixing: lower-gravity giants are carbon-poorer and nitrogen-richer than dwarfs
    assert col["c_fe"][giants].mean() < col["c_fe"][dwarfs].mean() - 0.05
    assert col["n_fe"][giants].mean() > col["n_fe"][dwarfs].mean() + 0.1


def test_population_deterministic_for_seed():
    a = observed_population(50, NAMES, np.random.default_rng(1))
    b = observed_population(50, NAMES, np.random.default_rng(1))
    c = observed_population(50, NAMES, np.random.default_rng(2))
    assert np.array_equal(a, b)
    assert not np.allclose(a, c)


def test_unknown_label_and_bad_n():
    with pytest.raises(GapvizError, match="vmic"):
        label_box(("teff", "vmic"))
    with pytest.raises(GapvizError, match=">= 1"):
        observed_population(0, NAMES, np.random.default_rng(0))
