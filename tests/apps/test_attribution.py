"""apps.attribution: a candidate's attribution read as the store holds it."""

from __future__ import annotations

import numpy as np
import pandas as pd

from apps.attribution import Attribution, stored_attribution


def test_read_from_the_stored_columns(tiny_store, data_of, raw):
    att = stored_attribution(data_of(tiny_store).candidates, 3)
    assert att == Attribution(label=str(raw("candidate_attributed_label")[3]),
                              species=str(raw("candidate_attributed_species")[3]),
                              chi=float(raw("candidate_attributed_chi")[3]),
                              confidence=float(raw("candidate_attribution_confidence")[3]))


def test_missing_parts_read_as_none():
    table = pd.DataFrame({"wavelength": [1.0, 2.0], "attributed_label": ["none", "teff"],
                          "attributed_species": ["", "nan"], "attribution_confidence": [0.2, 0.7]})
    att = stored_attribution(table, 1)
    assert (att.label, att.species, att.confidence) == ("teff", "", 0.7) and np.isnan(att.chi)
    assert att.follows() == "follows **teff** (confidence 0.70)"
    assert stored_attribution(table, 0).label == "none"
    assert stored_attribution(table, 2) is None and stored_attribution(table, -1) is None
    assert stored_attribution(table.drop(columns="attributed_label"), 0) is None


def test_follows_names_species_and_excitation():
    att = Attribution(label="mg_fe", species="Mg I", chi=5.39, confidence=0.83)
    assert att.follows() == "follows **mg_fe**, star to star like a Mg I line of χ ≈ 5.4 eV (confidence 0.83)"
    assert Attribution("logg", "CN", float("nan"), 0.5).follows() == \
        "follows **logg**, star to star like a CN line (confidence 0.50)"
