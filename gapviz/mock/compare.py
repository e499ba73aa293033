"""Is a regenerated mock experiment the same data? Compare two ``gapviz mock`` folders, exactly or within a
stated ``Tolerance``.

One seed on one machine gives byte-identical files. Across machines and library versions the last bits of
a few numbers may differ: the line model runs in float32 torch (its vector kernels depend on the CPU) and the
observed population goes through numpy/scipy transcendental functions. Every stored flux is rounded to a
fixed step (``SYNTHETIC_STEP``, ``OBSERVED_STEP``; flux_err to ``ERR_BITS`` significant bits), so such a
difference moves a value by at most one step, and only where it sat on a rounding boundary.

What a ``Tolerance`` may loosen (all 0 in ``EXACT``), everything else is always compared exactly:

- ``flux_steps``: synthetic and observed ``/flux``, in stored steps;
- ``flux_err_steps``: observed ``/flux_err``, in steps of its stored relative precision (2^-ERR_BITS of the
  value's binary exponent); which pixels are bad (flux_err = inf) stays exact;
- ``model_rtol``: the truth numbers the float32 line model computes: ``/removed/{depth_ref, depth_max,
  blend_ratio}``;
- ``chi2_rtol``: ``/chi2nu_theory_true``;
- ``label_rtol``: the observed stars' true labels, ``truth.h5:/labels/*`` (scipy's truncated normal).

Exact always: the two line-list CSVs (bytes), wavelengths, star ids, S/N, the synthetic labels (Latin
hypercube: plain arithmetic), which lines were removed or perturbed and their line data, ``blended``, every
attribute (``command`` up to its output folder), dataset names, shapes and dtypes.
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from gapviz.mock.experiment import ERR_BITS, OBSERVED_STEP, OUTPUT_FILES, SYNTHETIC_STEP

FLUX_STEP = {"synthetic.h5": SYNTHETIC_STEP, "observed.h5": OBSERVED_STEP}
MODEL_COLUMNS = ("removed/depth_ref", "removed/depth_max", "removed/blend_ratio")


@dataclass(frozen=True)
class Tolerance:
    """How far a regenerated mock may differ and still be the same data (see the module docstring)."""

    flux_steps: float = 0.0
    flux_err_steps: float = 0.0
    model_rtol: float = 0.0
    chi2_rtol: float = 0.0
    label_rtol: float = 0.0


EXACT = Tolerance()


def mock_differences(expected: str | os.PathLike, actual: str | os.PathLike, tol: Tolerance = EXACT) -> list[str]:
    """One line per difference between the mock folders ``expected`` and ``actual`` beyond ``tol``
    (an empty list: the same data)."""
    expected, actual = Path(expected), Path(actual)
    problems = []
    for name in OUTPUT_FILES:
        a, b = expected / name, actual / name
        if not (a.is_file() and b.is_file()):
            problems.append(f"{name}: missing in {a.parent if not a.is_file() else b.parent}")
        elif name.endswith(".csv"):
            if a.read_bytes() != b.read_bytes():
                problems.append(f"{name}: the bytes differ")
        else:
            problems += _h5_differences(name, a, b, tol)
    return problems


def _read(path: Path) -> tuple[dict[str, np.ndarray], dict]:
    data = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda k, v: data.__setitem__(k, v[()]) if isinstance(v, h5py.Dataset) else None)
        attrs = dict(f.attrs)
    if "command" in attrs:  # the same command, written to another folder
        words = shlex.split(str(attrs["command"]))
        attrs["command"] = words[:2] + words[3:]
    return data, attrs


def _allowed(name: str, key: str, expected: np.ndarray, tol: Tolerance) -> tuple[np.ndarray | float, str]:
    """The largest |difference| allowed at each value of ``name:/key`` and how to say it."""
    if key == "flux":
        return tol.flux_steps * FLUX_STEP[name], f"{tol.flux_steps:g} step(s) of {FLUX_STEP[name]:.3g}"
    if name == "observed.h5" and key == "flux_err":
        _, exponent = np.frexp(expected.astype(np.float64))
        step = np.ldexp(1.0, exponent - ERR_BITS)
        return tol.flux_err_steps * step, f"{tol.flux_err_steps:g} step(s) of 2^-{ERR_BITS} relative"
    rtol = 0.0
    if name == "truth.h5":
        rtol = (tol.model_rtol if key in MODEL_COLUMNS else tol.chi2_rtol if key == "chi2nu_theory_true"
                else tol.label_rtol if key.startswith("labels/") else 0.0)
    return rtol * np.abs(expected.astype(np.float64)), f"relative {rtol:g}"


def _h5_differences(name: str, a: Path, b: Path, tol: Tolerance) -> list[str]:
    (da, attrs_a), (db, attrs_b) = _read(a), _read(b)
    problems = [f"{name}: attribute {k} is {attrs_a.get(k)!r} here, {attrs_b.get(k)!r} there"
                for k in sorted(attrs_a.keys() | attrs_b.keys())
                if not np.array_equal(np.asarray(attrs_a.get(k)), np.asarray(attrs_b.get(k)))]
    if da.keys() != db.keys():
        problems.append(f"{name}: datasets {sorted(da.keys() ^ db.keys())} are in one file only")
    for key in sorted(da.keys() & db.keys()):
        x, y = da[key], db[key]
        if x.dtype != y.dtype or x.shape != y.shape:
            problems.append(f"{name}:/{key}: {x.dtype}{x.shape} here, {y.dtype}{y.shape} there")
        elif x.dtype.kind != "f":
            if not np.array_equal(x, y):
                problems.append(f"{name}:/{key}: {int(np.sum(x != y))} of {x.size} values differ")
        else:
            with np.errstate(invalid="ignore"):
                problems += _float_differences(f"{name}:/{key}", x, y, *_allowed(name, key, x, tol))
    return problems


def _float_differences(what: str, x: np.ndarray, y: np.ndarray, allowed, allowed_text: str) -> list[str]:
    finite = np.isfinite(x)
    if not (np.array_equal(finite, np.isfinite(y)) and np.array_equal(x[~finite], y[~finite], equal_nan=True)):
        return [f"{what}: the non-finite values (bad pixels: flux_err = inf) differ"]
    diff = np.abs(x.astype(np.float64) - y.astype(np.float64))
    over = finite & (diff > allowed)
    if not over.any():
        return []
    beyond = f" by more than {allowed_text}" if np.any(allowed) else ""
    return [(f"{what}: {int(over.sum())} of {x.size} values differ{beyond} "
             f"(up to {diff[finite].max():.3g}; {np.mean(diff[finite] > 0):.2%} differ at all)")]
