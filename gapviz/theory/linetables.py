"""The constant tables ``LineModel`` is built from (numpy, computed once per model; docs in ``linemodel``).

``species_groups``: which group each line belongs to (an element's neutral+ion stages, or one molecule), the
abundance matrix [X/H] = labels @ amat, and each group's ionisation, partition-function, dissociation and
opacity constants. ``excitation_columns``: the (group, excitation node) columns that lines are summed into,
so that a spectrum is one sparse matmul.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from gapviz.errors import GapvizError
from gapviz.io.linelist import ATOMIC_NUMBER, parse_species
from gapviz.labels import label_info
from gapviz.theory.abundances import element_constants, partition_functions

LOG_U_RATIO_PER_BOND = -1.5  # log10(U_A U_B / U_AB) per bond: CO at 4000 K (U_C U_O ≈ 81, U_CO ≈ 2700)
#: extra bond energy (eV) to add to the line list's D0 to get the atomisation energy of polyatomics
ATOMISATION_EXTRA_EV = {"H2O": 4.411}
#: log10 opacity constants: "atoms" for every atomic line, one per molecule (see ``linemodel``'s docstring)
CALIBRATION: dict[str, float] = {
    "atoms": 14.442, "CO": 18.73, "OH": 19.131, "CN": 16.679, "C2": 23.642, "HF": 20.439, "HCl": 22.372,
    "H2O": 17.426, "FeH": 16.91, "molecules": 12.0,  # "molecules": any other molecule (CH, TiO, ...)
}
CHI_STEP = 0.04  # eV, excitation-energy node spacing of the binned profile matrix


@dataclass(frozen=True)
class SpeciesGroups:
    """Per-group (ngroup,) and per-line (nline,) constants of a line list; nelem = len(elements)."""

    group_keys: list[str]  # "Fe:0" (neutral), "Fe:1" (ion) or the molecule's species name
    elements: list[str]  # every element of the lines, by atomic number
    line_group: np.ndarray  # (nline,) int, index into group_keys
    line_is_mol: list  # (nline,) bool
    line_mass: np.ndarray  # (nline,) u, of the line's absorber (sum over its atoms)
    amat: np.ndarray  # (nlabel, nelem): [X/H] = labels @ amat
    solar: np.ndarray  # (nelem,) solar A(X)
    is_mol: np.ndarray  # (ngroup,) bool
    elem: np.ndarray  # (ngroup,) int, the atom's element index
    ion: np.ndarray  # (ngroup,) 0 neutral, 1 ion
    chi_ion: np.ndarray  # (ngroup,) eV, ionisation energy
    log_u: np.ndarray  # (ngroup, 2) log10 (U_I, U_II) at 5000 K
    stoich: np.ndarray  # (nelem, ngroup) atoms of each element in a molecule
    logk0: np.ndarray  # (ngroup,) constant part of the molecule's log10 dissociation constant
    d0: np.ndarray  # (ngroup,) eV, atomisation energy
    calib: np.ndarray  # (ngroup,) log10 opacity constant C_s
    pmin_idx: np.ndarray  # (ngroup, 3) int, a molecule's constituent elements (for its scarcest one)
    pmin_off: np.ndarray  # (ngroup, 3) log10 of their counts; -inf pads
    nbond: list[int]  # (ngroup,) bonds per molecule, 0 for atoms


def species_groups(lines: pd.DataFrame, label_names: Sequence[str]) -> SpeciesGroups:
    """The groups of ``lines`` (contract table of ``gapviz.io.linelist``) and their constants.

    GapvizError when a species cannot be parsed or a molecule has no dissociation energy ``d0_ev``.
    """
    atoms, ions, mols = [], [], []
    for s in lines["species"]:
        try:
            a, i, m = parse_species(s)
        except ValueError as exc:
            raise GapvizError(f"LineModel: line list: {exc}") from None
        atoms.append(a), ions.append(i), mols.append(m)
    d0 = lines["d0_ev"].to_numpy(float) if "d0_ev" in lines else np.full(len(lines), np.nan)
    keys = [(s if m else f"{a[0]}:{min(i, 1)}") for s, a, i, m in zip(lines["species"], atoms, ions, mols)]
    group_keys = list(dict.fromkeys(keys))
    gindex = {k: j for j, k in enumerate(group_keys)}
    elements = sorted({e for a in atoms for e in a}, key=ATOMIC_NUMBER.get)
    eindex = {e: j for j, e in enumerate(elements)}
    consts = {e: element_constants(e) for e in elements}
    ne, ng = len(elements), len(group_keys)

    # element abundances: [X/H] = labels @ abund_matrix
    amat = np.zeros((len(label_names), ne))
    for e, j in eindex.items():
        if e in ("H", "He"):
            continue
        for k, name in enumerate(label_names):
            el = label_info(name).element
            if name == "fe_h" or (el == e and name != "fe_h"):
                amat[k, j] = 1.0
    solar = np.array([consts[e][0] for e in elements])

    # groups: atoms (element, ion) and molecules
    first = {k: keys.index(k) for k in group_keys}
    is_mol = np.array([mols[first[k]] for k in group_keys])
    g_elem, g_ion, g_chi_ion = np.zeros(ng, dtype=int), np.zeros(ng), np.zeros(ng)
    g_log_u = np.zeros((ng, 2))  # log10 (U_I, U_II)
    stoich = np.zeros((ne, ng))
    g_logk0, g_d0, calib = np.zeros(ng), np.zeros(ng), np.zeros(ng)
    pmin_idx = np.zeros((ng, 3), dtype=int)
    pmin_off = np.full((ng, 3), -np.inf)  # padding: log_p - (-inf) = +inf never wins the min
    for k, j in gindex.items():
        line0 = first[k]
        a = atoms[line0]
        if not is_mol[j]:
            g_elem[j] = eindex[a[0]]
            g_ion[j] = min(ions[line0], 1)
            g_chi_ion[j] = consts[a[0]][1]
            g_log_u[j] = np.log10(partition_functions(a[0]))
            calib[j] = CALIBRATION["atoms"]
            continue
        counts: dict[str, int] = {}
        for e in a:
            counts[e] = counts.get(e, 0) + 1
        for slot, (e, c) in enumerate(list(counts.items())[:3]):
            stoich[eindex[e], j] = c
            pmin_idx[j, slot] = eindex[e]
            pmin_off[j, slot] = math.log10(c)
        masses = [consts[e][2] for e in a]
        mu = float(np.prod(masses) / np.sum(masses)) if len(a) == 2 else float(np.sum(masses))
        nbond = len(a) - 1
        g_logk0[j] = nbond * (4.414 + LOG_U_RATIO_PER_BOND) + 1.5 * math.log10(mu)
        if not np.isfinite(d0[line0]):
            raise GapvizError(f"LineModel: line list: molecule {k} has no dissociation energy d0_ev")
        g_d0[j] = d0[line0] + ATOMISATION_EXTRA_EV.get(k, 0.0)
        calib[j] = CALIBRATION.get(k, CALIBRATION["molecules"])
    return SpeciesGroups(
        group_keys=group_keys, elements=elements, line_group=np.array([gindex[k] for k in keys]),
        line_is_mol=mols, line_mass=np.array([sum(consts[e][2] for e in a) for a in atoms]),
        amat=amat, solar=solar, is_mol=is_mol, elem=g_elem, ion=g_ion, chi_ion=g_chi_ion, log_u=g_log_u,
        stoich=stoich, logk0=g_logk0, d0=g_d0, calib=calib, pmin_idx=pmin_idx, pmin_off=pmin_off,
        nbond=[len(atoms[first[k]]) - 1 if is_mol[j] else 0 for k, j in gindex.items()],
    )


@dataclass(frozen=True)
class ExcitationColumns:
    """Where each line goes: two (group, excitation node) columns with weights; ncolumn = len(scale)."""

    col0: np.ndarray  # (nline,) int, the column of the node below the line's χ
    col1: np.ndarray  # (nline,) int, the node above
    w0: np.ndarray  # (nline,) weight into col0, relative to the column's scale
    w1: np.ndarray  # (nline,) weight into col1
    group: np.ndarray  # (ncolumn,) int, the column's species group
    chi: np.ndarray  # (ncolumn,) eV, the column's excitation node
    scale: np.ndarray  # (ncolumn,) log10 of the column's largest line amplitude, for float32 range


def excitation_columns(chi: np.ndarray, group: np.ndarray, base: np.ndarray) -> ExcitationColumns:
    """Sum lines into (species group, excitation node) columns: one strength per column per star.

    ``chi`` (nline,) eV effective excitation energy, ``group`` (nline,) group index, ``base`` (nline,) log10
    of the line's amplitude. A line at χ between nodes χ_j < χ < χ_j+1 goes to both with linear weights,
    which interpolates 10^(−θ χ) to better than 1 % (node step ``CHI_STEP``; θ ≤ 2).
    """
    pos = chi / CHI_STEP
    node = np.floor(pos).astype(np.int64)
    frac = pos - node
    nnode = int(node.max()) + 2
    keys = np.concatenate([group * nnode + node, group * nnode + node + 1])
    uniq, inverse = np.unique(keys, return_inverse=True)
    col0, col1 = inverse[: node.size], inverse[node.size:]
    scale = np.full(uniq.size, -np.inf)
    np.maximum.at(scale, col0, base)
    np.maximum.at(scale, col1, base)
    w0 = (1.0 - frac) * 10.0 ** (base - scale[col0])
    w1 = frac * 10.0 ** (base - scale[col1])
    return ExcitationColumns(col0, col1, w0, w1, group=uniq // nnode, chi=(uniq % nnode) * CHI_STEP, scale=scale)
