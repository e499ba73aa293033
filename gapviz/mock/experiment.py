"""A synthetic-gap experiment with ground truth: theory with missing lines vs. a realistic observed set.

``run_mock(MockConfig(...))`` writes into ``out_dir`` (docs/ARCHITECTURE.md §4):
``synthetic.h5`` (LineModel with an incomplete line list at the theory resolution, Latin-hypercube labels,
noiseless, no flux_err), ``observed.h5`` (full line list at the observed resolution, a realistic population,
continuum error, noise, bad pixels; no labels), ``linelist.csv``, ``reference_linelist.csv`` and ``truth.h5``.
One seed gives the same data: every random step draws from its own child of ``SeedSequence(seed)``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from gapviz.io.spectra import Spectra, write_spectra
from gapviz.mock import missing
from gapviz.mock.config import (  # noqa: F401  (GRIDS, PHYSICS, default_linelist_paths: re-exported)
    GRIDS,
    PHYSICS,
    MockConfig,
    check_config,
    command_line,
    default_linelist_paths,
    grid_wavelength,
)
from gapviz.mock.effects import observe
from gapviz.mock.population import latin_hypercube, observed_population
from gapviz.mock.truth import Truth, write_truth
from gapviz.stats import chi2nu

#: The reference giant at which truth depths are quoted: teff 4700 K, logg 2.5, solar abundances.
REFERENCE_STAR: dict[str, float] = {"teff": 4700.0, "logg": 2.5}
#: Stored precision (flux units): far below any noise (observed σ >= 1e-3) or emulator error, and it lets
#: gzip pack the files ~2x tighter (float32 noise bits do not compress).
SYNTHETIC_STEP = 2.0**-20
OBSERVED_STEP = 2.0**-17
ERR_BITS = 10  # flux_err kept to 2^-10 relative (0.1 %)
OUTPUT_FILES = ("synthetic.h5", "observed.h5", "linelist.csv", "reference_linelist.csv", "truth.h5")


@dataclass
class MockResult:
    """What ``run_mock`` wrote and the headline numbers of the gap it made."""

    out_dir: Path
    n_reference_lines: int
    n_strong: int
    removed: pd.DataFrame
    perturbed: pd.DataFrame
    chi2nu_theory_true: np.ndarray  # (n_observed,) observed vs theory at the true labels

    def summary(self) -> str:
        by_species = self.removed["species"].value_counts().sort_index()
        sp = ", ".join(f"{k} {v}" for k, v in by_species.items()) or "none"
        return (
            f"{self.out_dir}: {self.n_reference_lines} reference lines, {self.n_strong} deeper than the threshold "
            f"at some observed star; removed {len(self.removed)} ({sp}); perturbed {len(self.perturbed)}; "
            f"median chi2nu(observed vs theory at true labels) = {np.nanmedian(self.chi2nu_theory_true):.2f}"
        )


def _batched(fn: Callable[[np.ndarray], np.ndarray], labels: np.ndarray, batch: int = 256) -> list[np.ndarray]:
    return [np.asarray(fn(labels[i:i + batch])) for i in range(0, labels.shape[0], batch)]


def model_spectra(model, labels: np.ndarray) -> np.ndarray:
    """(n, npix) float64 flux of ``model`` at ``labels`` (n, nlabel), computed in batches to bound memory."""
    return np.concatenate(_batched(model.spectra, labels), axis=0).astype(np.float64)


def max_line_depths(model, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(nline,) deepest central depth of each line over the stars ``labels`` (n, nlabel), and (nline,) the
    index of the star where it is deepest."""
    best = np.full(len(model.linelist), -np.inf)
    where = np.zeros(best.shape, dtype=int)
    for start, d in zip(range(0, labels.shape[0], 256), _batched(model.line_depths, labels)):
        i = d.argmax(axis=0)
        deeper = d[i, np.arange(d.shape[1])] > best
        best[deeper] = d[i[deeper], np.flatnonzero(deeper)]
        where[deeper] = start + i[deeper]
    return best, where


def quantise(x: np.ndarray, step: float) -> np.ndarray:
    """``x`` rounded to multiples of ``step`` (a power of two, so float32 mantissas end in zeros)."""
    return np.round(np.asarray(x, dtype=np.float64) / step) * step


def quantise_relative(x: np.ndarray, bits: int) -> np.ndarray:
    """``x`` rounded to ``bits`` significant binary digits (relative precision 2^-bits); inf stays inf."""
    mantissa, exponent = np.frexp(np.asarray(x, dtype=np.float64))
    return np.ldexp(np.round(mantissa * 2.0**bits) / 2.0**bits, exponent)


