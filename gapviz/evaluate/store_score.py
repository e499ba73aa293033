"""Evaluate a store against a mock experiment's truth, next to the no-learning baseline (`gapviz score`)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd

from gapviz.discover.baseline import baseline_candidates
from gapviz.discover.crossmatch import read_linelist_in_range
from gapviz.errors import GapvizError
from gapviz.evaluate.score import label_scatter, score_candidates
from gapviz.files import atomic_write_text
from gapviz.instrument import RESOLUTION
from gapviz.mock.truth import read_truth
from gapviz.store import open_store, store_candidates

SCORE_FILE = "score.json"

def score_store(store_dir: str | os.PathLike, truth_path: str | os.PathLike,
                baseline_store: str | os.PathLike | None = None, write: bool = True) -> dict:
    """Score a store's candidates against ``truth.h5``, side by side with the baseline; write score.json.

    The baseline comes from ``baseline_store`` if given, else it is computed on the fly from the store's
    ``observed_path``/``synthetic_path``/``linelist_path`` attributes (skipped, with a note, if the store
    records no synthetic set).
    """
    ds = open_store(store_dir)
    truth = read_truth(truth_path)
    need = [c for c in ("wavelength", "depth_ref") if c not in truth.removed]
    if need:
        raise GapvizError(f"{truth_path}: /removed lacks {need}; expected a gapviz mock truth.h5 with /removed/"
                          "{wavelength,species,element,label,loggf,depth_ref,blended}")
    resolution = float(ds.attrs.get("resolution", truth.attrs.get("resolution", RESOLUTION)))
    method = str(ds.attrs.get("method", "adapted"))
    methods = {method: score_candidates(store_candidates(ds), truth.removed, resolution)}
    out = {"store": str(store_dir), "truth": str(truth_path), "resolution": resolution, "methods": methods}
    if "star_id" in ds and ds.sizes.get("star", 0):
        if ds.sizes["star"] != truth.star_id.size:
            raise GapvizError(f"{truth_path}: has {truth.star_id.size} stars (/star_id) but the store has "
                              f"{ds.sizes['star']}; expected the truth.h5 of the observed set the store was made from")
        inferred = {n: ds[n].values for n in (ds["label"].values.astype(str) if "label" in ds else []) if n in ds}
        out["label_scatter"] = label_scatter(inferred, ds["star_id"].values, truth.labels, truth.star_id,
                                             str(truth_path))
    if "baseline" not in methods:
        base = _baseline_candidates_for(ds, baseline_store)
        if isinstance(base, str):
            out["baseline_note"] = base
        else:
            methods["baseline"] = score_candidates(base, truth.removed, resolution)
    if write:
        atomic_write_text(Path(store_dir) / SCORE_FILE, json.dumps(out, indent=2) + "\n")
    return out


def _baseline_candidates_for(ds, baseline_store) -> pd.DataFrame | str:
    if baseline_store is not None:
        return store_candidates(open_store(baseline_store))
    syn, obs = ds.attrs.get("synthetic_path", ""), ds.attrs.get("observed_path", "")
    if not syn or not Path(syn).exists() or not Path(obs).exists():
        return "no baseline: the store records no readable synthetic/observed set; pass --baseline-store"
    wl = ds["wavelength"].values
    lines = read_linelist_in_range(ds.attrs["linelist_path"], wl)
    ref_path = ds.attrs.get("reference_linelist_path", "")
    reference = read_linelist_in_range(ref_path, wl) if ref_path else None
    return baseline_candidates(obs, syn, lines, float(ds.attrs.get("resolution", RESOLUTION)), reference)[2]
