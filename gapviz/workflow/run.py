"""`gapviz run`: train -> analyze -> score on a mock sample, the whole experiment in one call."""

from __future__ import annotations

import os
import time
from pathlib import Path

from gapviz.errors import GapvizError
from gapviz.store.paths import check_target
from gapviz.workflow.analyze import analyze

SAMPLE_FILES = {"synthetic": "synthetic.h5", "observed": "observed.h5", "linelist": "linelist.csv",
                "reference": "reference_linelist.csv", "truth": "truth.h5"}


def theory_calibration(truth_path: Path) -> str:
    """The finder's LineModel calibration for a mock: "sme" when its theory came from SME (the mock's own
    record of how it was made; the finder itself never reads the truth), else "none"."""
    import h5py

    with h5py.File(truth_path, "r") as f:
        physics = f.attrs.get("physics", "linemodel")
    physics = physics.decode() if isinstance(physics, bytes) else str(physics)
    return "sme" if physics == "sme" else "none"


def run_sample(sample: str | os.PathLike = "data_samples/mock", out: str | os.PathLike | None = None,
               minutes: float | None = None, config: str | os.PathLike | None = None, overwrite: bool = False,
               progress: bool = True) -> dict:
    """Train on a mock sample (``gapviz mock`` layout), analyze, score; return the scores.

    Writes ``out/run`` (the trained run), ``out/store`` (store.nc, candidates.csv, score.json).
    ``out`` defaults to ``runs/run-<UTC time>``.
    """
    from gapviz.adapt.train import train
    from gapviz.evaluate.store_score import score_store

    sample = Path(sample)
    files = {k: sample / v for k, v in SAMPLE_FILES.items()}
    missing = [str(p) for p in files.values() if not p.is_file()]
    if missing:
        raise GapvizError(f"{sample}: not a mock sample, missing {missing}; expected the files 'gapviz mock' writes "
                          f"({', '.join(SAMPLE_FILES.values())})")
    out = Path(out) if out is not None else Path("runs") / time.strftime("run-%Y%m%d-%H%M%S", time.gmtime())
    run_dir, store_dir = out / "run", out / "store"
    check_target(store_dir, overwrite)
    if (run_dir / "model.pt").exists() and not overwrite:
        raise GapvizError(f"{run_dir}: a trained run already exists; pass --overwrite or another --out")
    train(files["synthetic"], files["observed"], run_dir, config=config, minutes=minutes, progress=progress)
    result = analyze(run_dir, files["observed"], files["linelist"], store_dir, synthetic=files["synthetic"],
                     reference_linelist=files["reference"], overwrite=overwrite, progress=progress,
                     calibration=theory_calibration(files["truth"]))
    print(result.summary())
    return score_store(store_dir, files["truth"])
