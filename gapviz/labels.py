"""Stellar labels: names, units and the element each abundance label follows.

Names are the ones used everywhere (files, tables, the store): ``teff`` (K), ``logg`` (dex, cgs),
``fe_h`` ([Fe/H], dex) and ``<x>_fe`` ([X/Fe], dex).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class LabelInfo:
    name: str
    long_name: str
    units: str
    element: str | None  # the element whose abundance the label sets (None for teff, logg)
    lo: float  # physically sensible range, used to reject out-of-range input
    hi: float


LABELS: dict[str, LabelInfo] = {
    info.name: info
    for info in [
        LabelInfo("teff", "effective temperature", "K", None, 2500.0, 10000.0),
        LabelInfo("logg", "surface gravity log10(g / cm s-2)", "dex", None, -1.0, 6.0),
        LabelInfo("fe_h", "[Fe/H]", "dex", "Fe", -5.0, 1.5),
        LabelInfo("c_fe", "[C/Fe]", "dex", "C", -2.0, 2.0),
        LabelInfo("n_fe", "[N/Fe]", "dex", "N", -2.0, 2.0),
        LabelInfo("o_fe", "[O/Fe]", "dex", "O", -2.0, 2.0),
        LabelInfo("mg_fe", "[Mg/Fe]", "dex", "Mg", -2.0, 2.0),
        LabelInfo("al_fe", "[Al/Fe]", "dex", "Al", -2.0, 2.0),
        LabelInfo("si_fe", "[Si/Fe]", "dex", "Si", -2.0, 2.0),
        LabelInfo("k_fe", "[K/Fe]", "dex", "K", -2.0, 2.0),
        LabelInfo("ca_fe", "[Ca/Fe]", "dex", "Ca", -2.0, 2.0),
        LabelInfo("ti_fe", "[Ti/Fe]", "dex", "Ti", -2.0, 2.0),
        LabelInfo("mn_fe", "[Mn/Fe]", "dex", "Mn", -2.0, 2.0),
        LabelInfo("ni_fe", "[Ni/Fe]", "dex", "Ni", -2.0, 2.0),
    ]
}

#: The labels the mock experiments and the default recipes use, in this order.
DEFAULT_LABELS: tuple[str, ...] = (
    "teff", "logg", "fe_h", "c_fe", "n_fe", "o_fe", "mg_fe", "si_fe", "ca_fe", "ti_fe", "ni_fe",
)


def element_label(element: str) -> str | None:
    """The label that sets ``element``'s abundance (``"Mg"`` → ``"mg_fe"``, ``"Fe"`` → ``"fe_h"``), if any."""
    for info in LABELS.values():
        if info.element == element:
            return info.name
    return None


def label_info(name: str) -> LabelInfo:
    """Metadata for ``name``; unknown ``x_fe`` names get a generic abundance entry."""
    if name in LABELS:
        return LABELS[name]
    if name.endswith("_fe"):
        el = name[:-3].capitalize()
        return LabelInfo(name, f"[{el}/Fe]", "dex", el, -2.0, 2.0)
    return LabelInfo(name, name, "1", None, -float("inf"), float("inf"))


#: The element whose label drives each molecule's lines (mock truth tables, the finder's attribution):
#: the limiting (less abundant) constituent with a label. CN is limited by N (C is ~4x more abundant), CO by C (O is ~2x more abundant),
#: OH and H2O by O, FeH by Fe, C2 by C.
MOLECULE_ELEMENT: dict[str, str] = {"CN": "N", "CO": "C", "OH": "O", "H2O": "O", "FeH": "Fe", "C2": "C"}

#: Elements whose abundance does not follow [Fe/H] in the theory (so no label drives them).
UNSCALED_ELEMENTS: frozenset[str] = frozenset({"H", "He"})


def line_element(species: str, elements: str) -> str:
    """The element a line's strength follows: the atom itself, or MOLECULE_ELEMENT for molecules.

    ``elements`` is the comma-joined constituent list ("C,N"). Unknown molecules take their first
    constituent other than H.
    """
    if species in MOLECULE_ELEMENT:
        return MOLECULE_ELEMENT[species]
    parts = [e.strip() for e in str(elements).split(",") if e.strip()]
    if len(parts) > 1:
        heavy = [e for e in parts if e != "H"]
        return heavy[0] if heavy else parts[0]
    return parts[0] if parts else ""


def element_to_label(element: str, label_names: Sequence[str]) -> str:
    """The experiment label that drives ``element``: its own [X/Fe] label if the experiment has it, else
    ``fe_h`` (elements without a label scale with [Fe/H] in the theory), "" for H and He."""
    own = element_label(element)
    if own is not None and own in label_names:
        return own
    if element in UNSCALED_ELEMENTS or not element or "fe_h" not in label_names:
        return ""
    return "fe_h"
