"""How far can a repaired list take the labels? The label bias with the mock's complete list: the floor.

    python benchmarks/repair_label_floor.py runs/sme2/store data_samples/mock_sme [--repair REPAIR_DIR]
    python benchmarks/repair_label_floor.py runs/lm2/store data_samples/mock

For a store made from a ``gapviz mock`` (MOCK_DIR holds ``linelist.csv``, the theory's list;
``reference_linelist.csv``, the complete one; and ``truth.h5``) it refits the same stars the repair uses the
way ``gapviz repair``'s loop does (``gapviz.adapt.broadening.fit_broadening``, warm, the changes'
transmission held at the labels of the fit before) through:

* the plain theory with no broadening (what the loop did before the broadening was fitted);
* the plain theory, broadening fitted (the loop's yardstick, "before" in ``gapviz score``);
* from that fit's labels, ``PASSES`` times, the theory with the truth's complete list: every removed line added and every perturbed log gf put back,
  broadening fitted: the floor a perfect repair would reach with this emulator and LineModel's opacity;
* with ``--repair``, that repair's list, the same way;
* with ``--theory linemodel`` (as ``gapviz repair --theory linemodel``) all the rows above go through LineModel
  with the mock's theory list in the emulator's place (``gapviz.adapt.theory_fit.LineModelTheory``);
* on a LineModel mock (the truth's ``physics`` attribute) with the emulator, where the theory is exact and can
  be re-synthesised, the same stars fitted through LineModel itself instead of the emulator: with the complete
  list at the observed resolving power (the fitting floor: noise and continuum error only), with the complete
  list at the theory's, broadening fitted (what the flux-space broadening adds), and with the original list,
  broadening fitted (beside "plain, broadening fitted": what the emulator's own error adds to the labels);

and prints the median label − truth of each beside the target (|teff| ≤ 50 K, |logg| ≤ 0.1, |[X/Fe]| ≤ 0.05).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from gapviz.adapt.broadening import fit_broadening
from gapviz.adapt.theory_fit import THEORIES
from gapviz.errors import GapvizError
from gapviz.evaluate.repair_score import label_target
from gapviz.io.linelist import read_linelist
from gapviz.mock.truth import read_truth
from gapviz.repair.population import load_population
from gapviz.repair.refit import held_refit
from gapviz.repair.review import read_repaired
from gapviz.store.open import open_store
from gapviz.store.paths import existing_store_file
from gapviz.workflow.find import load_theory
from gapviz.workflow.repair import STARS

#: Refits with the transmission moved to the last labels (the loop's ``--iterate 3``).
PASSES = 3


def exact_fits(theory, original, full, pop, obs, err, resolution, resolution_observed, calibration) -> dict:
    """The LineModel mock's decomposition rows (module doc), fitted from the store's labels."""
    exact = theory.with_line_model(full, pop.wavelength, resolution_observed, calibration)
    fits = {"exact theory, complete, R_obs": fit_broadening(exact, exact.emulator, pop.wavelength, obs, err,
                                                            pop.labels, resolution_observed, grid=(0.0,))}
    for name, lines in (("exact theory, complete", full), ("exact theory, original", original)):
        exact = theory.with_line_model(lines, pop.wavelength, resolution, calibration)
        fits[name] = fit_broadening(exact, exact.emulator, pop.wavelength, obs, err, pop.labels, resolution)
    return fits


def complete_list_changes(original: pd.DataFrame, full: pd.DataFrame) -> pd.DataFrame:
    """The complete list as changes to the original: lines it lacks ("added"), log gf it has wrong
    ("recalibrated", with ``loggf_before``)."""
    key = lambda d: list(zip(d["wavelength"].round(4), d["species"].astype(str)))
    before = dict(zip(key(original), original["loggf"]))
    rows = []
    for k, (_, line) in zip(key(full), full.iterrows()):
        if k not in before:
            rows.append(line.to_dict() | {"change": "added", "loggf_before": np.nan})
        elif abs(before[k] - line["loggf"]) > 1e-6:
            rows.append(line.to_dict() | {"change": "recalibrated", "loggf_before": before[k]})
    return pd.DataFrame(rows)


def repair_changes(repair_dir: str) -> pd.DataFrame:
    """A repair's list (``linelist.csv``) read as the project reads lists, with its ``change``/``loggf_before``."""
    table, _ = read_repaired(repair_dir)
    lines = read_linelist(Path(repair_dir) / "linelist.csv")
    if len(lines) != len(table) or not np.allclose(lines["wavelength"], table["wavelength"]):
        raise GapvizError(f"{repair_dir}: its linelist.csv reads back in another order")
    return lines.assign(change=table["change"].astype(str).to_numpy(),
                        loggf_before=table["loggf_before"].to_numpy(float))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("store_dir")
    ap.add_argument("mock_dir")
    ap.add_argument("--repair", help="a gapviz repair output directory (its linelist.csv) to refit through too")
    ap.add_argument("--stars", type=int, default=STARS)
    ap.add_argument("--theory", choices=THEORIES, default="emulator",
                    help="what the labels are refitted through (gapviz repair --theory)")
    args = ap.parse_args(argv)
    try:
        path = existing_store_file(args.store_dir)
        mock = Path(args.mock_dir)
        original = read_linelist(mock / "linelist.csv")
        full = read_linelist(mock / "reference_linelist.csv")
        truth = read_truth(mock / "truth.h5")
        with open_store(path) as ds:
            data = ds.load()
        resolution = float(data.attrs.get("resolution", 22500.0))
        cal = str(data.attrs.get("line_model_calibration", "") or "none")
        cal = None if cal == "none" else cal
        theory = load_theory(path)
        if theory is None:
            raise GapvizError(f"{path.parent}: no theory.pt beside the store")
        lists = {"complete list (floor)": complete_list_changes(original, full)}
        if args.repair:
            lists["--repair"] = repair_changes(args.repair)
    except GapvizError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    pop = load_population(data, args.stars)
    obs, err = pop.flux_and_errors()
    if args.theory == "linemodel":
        theory = theory.with_line_model(original, pop.wavelength, resolution, cal)
    rows = {s: i for i, s in enumerate(truth.star_id)}
    true = np.column_stack([truth.labels[n][[rows[s] for s in pop.star_id]] for n in theory.label_names])
    fits = {"plain, no broadening": fit_broadening(theory, theory.emulator, pop.wavelength, obs, err, pop.labels,
                                                   resolution, grid=(0.0,))}
    plain = fit_broadening(theory, theory.emulator, pop.wavelength, obs, err, pop.labels, resolution)
    fits["plain, broadening fitted"] = plain
    for name, changes in lists.items():
        fit = plain
        for _ in range(PASSES):  # as the loop: transmission at the last labels, held while they are refitted
            fit = held_refit(theory, original, changes, pop.wavelength, obs, err, fit, resolution, cal)
        fits[name] = fit
    if args.theory == "emulator" and str(truth.attrs.get("physics", "linemodel")) == "linemodel":
        fits |= exact_fits(theory, original, full, pop, obs, err, resolution,
                           float(truth.attrs.get("resolution_observed", resolution)), cal)
    print(f"{pop.labels.shape[0]} stars of {path}; median fitted − true label")
    names = list(theory.label_names)
    print(f"{'':28s}{'FWHM km/s':>10s}" + "".join(f"{n:>9s}" for n in names))
    for name, fit in fits.items():
        bias = np.median(fit.labels - true, axis=0)
        print(f"{name:28s}{fit.fwhm_kms:10.2f}" + "".join(f"{b:9.3f}" for b in bias))
    print(f"{'target |bias| ≤':38s}" + "".join(f"{label_target(n):9.3g}" for n in names))
    return 0


if __name__ == "__main__":
    sys.exit(main())