def _default_factory(physics: str = "linemodel"):
    """LineModel; for SME mocks the one calibrated against SME, so that the lines it calls strong are."""
    import functools

    from gapviz.theory.linemodel import LineModel

    return functools.partial(LineModel, calibration="sme") if physics == "sme" else LineModel


def _read_reference_lines(cfg: MockConfig, wavelength: np.ndarray) -> pd.DataFrame:
    from gapviz.io.linelist import read_linelists

    paths = list(cfg.linelist_paths) if cfg.linelist_paths else default_linelist_paths()
    table = read_linelists(paths)
    # Lines just outside the grid still dent its edges; a few resolution elements of margin is plenty.
    pad = 5.0 * wavelength[-1] / min(cfg.resolution, cfg.effects.resolution_observed)
    return table.loc[near_grid(table["wavelength"].to_numpy(), wavelength, pad)].reset_index(drop=True)


def near_grid(line_wavelength: np.ndarray, wavelength: np.ndarray, pad: float) -> np.ndarray:
    """(nline,) bool: lines within ``pad`` Å of some pixel of the (possibly gappy) grid ``wavelength``."""
    i = np.clip(np.searchsorted(wavelength, line_wavelength), 1, wavelength.size - 1)
    gap = np.minimum(np.abs(line_wavelength - wavelength[i - 1]), np.abs(line_wavelength - wavelength[i]))
    return gap <= pad


@dataclass
class GapLines:
    """The reference lines and which of them the theory lacks or gets wrong; arrays are (nline,)."""

    reference: pd.DataFrame  # the lines the complete theory keeps (contract columns, vacuum Å)
    depth_max: np.ndarray  # deepest central depth over the observed stars (complete theory, R = theory's)
    depth_ref: np.ndarray  # central depth at REFERENCE_STAR
    strong: np.ndarray  # depth_max > depth_threshold
    eligible: np.ndarray  # strong and depth_max <= max_depth
    removed: np.ndarray  # left out of the theory
    delta_loggf: np.ndarray  # log gf error given to the theory (0 for most lines)
    blend: np.ndarray  # (nremoved,) deepest kept line within λ/R_obs over the line's depth, where it is deepest
    deepest_star: np.ndarray  # (nline,) index of the observed star where each line is deepest

    def theory_lines(self) -> pd.DataFrame:
        """The theory's line list: the reference without the removed lines, log gf perturbed."""
        kept = self.reference.loc[~self.removed].copy()
        kept["loggf"] = kept["loggf"] + self.delta_loggf[~self.removed]
        return kept.reset_index(drop=True)


def choose_gap_lines(complete, obs_labels: np.ndarray, cfg: MockConfig, rng_remove: np.random.Generator,
                     rng_perturb: np.random.Generator, r_obs: float) -> GapLines:
    """Pick the removed and perturbed lines from the complete theory's lines, by their depths in the observed stars."""
    names = tuple(cfg.label_names)
    reference = complete.linelist.reset_index(drop=True)
    depth_max, deepest_star = max_line_depths(complete, obs_labels)
    ref_star = np.array([[REFERENCE_STAR.get(n, 0.0) for n in names]])
    depth_ref = np.asarray(complete.line_depths(ref_star))[0]
    species = reference["species"].astype(str).to_numpy()
    strong = depth_max > cfg.depth_threshold
    eligible = strong & (depth_max <= cfg.max_depth)
    removed = missing.stratified_choice(species, eligible, cfg.missing_fraction, rng_remove)
    delta = missing.loggf_perturbations(strong & ~removed, cfg.perturb_fraction, cfg.loggf_scatter, rng_perturb,
                                        species)
    targets = np.flatnonzero(removed)
    at_star = complete.line_depths(obs_labels[deepest_star[targets]]) if targets.size else np.zeros((0, len(reference)))
    blend = missing.blend_ratio(reference["wavelength"].to_numpy(), np.asarray(at_star), ~removed, targets, r_obs)
    return GapLines(reference, depth_max, depth_ref, strong, eligible, removed, delta, blend, deepest_star)


