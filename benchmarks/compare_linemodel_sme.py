"""LineModel vs SME, line by line and species by species: isolated central depths over the giant branch.

    python benchmarks/compare_linemodel_sme.py          # measure, print before/after (stored calibration)
    python benchmarks/compare_linemodel_sme.py --fit    # also refit and rewrite gapviz/data/linemodel_sme.json

How the isolated depths are measured: a fixed sample of lines (per species class, evenly spread in LineModel
depth rank, plus the TOP strongest) is moved, in wavelength order, to slots on one uniform 0.1 Å grid in the
H band; NPASS = 2 SME runs per star (each with every other line, so SLOT = 7 Å between neighbours) then give
every sampled line's central depth alone (flux at the slot centre, a grid point), after SME's Gaussian LSF at
R = 22,500. LineModel gets the very same moved lines (``line_depths``: the single line's peak depth at the
same R), so λ-dependent terms are compared like with like. vmic 1.5 km/s, 12C/13C = 20 (SME folds the
isotopic fractions; LineModel without calibration does not).

Stars: FIT_STARS are fitted (all sampled lines); TEST_STARS are held out (all solar-scaled: the table is over
them); ABUNDANCE_STARS ([C/Fe], [N/Fe], [O/Fe] moved) fit the molecules' abundance terms, ABUNDANCE_TEST_STARS
check them (printed last). The table gives three columns: all
stars and lines with the shipped json; the held-out stars with the shipped json; and the held-out stars'
odd-indexed lines with a second fit made (in memory) to the even-indexed lines of FIT_STARS only. Requires
``gapviz[sme]``; ~2 s per SME run, ~1.5 min in all on 1 core. SME depths are cached in the temporary directory
(``gapviz_linemodel_sme_cache.npz``, keyed by the sample and stars); ``--fresh`` ignores the cache. The process
works in the temporary directory, where SME leaves its ``syntherr.log``.
"""

from __future__ import annotations

import argparse
import datetime
import math
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from gapviz.io.linelist import linemake_paths, read_linelists
from gapviz.theory import calibration as cal
from gapviz.theory.linemodel import LineModel
from gapviz.theory.sme import SMESettings, sme_linelist, synthesize

ROOT = Path(__file__).resolve().parents[1]
CACHE = Path(tempfile.gettempdir()) / "gapviz_linemodel_sme_cache.npz"
SAMPLE_LABELS = ["teff", "logg", "fe_h"]
LABELS = SAMPLE_LABELS + list(cal.ABUNDANCE_LABELS)  # teff, logg, fe_h, c_fe, n_fe, o_fe
NPASS = 2  # SME runs per star; each holds every NPASS-th sampled line
VMIC, RES, C12_C13 = 1.5, 22500.0, cal.C12_C13_GIANT
SLOT, STEP, START = 7.0, 0.1, 15150.0
SOLAR_SCALED = (0.0, 0.0, 0.0)  # [C/Fe], [N/Fe], [O/Fe]
FIT_STARS = [s + SOLAR_SCALED for s in [
    (4700, 2.5, 0.0), (3800, 1.0, -0.5), (4200, 2.0, -1.0), (4400, 1.5, 0.25), (5200, 3.0, 0.0), (4900, 2.8, -0.6),
    (3900, 1.8, 0.0), (4100, 1.0, -0.2), (4300, 2.5, -0.7), (4600, 1.8, 0.2), (4800, 2.0, -1.0), (5100, 2.5, -0.3)]]
TEST_STARS = [s + SOLAR_SCALED for s in [(4000, 1.3, 0.1), (4500, 2.2, -0.3), (5000, 2.0, 0.2), (4300, 2.8, -0.4)]]
#: stars whose [C/Fe], [N/Fe], [O/Fe] move (each alone, around four fit stars): the abundance terms are fitted on
#: them (``calibration.fit_abundance_slopes``), the star-level terms on FIT_STARS only
ABUNDANCE_STEPS = [(0.25, 0.0, 0.0), (-0.25, 0.0, 0.0), (0.0, 0.3, 0.0), (0.0, 0.0, 0.25), (0.0, 0.0, -0.25)]
ABUNDANCE_STARS = [b + d for b in [(4700, 2.5, 0.0), (3900, 1.8, 0.0), (4300, 2.5, -0.7), (5100, 2.5, -0.3)]
                   for d in ABUNDANCE_STEPS]
