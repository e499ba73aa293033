"""Leave-one-out check of the MARCS interpolation in ``gapviz.theory.marcs`` (the table of docs/MARCS.md).

Each interior node of a box of the grid is rebuilt from its neighbours as if it were missing (along one axis,
or along all three at once) and compared with the real node model at equal lgTau5.

``python -m gapviz.theory.marcs`` (or ``python -m gapviz.theory.marcs_validate``) prints the table.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gapviz.errors import GapvizError
from gapviz.theory import marcs
from gapviz.theory.marcs import (
    _NODE_TOL,
    K_BOLTZMANN,
    LABELS,
    ModelAtmosphere,
    _Grid,
    interpolate,
    node_model,
    node_weights,
    short_name,
)

GIANT_RANGE = {"teff": (3800.0, 5200.0), "logg": (1.0, 3.0), "fe_h": (-1.0, 0.25)}
VALIDATION_TAU5 = (-4.0, 1.0)


def leave_one_out(grid: _Grid, row: int, drop: tuple[str, ...]) -> ModelAtmosphere:
    """Node ``row`` interpolated from its neighbours on the ``drop`` axes as if it were missing from them."""
    node = grid.nodes.iloc[row]
    axes = tuple(axis[np.abs(axis - node[label]) > _NODE_TOL] if label in drop else axis
                 for axis, label in zip(grid.axes, LABELS))
    used = node_weights(grid, node.teff, node.logg, node.fe_h, axes=axes)
    return interpolate(grid, used, node.teff, node.logg, node.fe_h)


def compare_models(predicted: ModelAtmosphere, true: ModelAtmosphere,
                   tau5_range: tuple[float, float] = VALIDATION_TAU5) -> dict[str, float]:
    """Largest |ΔT| (K), |Δlog Pe|, |Δlog Pg| (dex) on the true model's depths with lgTau5 in ``tau5_range``.

    Compared at equal lgTau5 (the predicted model is put on the true one's lgTau5 points), the depth scale
    the synthesis works on.
    """
    true_lg5, pred_lg5 = np.log10(true.tau5), np.log10(predicted.tau5)
    keep = (true_lg5 > tau5_range[0]) & (true_lg5 < tau5_range[1])

    def on_true(values: np.ndarray) -> np.ndarray:
        return np.interp(true_lg5[keep], pred_lg5, values)

    def log_pe(model: ModelAtmosphere) -> np.ndarray:
        return np.log10(model.xne * K_BOLTZMANN * model.temp)

    def log_pg(model: ModelAtmosphere) -> np.ndarray:
        return np.log10((model.xne + model.xna) * K_BOLTZMANN * model.temp)

    return {"dT": float(np.max(np.abs(on_true(predicted.temp) - true.temp[keep]))),
            "dlogPe": float(np.max(np.abs(on_true(log_pe(predicted)) - log_pe(true)[keep]))),
            "dlogPg": float(np.max(np.abs(on_true(log_pg(predicted)) - log_pg(true)[keep])))}


def interior_nodes(grid: _Grid, box: dict[str, tuple[float, float]] = GIANT_RANGE) -> list[int]:
    """Rows of the nodes inside ``box`` whose neighbours on every axis are inside ``box`` too."""
    rows = []
    for row, node in enumerate(grid.nodes.itertuples()):
        inside = True
        for axis, label in zip(grid.axes, LABELS):
            low, high = box[label]
            i = int(np.searchsorted(axis, getattr(node, label)))
            if not (0 < i < len(axis) - 1 and axis[i - 1] >= low - _NODE_TOL and axis[i + 1] <= high + _NODE_TOL):
                inside = False
        if inside:
            rows.append(row)
    return rows


def validation_table(box: dict[str, tuple[float, float]] = GIANT_RANGE) -> pd.DataFrame:
    """Leave-one-out errors over the interior nodes of ``box``, per left-out axis and all three at once.

    One row per case: nodes, typical (median over nodes) and worst of each node's largest |ΔT|, |Δlog Pe|,
    |Δlog Pg| over −4 < lgTau5 < 1, and the worst node. Holes among the neighbours skip that node.
    """
    grid = marcs._grid()
    cases = {"teff": ("teff",), "logg": ("logg",), "fe_h": ("fe_h",), "all three": LABELS}
    rows = []
    for case, drop in cases.items():
        errors, names = [], []
        for row in interior_nodes(grid, box):
            try:
                predicted = leave_one_out(grid, row, drop)
            except GapvizError:
                continue
            errors.append(compare_models(predicted, node_model(grid, row)))
            names.append(short_name(grid.nodes.filename.iloc[row]))
        frame = pd.DataFrame(errors)
        worst = int(frame["dT"].idxmax())
        rows.append({"left out": case, "nodes": len(frame),
                     "dT median": frame["dT"].median(), "dT worst": frame["dT"].max(),
                     "dlogPe median": frame["dlogPe"].median(), "dlogPe worst": frame["dlogPe"].max(),
                     "dlogPg median": frame["dlogPg"].median(), "dlogPg worst": frame["dlogPg"].max(),
                     "worst dT node": names[worst]})
    return pd.DataFrame(rows)


def validate_interpolation() -> pd.DataFrame:
    """Print and return the leave-one-out table (docs/MARCS.md)."""
    table = validation_table()
    with pd.option_context("display.width", 200, "display.max_columns", 20, "display.float_format", "{:.3f}".format):
        print(f"MARCS leave-one-out, interior nodes of teff {GIANT_RANGE['teff']}, logg {GIANT_RANGE['logg']}, "
              f"fe_h {GIANT_RANGE['fe_h']}; neighbours two steps apart; largest error per node over "
              f"{VALIDATION_TAU5[0]:g} < lgTau5 < {VALIDATION_TAU5[1]:g}, at equal lgTau5 (K, dex)")
        print(table.to_string(index=False))
    return table


if __name__ == "__main__":
    validate_interpolation()
