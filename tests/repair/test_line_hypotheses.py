"""gapviz.repair.line_hypotheses: the row a line of guessed species is built from."""

from __future__ import annotations

import pandas as pd

from gapviz.repair.line_hypotheses import species_row


def _table(rows):
    return pd.DataFrame(rows, columns=["wavelength", "species", "isotopes", "loggf", "elow_ev"])


def test_a_guessed_molecular_line_is_of_the_main_isotopologue_not_the_one_with_most_lines():
    # as in the H-band lists: more 12C18O lines than 12C16O ones
    co = _table([(15200.0 + i, "CO", "12,18", -5.0, 1.0) for i in range(5)]
                + [(15300.0 + i, "CO", "12,16", -6.0, 1.0) for i in range(3)]
                + [(15400.0, "CO", "13,16", -6.0, 1.0)])
    assert species_row("CO", (co,))["isotopes"] == "12,16"


def test_isotopologues_of_unknown_share_fall_back_to_the_commonest():
    odd = _table([(15200.0, "CO", "12,99", -5.0, 1.0), (15201.0, "CO", "12,99", -5.0, 1.0),
                  (15202.0, "CO", "12,98", -5.0, 1.0)])
    assert species_row("CO", (odd,))["isotopes"] == "12,99"
    atoms = _table([(15200.0, "Fe I", "", -1.0, 5.0)])
    row = species_row("Fe I", (None, atoms))
    assert row["species"] == "Fe I" and row["isotopes"] == ""