#: held out: two stars with every abundance moved at once
ABUNDANCE_TEST_STARS = [(4500, 2.2, -0.3, 0.15, 0.2, -0.15), (4100, 1.5, 0.0, -0.2, 0.3, 0.2)]
SPECIES = ["Fe I", "Si I", "Mg I", "Al I", "Ca I", "Ti I", "K I", "Mn I", "Ni I", "Na I", "Cr I", "Co I",
           "CN", "13CN", "CO", "13CO", "OH", "C2", "HF", "FeH", "H2O"]
PER_SPECIES = 24  # atoms
TOP = 4  # the strongest lines of each class are always in
PER_MOLECULE, MOLECULE_POOL = 40, 400  # molecules: spread over the MOLECULE_POOL strongest
MIN_DEPTH = 0.05  # lines counted in the table: deeper than this in SME
FIT_MIN_DEPTH = 0.01  # entries fitted: deeper than this in SME


def species_class(lines: pd.DataFrame) -> np.ndarray:
    """"CO" / "13CO" / ... : the species, with 13C isotopologues apart."""
    sp = lines["species"].astype(str).to_numpy()
    iso = lines["isotopes"].fillna("").astype(str).to_numpy() if "isotopes" in lines else np.full(sp.size, "")
    out = sp.astype(object)
    for i in np.flatnonzero(iso != ""):
        if "13" in iso[i].split(",") and sp[i] in ("CO", "CN", "C2"):
            out[i] = "13" + sp[i]
    return out.astype(str)


def sample_lines(lines: pd.DataFrame) -> pd.DataFrame:
    """PER_SPECIES lines per class, spread over the reference giant's (LineModel, uncalibrated) depth range."""
    cls = species_class(lines)
    wl = np.arange(15100.0, 17000.0, 0.2)
    ref = np.array([[4700.0, 2.5, 0.0], [3800.0, 1.0, 0.0]])  # SAMPLE_LABELS
    picked = []
    for name in SPECIES:
        idx = np.flatnonzero(cls == name)
        if idx.size == 0:
            continue
        sub = lines.iloc[idx].reset_index(drop=True)
        lm = LineModel(sub, wl, resolution=RES, label_names=SAMPLE_LABELS, min_depth=0)
        keep = np.isin(sub["wavelength"].to_numpy(), lm.line_wavelength)
        sub_idx = idx[keep]
        d = lm.line_depths(ref).max(axis=0)
        ok = d > 0.01  # something SME can measure somewhere on the branch
        sub_idx, d = sub_idx[ok], d[ok]
        if sub_idx.size == 0:
            continue
        order = np.argsort(d)
        nwant = PER_SPECIES
        if sub["is_molecule"].iloc[0]:
            order, nwant = order[-MOLECULE_POOL:], PER_MOLECULE
        # spread evenly in depth rank
        q = np.linspace(0, order.size - 1, min(nwant, order.size)).round().astype(int)
        q = np.unique(np.r_[q, np.arange(max(order.size - TOP, 0), order.size)])  # and the TOP strongest
        chosen = sub_idx[order[q]]
        picked.extend(chosen.tolist())
    out = lines.iloc[sorted(set(picked))].reset_index(drop=True)
    return out


