"""What do the labels cost the repair? The candidates explained at the truth's labels beside the fitted ones.

    python benchmarks/repair_at_true_labels.py runs/lm2/store data_samples/mock --theory linemodel
    python benchmarks/repair_at_true_labels.py runs/sme2/store data_samples/mock_sme

For a store made from a ``gapviz mock`` (MOCK_DIR holds ``truth.h5``), one explanation pass
(``gapviz.repair.explain.explain_population``, the loop's first step) over the same stars, at:

* the plain theory's labels and broadening (``gapviz.adapt.broadening.fit_broadening`` from the store's labels:
  what ``gapviz repair``'s first pass fits at);
* those labels with their median bias against the truth taken off (each star's own error kept);
* the truth's labels at the plain fit's broadening;
* the truth's labels and the mock's observed resolving power.

Each is scored against the truth as ``gapviz score --repair`` scores a repair (``gapviz.evaluate.repair_score``):
added lines real, recall of removed lines deeper than 2 %, species right, and the median log gf error of
added lines deeper than 5 %. The gap between the rows is what the labels' bias costs the list; it is the
reason the loop writes its list explained at the labels it ends with (``gapviz.repair.loop``).
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np

from gapviz.adapt.broadening import broadened_flux, fit_broadening
from gapviz.adapt.theory_fit import THEORIES
from gapviz.errors import GapvizError
from gapviz.evaluate.repair_score import score_added
from gapviz.instrument import RESOLUTION
from gapviz.io.linelist import read_linelist
from gapviz.mock.truth import read_truth
from gapviz.repair.changes import resolve_changes
from gapviz.repair.explain import explain_population, ranked_candidates
from gapviz.repair.population import load_population
from gapviz.store.open import open_store
from gapviz.store.paths import existing_store_file
from gapviz.workflow.find import load_theory
from gapviz.workflow.repair import STARS

C_KMS = 299792.458


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("store_dir")
    ap.add_argument("mock_dir")
    ap.add_argument("--stars", type=int, default=STARS)
    ap.add_argument("--theory", choices=THEORIES, default="emulator",
                    help="what the plain theory is (gapviz repair --theory)")
    args = ap.parse_args(argv)
    try:
        path = existing_store_file(args.store_dir)
        mock = Path(args.mock_dir)
        original, reference = read_linelist(mock / "linelist.csv"), read_linelist(mock / "reference_linelist.csv")
        truth = read_truth(mock / "truth.h5")
        with open_store(path) as ds:
            data = ds.load()
        theory = load_theory(path)
        if theory is None:
            raise GapvizError(f"{path.parent}: no theory.pt beside the store")
    except GapvizError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    resolution = float(data.attrs.get("resolution", RESOLUTION))
    cal = str(data.attrs.get("line_model_calibration", "") or "none")
    cal = None if cal == "none" else cal
    pop = load_population(data, args.stars)
    joint = args.theory == "linemodel"
    if joint:
        theory = theory.with_line_model(original, pop.wavelength, resolution, cal)
    rows = {str(s): i for i, s in enumerate(np.asarray(truth.star_id).astype(str))}
    true = np.column_stack([np.asarray(truth.labels[n], float)[[rows[str(s)] for s in pop.star_id]]
                            for n in theory.label_names])
    obs, err = pop.flux_and_errors()
    plain = fit_broadening(theory, theory.emulator, pop.wavelength, obs, err, pop.labels, resolution)
    r_true = float(truth.attrs.get("resolution_observed", resolution))
    fwhm_true = C_KMS * math.sqrt(max(1.0 / r_true**2 - 1.0 / resolution**2, 0.0))
    cases = {"plain theory's labels": (plain.labels, plain.fwhm_kms, plain.resolution_observed),
             "... median bias taken off": (plain.labels - np.median(plain.labels - true, axis=0), plain.fwhm_kms,
                                           plain.resolution_observed),
             "truth's labels": (true, plain.fwhm_kms, plain.resolution_observed),
             "truth's labels and R": (true, fwhm_true, r_true)}
    candidates = ranked_candidates(data)
    print(f"{pop.labels.shape[0]} stars of {path}; theory {args.theory}; plain fit's broadening {plain.fwhm_kms:.2f} "
          f"km/s, the truth's {fwhm_true:.2f}")
    print(f"{'explained at':30s}{'added':>7s}{'real':>7s}{'recall':>8s}{'species':>9s}{'log gf':>8s}{'bias':>8s}{'lines':>7s}")
    for name, (labels, fwhm, r_obs) in cases.items():
        seen = broadened_flux(theory, pop.wavelength, fwhm, labels)
        table, _, _ = explain_population(pop.at_labels(labels, seen), candidates, original, reference=reference,
                                         calibration=cal, resolution=r_obs, joint=joint)
        _, _, changes = resolve_changes(original, table, r_obs)
        s = score_added(changes, truth.removed, resolution)
        fmt = lambda x: f"{x:.3f}" if x is not None else "-"
        print(f"{name:30s}{s['n_added']:7d}{fmt(s['added_real']):>7s}{fmt(s['added_recall']):>8s}"
              f"{fmt(s['species_accuracy']):>9s}{fmt(s['loggf_error_median']):>8s}{fmt(s['loggf_bias_median']):>8s}"
              f"{s['n_loggf_lines']:7d}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