def run_mock(cfg: MockConfig, model_factory=None, linelist: pd.DataFrame | None = None) -> MockResult:
    """Make and write one mock experiment (see the module docstring); returns the headline numbers.

    ``model_factory(linelist, wavelength, resolution=..., label_names=...)`` builds the line model (default
    ``gapviz.theory.linemodel.LineModel``); ``linelist`` overrides reading ``cfg.linelist_paths``.
    """
    check_config(cfg)
    factory = model_factory or _default_factory(cfg.physics)
    names = tuple(cfg.label_names)
    wavelength = grid_wavelength(cfg)
    rng_pop, rng_grid, rng_remove, rng_perturb, rng_obs, rng_damp = (
        np.random.default_rng(s) for s in np.random.SeedSequence(cfg.seed).spawn(6)
    )
    lines = linelist if linelist is not None else _read_reference_lines(cfg, wavelength)
    r_obs = cfg.effects.resolution_observed if cfg.effects.lsf else cfg.resolution
    if cfg.physics == "sme":  # SME needs level numbers for H I, which these lists lack: such lines cannot form
        lines = lines.loc[lines["species"].astype(str) != "H I"].reset_index(drop=True)

    obs_labels = observed_population(cfg.n_observed, names, rng_pop)
    # The complete theory keeps the lines that matter on this grid; the gap is cut from those.
    complete = factory(lines, wavelength, resolution=cfg.resolution, label_names=names)
    gap = choose_gap_lines(complete, obs_labels, cfg, rng_remove, rng_perturb, r_obs)
    syn_labels = latin_hypercube(cfg.n_synthetic, names, rng_grid)
    if cfg.physics == "sme":
        from gapviz.mock.sme_physics import draw_inside_grid

        syn_labels = draw_inside_grid(lambda k: latin_hypercube(k, names, rng_grid), cfg.n_synthetic, names)
        obs_labels = draw_inside_grid(lambda k: observed_population(k, names, rng_pop), cfg.n_observed, names)
        return _run_sme(cfg, gap, wavelength, syn_labels, obs_labels, r_obs, rng_obs, rng_damp)
    observer = complete
    if r_obs != cfg.resolution:  # the observed LSF: the same lines seen at another resolution
        observer = factory(gap.reference, wavelength, resolution=r_obs, label_names=names)
    theory = factory(gap.theory_lines(), wavelength, resolution=cfg.resolution, label_names=names)

    syn_flux = quantise(model_spectra(theory, syn_labels), SYNTHETIC_STEP)
    flux, flux_err, snr = observe(model_spectra(observer, obs_labels), wavelength, cfg.effects, rng_obs)
    flux, flux_err = quantise(flux, OBSERVED_STEP), quantise_relative(flux_err, ERR_BITS)
    chi2 = chi2nu(flux - model_spectra(theory, obs_labels), flux_err)  # at the true labels: nothing fitted

    truth = _truth(cfg, gap, obs_labels, snr, chi2, r_obs)
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _write_lists_and_spectra(out, cfg, wavelength, syn_labels, syn_flux, flux, flux_err, truth.star_id,
                             theory.linelist, gap.reference)
    write_truth(truth, out / "truth.h5")
    return MockResult(out, len(gap.reference), int(gap.strong.sum()), truth.removed, truth.perturbed, chi2)


def _run_sme(cfg: MockConfig, gap: GapLines, wavelength, syn_labels, obs_labels, r_obs, rng_obs,
             rng_damp) -> MockResult:
    """The SME half of ``run_mock`` (``gapviz.mock.sme_physics``): same gap, spectra and truth depths from SME."""
    from gapviz.mock import sme_physics as P
    from gapviz.theory.sme import star_labels

    names, iso = tuple(cfg.label_names), P.C12_C13
    run = dict(c12_c13=iso, workers=cfg.workers, progress=cfg.progress)
    damped = P.choose_damped(gap.reference, gap.depth_max, cfg.damping_fraction, rng_damp) & ~gap.removed
    observed_lines = P.with_damping(gap.reference, damped)
    theory_lines = gap.theory_lines()
    syn_flux = quantise(P.sme_spectra(theory_lines, wavelength, syn_labels, names, cfg.resolution,
                                      desc="theory spectra", **run), SYNTHETIC_STEP)
    clean = P.sme_spectra(observed_lines, wavelength, obs_labels, names, r_obs, desc="observed spectra", **run)
    flux, flux_err, snr = observe(clean, wavelength, cfg.effects, rng_obs)
    flux, flux_err = quantise(flux, OBSERVED_STEP), quantise_relative(flux_err, ERR_BITS)
    some = slice(0, min(obs_labels.shape[0], P.TRUE_CHI2_STARS))  # the rest NaN: 1/3 of the SME time saved
    at_true = P.sme_spectra(theory_lines, wavelength, obs_labels[some], names, cfg.resolution,
                            desc="theory at true labels", **run)
    chi2 = np.full(obs_labels.shape[0], np.nan)
    chi2[some] = chi2nu(flux[some] - at_true, flux_err[some])

    # The truth's depths of the removed lines, measured in SME (leave one out) where LineModel chose them.
    targets = np.flatnonzero(gap.removed)
    ref_star = {n: REFERENCE_STAR.get(n, 0.0) for n in names}
    stars = [ref_star] * targets.size + star_labels(obs_labels[gap.deepest_star[targets]], names)
    depths = P.leave_one_out_depths(observed_lines, np.concatenate([targets, targets]), stars, r_obs, **run)
    gap.depth_ref = gap.depth_ref.copy()
    gap.depth_max = gap.depth_max.copy()
    gap.depth_ref[targets], gap.depth_max[targets] = depths[:targets.size], depths[targets.size:]

    truth = _truth(cfg, gap, obs_labels, snr, chi2, r_obs, damped)
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _write_lists_and_spectra(out, cfg, wavelength, syn_labels, syn_flux, flux, flux_err, truth.star_id,
                             theory_lines, gap.reference)
    write_truth(truth, out / "truth.h5")
    return MockResult(out, len(gap.reference), int(gap.strong.sum()), truth.removed, truth.perturbed, chi2)


