"""The settings of one mock experiment: ``MockConfig``, their checks, and the command that reproduces them.

``check_config`` rejects settings that cannot make an experiment before any work is done; ``command_line``
is the ``gapviz mock`` command for a config (provenance); ``grid_wavelength`` and ``default_linelist_paths``
resolve its defaults. ``gapviz.mock.experiment.run_mock`` runs one.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gapviz.errors import GapvizError
from gapviz.instrument import RESOLUTION
from gapviz.labels import DEFAULT_LABELS
from gapviz.mock.effects import ObservingEffects

GRIDS = ("sample", "apogee")
PHYSICS = ("linemodel", "sme")


@dataclass
class MockConfig:
    """Settings of one mock experiment (see ``gapviz mock --help`` for the command-line names).

    missing_fraction: fraction of the eligible lines removed from the theory, per species. Eligible ("strong
    but not famous"): the deepest central depth over the observed stars lies in (depth_threshold, max_depth].
    A real theory misses weak-to-moderate lines, not the famous deep ones: on the sample grid (seed 42)
    max_depth 0.25 leaves 18 % of the reference giant's pixels > 2 % off (tuned Kurucz models vs. the Sun and
    Arcturus: 12 %, gapviz.io.grids.aspcap_payne_mask) and a median χ²ν of 4.7 for the observed stars against
    the theory at their true labels; max_depth 1 removes from every strong line (median χ²ν ≈ 40).
    loggf_scatter: σ (dex) of log gf errors given to perturb_fraction of the other strong
    lines (0 = off); resolution: the theory's λ/Δλ; wavelength: a vacuum Å grid overriding ``grid``.
    """

    out_dir: Path
    n_synthetic: int = 2000
    n_observed: int = 2000
    missing_fraction: float = 0.3
    loggf_scatter: float = 0.0
    perturb_fraction: float = 0.1
    seed: int = 0
    grid: str = "sample"
    resolution: float = RESOLUTION
    effects: ObservingEffects = field(default_factory=ObservingEffects)
    depth_threshold: float = 0.02
    max_depth: float = 0.25
    label_names: tuple[str, ...] = DEFAULT_LABELS
    linelist_paths: Sequence[Path] | None = None
    wavelength: np.ndarray | None = None
    overwrite: bool = False
    command: str = ""
    physics: str = "linemodel"
    damping_fraction: float = 0.0
    workers: int = 1
    progress: bool = True


def default_linelist_paths() -> list[Path]:
    """The shipped linemake lists (``data_samples/linelists/*.moog[.gz]`` or ``*.csv`` beside the package)."""
    root = Path(__file__).resolve().parents[2] / "data_samples" / "linelists"
    paths = sorted(p for p in root.glob("*") if p.name.endswith((".moog", ".moog.gz", ".csv", ".csv.gz")))
    if not paths:
        raise GapvizError(f"{root}: no line lists found (expected linemake *.moog or *.moog.gz files); pass --linelist")
    return paths


def check_config(cfg: MockConfig) -> None:
    """Raise GapvizError for settings that cannot make an experiment, before any work is done."""
    if cfg.n_synthetic < 1 or cfg.n_observed < 1:
        raise GapvizError(f"--n-synthetic and --n-observed must be >= 1, got {cfg.n_synthetic} and {cfg.n_observed}")
    if not 0.0 <= cfg.missing_fraction <= 1.0:
        raise GapvizError(f"--missing-fraction must be in [0, 1], got {cfg.missing_fraction}")
    if not 0.0 <= cfg.depth_threshold < cfg.max_depth:
        raise GapvizError(f"--max-depth must exceed the 2 % strong-line threshold, got {cfg.max_depth}")
    if not 0.0 <= cfg.perturb_fraction <= 1.0:
        raise GapvizError(f"perturb_fraction must be in [0, 1], got {cfg.perturb_fraction}")
    if not cfg.loggf_scatter >= 0.0:
        raise GapvizError(f"--loggf-scatter must be >= 0 dex, got {cfg.loggf_scatter}")
    lo, hi = cfg.effects.snr_range
    if not 0.0 < lo <= hi:
        raise GapvizError(f"--snr-range LO HI needs 0 < LO <= HI, got {lo} {hi}")
    if not (cfg.resolution > 0 and cfg.effects.resolution_observed > 0):
        raise GapvizError(
            f"resolutions must be > 0, got theory {cfg.resolution}, observed {cfg.effects.resolution_observed}"
        )
    if cfg.physics not in PHYSICS:
        raise GapvizError(f"--physics must be one of {PHYSICS}, got {cfg.physics!r}")
    if not 0.0 <= cfg.damping_fraction <= 1.0:
        raise GapvizError(f"--damping-fraction must be in [0, 1], got {cfg.damping_fraction}")
    if cfg.damping_fraction and cfg.physics != "sme":
        raise GapvizError("--damping-fraction needs --physics sme (LineModel has no line wings to get wrong)")
    if cfg.workers < 1:
        raise GapvizError(f"--workers must be >= 1, got {cfg.workers}")
    if cfg.grid not in GRIDS and cfg.wavelength is None:
        raise GapvizError(f"--grid must be one of {GRIDS}, got {cfg.grid!r}")
    out = Path(cfg.out_dir)
    if out.exists() and not out.is_dir():
        raise GapvizError(f"{out}: exists and is not a directory; OUT_DIR must be a directory to create")
    if out.is_dir() and any(out.iterdir()) and not cfg.overwrite:
        raise GapvizError(f"{out}: already exists and is not empty; pass --overwrite to replace its mock files")


def grid_wavelength(cfg: MockConfig) -> np.ndarray:
    """The experiment's vacuum Å grid: ``cfg.wavelength`` or the named shipped grid."""
    from gapviz.io import grids

    if cfg.wavelength is not None:
        return np.asarray(cfg.wavelength, dtype=np.float64)
    return grids.sample_wavelength() if cfg.grid == "sample" else grids.aspcap_wavelength()


def command_line(cfg: MockConfig) -> str:
    """The ``gapviz mock`` command that reproduces ``cfg`` (for provenance)."""
    lo, hi = cfg.effects.snr_range
    args = [
        "gapviz", "mock", str(cfg.out_dir),
        "--n-synthetic", str(cfg.n_synthetic), "--n-observed", str(cfg.n_observed),
        "--missing-fraction", repr(cfg.missing_fraction), "--max-depth", repr(cfg.max_depth),
        "--loggf-scatter", repr(cfg.loggf_scatter), "--snr-range", repr(lo), repr(hi),
        "--seed", str(cfg.seed), "--grid", cfg.grid, "--resolution-observed", repr(cfg.effects.resolution_observed),
    ]
    if cfg.physics != "linemodel":
        args += ["--physics", cfg.physics, "--damping-fraction", repr(cfg.damping_fraction)]
    return shlex.join(args)