def slotted(lines: pd.DataFrame, npass: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Lines moved to slot centres (on grid points; line i at slot i // npass, so each SME pass has one line
    per SLOT Å) and the uniform grid covering them."""
    moved = lines.copy()
    centres = START + SLOT * (np.arange(len(lines)) // npass)
    moved["wavelength"] = centres
    grid = np.arange(START - SLOT / 2, centres[-1] + SLOT / 2, STEP)
    grid = START + np.round((grid - START) / STEP) * STEP
    return moved, grid


def sme_depths(moved: pd.DataFrame, grid: np.ndarray, stars, npass: int) -> np.ndarray:
    """(nstar, nline) SME central depths; pass p synthesises lines p, p + npass, ... (slots npass x SLOT apart)."""
    out = np.zeros((len(stars), len(moved)))
    settings = SMESettings(resolution=RES, c12_c13=C12_C13)
    here = os.getcwd()
    os.chdir(tempfile.gettempdir())  # SME writes syntherr.log into the working directory
    try:
        _sme_passes(moved, grid, stars, npass, settings, out)
    finally:
        os.chdir(here)
    return out


def _sme_passes(moved, grid, stars, npass, settings, out) -> None:
    for p in range(npass):
        part = moved.iloc[p::npass]
        table, _ = sme_linelist(part, c12_c13=C12_C13)
        centre = np.searchsorted(grid, part["wavelength"].to_numpy() - STEP / 2)
        edge = np.searchsorted(grid, part["wavelength"].to_numpy() + SLOT / 2 - STEP / 2)
        edge = edge[edge < grid.size]
        for k, star in enumerate(stars):
            t0 = time.time()
            flux = synthesize(table, grid, dict(zip(LABELS, map(float, star))) | {"vmic": VMIC}, settings)
            out[k, p::npass] = 1.0 - flux[centre]
            print(f"  SME pass {p} {'/'.join(map(str, star))}: {time.time() - t0:.1f} s; deepest line "
                  f"{out[k, p::npass].max():.3f}, largest depth half-way to the next line "
                  f"{(1.0 - flux[edge]).max():.4f}", file=sys.stderr)


def lm_depths(moved: pd.DataFrame, grid: np.ndarray, stars, calibration) -> np.ndarray:
    lm = LineModel(moved, grid, resolution=RES, label_names=LABELS, min_depth=0, microturbulence=VMIC,
                   calibration=calibration)
    assert lm.nline == len(moved), "LineModel dropped lines"
    return lm.line_depths(np.array(stars, dtype=float)).astype(np.float64)


def table_rows(cls, sme, lm, mask):
    """{class: (n, median |Δd|/d)} over entries with SME depth > MIN_DEPTH within ``mask``."""
    rel = np.abs(lm - sme) / np.maximum(sme, 1e-9)
    deep = (sme > MIN_DEPTH) & mask
    rows = {}
    for name in list(dict.fromkeys(cls)) + ["all"]:
        sel = deep & (True if name == "all" else (cls == name)[None, :])
        rows[name] = (int(sel.sum()), float(np.median(rel[sel])) if sel.any() else math.nan)
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fit", action="store_true", help="refit the corrections and rewrite the json")
    ap.add_argument("--fresh", action="store_true", help="ignore the cached SME depths")
    args = ap.parse_args(argv)
    os.chdir(tempfile.gettempdir())  # SME writes syntherr.log into the working directory (at exit, too)

    lines = read_linelists(linemake_paths())
    sample = sample_lines(lines)
    moved, grid = slotted(sample, NPASS)
    cls = species_class(sample)
    stars = FIT_STARS + TEST_STARS + ABUNDANCE_STARS + ABUNDANCE_TEST_STARS
    key = f"{len(sample)}:{float(sample['loggf'].sum()):.6f}:{stars}:{SLOT}:{STEP}:{VMIC}:{C12_C13}:{NPASS}"
    if CACHE.exists() and not args.fresh and str(np.load(CACHE)["key"]) == key:
        sme = np.load(CACHE)["sme"]
    else:
        print(f"SME: {len(sample)} lines x {len(stars)} stars on {grid.size} px", file=sys.stderr)
        sme = sme_depths(moved, grid, stars, NPASS)
        np.savez(CACHE, key=key, sme=sme)

    nfit, ntest, nab = len(FIT_STARS), len(TEST_STARS), len(ABUNDANCE_STARS)
    labels = np.array(stars, float)
    even = (np.arange(len(sample)) % 2 == 0)
    fit_mask = np.zeros(sme.shape, bool)
    fit_mask[:nfit] = True
    abundance_mask = fit_mask.copy()  # the abundance terms: the solar-scaled fit stars and their moved copies
    abundance_mask[nfit + ntest:nfit + ntest + nab] = True
    held_stars = np.zeros(sme.shape, bool)  # the table: the solar-scaled stars (the abundance ones: below)
    held_stars[nfit:nfit + ntest] = True
    held = held_stars & ~even[None, :]
    lm0 = LineModel(moved, grid, resolution=RES, label_names=LABELS, min_depth=0, microturbulence=VMIC)

    def fitted(mask: np.ndarray) -> dict:
        """Star-level terms on the solar-scaled fit stars, then the molecules' abundance terms."""
        data = cal.fit_calibration(lm0, labels, sme, fit_mask & mask, C12_C13, min_depth=FIT_MIN_DEPTH)
        lm = LineModel(moved, grid, resolution=RES, label_names=LABELS, min_depth=0, microturbulence=VMIC,
                       calibration=data)
        return cal.fit_abundance_slopes(lm, data, labels, sme, abundance_mask & mask, min_depth=FIT_MIN_DEPTH)

    if args.fit:
        data = fitted(np.ones(sme.shape, bool))
        data["provenance"] = {
            "command": "python benchmarks/compare_linemodel_sme.py --fit",
            "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "code": "SME (pysme-astro) on MARCS (gapviz.theory.sme), R = 22500, vmic 1.5 km/s, 12C/13C = 20",
            "labels": LABELS, "fit_stars": [list(s) for s in FIT_STARS], "abundance_stars": [list(s) for s in ABUNDANCE_STARS],
            "held_out_stars": [list(s) for s in TEST_STARS + ABUNDANCE_TEST_STARS],
            "label_range": {"teff": [3800, 5200], "logg": [1.0, 3.0], "fe_h": [-1.0, 0.25], "c_fe": [-0.25, 0.25],
                            "n_fe": [0.0, 0.3], "o_fe": [-0.25, 0.25]},
            "lines": f"{len(sample)} linemake H-band lines ({PER_SPECIES} per atom, {PER_MOLECULE} per molecule "
                     f"class), isolated central depths; entries deeper than {FIT_MIN_DEPTH:.0%} in SME fitted",
        }
        cal.save_calibration(data, cal.SME_CALIBRATION_PATH)
        print(f"wrote {cal.SME_CALIBRATION_PATH}", file=sys.stderr)
    # cross-check: the same fit on even-indexed lines only, scored on held-out stars x odd-indexed lines
    cv = fitted(np.broadcast_to(even[None, :], sme.shape))

    before = lm_depths(moved, grid, stars, None)
    after = lm_depths(moved, grid, stars, "sme")
    after_cv = lm_depths(moved, grid, stars, cv)
    everything = np.zeros(sme.shape, bool)
    everything[:nfit + ntest] = True
    cols = [table_rows(cls, sme, before, everything), table_rows(cls, sme, after, everything),
            table_rows(cls, sme, before, held_stars), table_rows(cls, sme, after, held_stars),
            table_rows(cls, sme, before, held), table_rows(cls, sme, after_cv, held)]
    print(f"median |Δdepth|/depth, lines deeper than {MIN_DEPTH:.0%} in SME ({len(stars)} stars, {len(sample)} lines). "
          f"all: every star and line, shipped json; held-out stars: the {len(TEST_STARS)} stars not fitted, shipped json; "
          f"held-out stars x lines: those stars' odd-indexed lines, with a fit to the even-indexed lines only")
    print("| species | all: n | before | after | held-out stars: n | before | after | held-out stars x lines: n | "
          "before | after |")
    print("|" + "---|" * 10)
    f = lambda v: "—" if not np.isfinite(v) else f"{100 * v:.1f} %"
    for name in cols[0]:
        vals = [c[name] for c in cols]
        row = []
        for k in range(0, 6, 2):
            row += [str(vals[k][0]), f(vals[k][1]), f(vals[k + 1][1])]
        print(f"| {name} | " + " | ".join(row) + " |")

    print("\nweak classes: median LineModel/SME depth ratio (before -> after) over entries deeper than 1 % in SME:")
    for name in dict.fromkeys(cls):
        m = (sme > 0.01) & (cls == name)[None, :]
        if m.any() and not ((sme > MIN_DEPTH) & (cls == name)[None, :]).any():
            print(f"  {name}: n {m.sum()}, {np.median(before[m] / sme[m]):.2f} -> {np.median(after[m] / sme[m]):.2f}")
    print("\ndeepest SME line per class over all stars (classes with no line > 5 % are not in the target):")
    print("  " + ", ".join(f"{n} {sme[:, cls == n].max():.3f}" for n in dict.fromkeys(cls)))

    # curve of growth: Fe I at the reference giant
    print("\ncurve of growth, Fe I at 4700/2.5/0 (log gf - θχ, depth SME, LineModel before, after):")
    fe = np.flatnonzero(cls == "Fe I")
    x = sample["loggf"].to_numpy()[fe] - 5040.0 / 4700.0 * sample["elow_ev"].to_numpy()[fe]
    for i in fe[np.argsort(x)]:
        xi = sample["loggf"].iloc[i] - 5040.0 / 4700.0 * sample["elow_ev"].iloc[i]
        print(f"  {xi:7.2f}  {sme[0, i]:.3f}  {before[0, i]:.3f}  {after[0, i]:.3f}")

    # molecules vs teff: median depth ratio LineModel/SME per star, lines deeper than MIN_DEPTH in SME
    print("\nmolecules: median LineModel/SME depth ratio (before -> after) per star, lines > 5 % in SME:")
    for name in ("CN", "CO", "13CO", "OH"):
        sel = cls == name
        parts = []
        for k, s in enumerate(stars):
            m = sel & (sme[k] > MIN_DEPTH)
            if m.any():
                parts.append(f"{s[0]}/{s[1]}/{s[2]}: {np.median(before[k, m] / sme[k, m]):.2f}->"
                             f"{np.median(after[k, m] / sme[k, m]):.2f} (n{m.sum()}, SME {np.median(sme[k, m]):.2f})")
        print(f"  {name}: " + "; ".join(parts))

    # the molecules' abundance response: d log10 depth / d label between each moved star and its base
    print("\nmolecules: median d log10(depth) / d [X/Fe] over the moved stars, lines > 5 % in SME "
          "(SME | LineModel before -> after):")
    for name in ("CN", "CO", "OH"):
        parts = []
        for j, label in enumerate(cal.ABUNDANCE_LABELS):
            rows = {"sme": [], "before": [], "after": []}
            for k in range(nfit + ntest, nfit + ntest + nab):
                step = labels[k, 3 + j]
                if step == 0 or np.count_nonzero(labels[k, 3:]) != 1:
                    continue
                base = int(np.flatnonzero(np.all(labels[:nfit, :3] == labels[k, :3], axis=1))[0])
                m = (cls == name) & (sme[base] > MIN_DEPTH) & (sme[k] > 0)
                for key, d in (("sme", sme), ("before", before), ("after", after)):
                    rows[key].append(np.log10(d[k, m] / d[base, m]) / step)
            if rows["sme"]:
                med = {key: float(np.median(np.concatenate(v))) for key, v in rows.items()}
                parts.append(f"{label} {med['sme']:+.2f} | {med['before']:+.2f} -> {med['after']:+.2f}")
        print(f"  {name}: " + "; ".join(parts))
    print("held-out stars with every abundance moved (" + ", ".join("/".join(map(str, s)) for s in ABUNDANCE_TEST_STARS)
          + "): median |Δdepth|/depth, lines > 5 % in SME, before -> after:")
    rows = np.zeros(sme.shape, bool)
    rows[nfit + ntest + nab:] = True
    was, now = table_rows(cls, sme, before, rows), table_rows(cls, sme, after, rows)
    for name, (n, b) in was.items():
        if n:
            print(f"  {name}: n {n}, {100 * b:.1f} % -> {100 * now[name][1]:.1f} %")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