def _truth(cfg: MockConfig, gap: GapLines, obs_labels: np.ndarray, snr: np.ndarray, chi2: np.ndarray,
           r_obs: float, damped: np.ndarray | None = None) -> Truth:
    names = tuple(cfg.label_names)
    ref = gap.reference
    removed = missing.removed_table(ref, gap.removed, gap.depth_ref, gap.depth_max, gap.blend, names)
    moved = gap.delta_loggf != 0
    if damped is not None and damped.any():
        moved = moved | damped
    perturbed = pd.DataFrame({
        "wavelength": ref["wavelength"].to_numpy(np.float64)[moved],
        "species": ref["species"].astype(str).to_numpy()[moved],
        "delta_loggf": gap.delta_loggf[moved],
    })
    if damped is not None and damped.any():
        from gapviz.mock.sme_physics import TRUE_GAMVW

        perturbed["gamvw_true"] = np.where(damped[moved], TRUE_GAMVW, np.nan)  # theory: Unsöld (SME gamvw 0)
    attrs = {
        "title": "gapviz mock experiment ground truth",
        "resolution": float(cfg.resolution),
        "resolution_observed": float(r_obs),
        "seed": int(cfg.seed),
        "command": cfg.command or command_line(cfg),
        "grid": cfg.grid if cfg.wavelength is None else "custom",
        "missing_fraction": float(cfg.missing_fraction),
        "max_depth": float(cfg.max_depth),
        "depth_threshold": float(cfg.depth_threshold),
        "loggf_scatter": float(cfg.loggf_scatter),
        "perturb_fraction": float(cfg.perturb_fraction),
        "snr_range": np.asarray(cfg.effects.snr_range, dtype=np.float64),
        "effects": ",".join(k for k in ("lsf", "continuum", "noise", "bad_pixels") if getattr(cfg.effects, k)),
        "reference_star": "teff 4700 K, logg 2.5, solar abundances",
        "n_reference_lines": int(len(ref)),
        "n_strong_lines": int(gap.strong.sum()),
        "n_eligible_lines": int(gap.eligible.sum()),
        "label_names": ",".join(names),
    }
    if cfg.physics != "linemodel":  # absent: LineModel (the mocks made before SME keep their bytes)
        attrs.update(physics=cfg.physics, damping_fraction=float(cfg.damping_fraction))
    star_id = np.array([f"mock-{i:06d}" for i in range(obs_labels.shape[0])])
    return Truth(removed=removed, perturbed=perturbed, labels=dict(zip(names, obs_labels.T)), star_id=star_id,
                 snr=snr, chi2nu_theory_true=chi2, attrs=attrs)


def _write_lists_and_spectra(out: Path, cfg: MockConfig, wavelength, syn_labels, syn_flux, flux, flux_err, star_id,
                             theory_lines: pd.DataFrame, reference: pd.DataFrame) -> None:
    from gapviz.io.linelist import write_linelist_csv

    names = tuple(cfg.label_names)
    synthetic = Spectra(wavelength, syn_flux, labels=dict(zip(names, syn_labels.T)), domain="synthetic",
                        source=str(out / "synthetic.h5"))
    observed = Spectra(wavelength, flux, flux_err=flux_err, star_id=star_id, domain="observed",
                       source=str(out / "observed.h5"))
    write_spectra(synthetic, out / "synthetic.h5")
    write_spectra(observed, out / "observed.h5")
    write_linelist_csv(theory_lines, out / "linelist.csv")
    write_linelist_csv(reference, out / "reference_linelist.csv")
