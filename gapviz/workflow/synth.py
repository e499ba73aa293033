"""`gapviz synth`: SME spectra for a table of stars, in the project's spectra contract; parallel, resumable.

``synth(SynthJob(...))`` reads the line lists and the stars (``gapviz.workflow.synth_labels``), checks
everything before any synthesis (species SME can take, every star inside the MARCS grid, the grid inside the
line list's range), then synthesises star chunks in ``workers`` processes. Each finished chunk is written
atomically to ``.<OUT>.parts/`` beside the output (with a manifest of the job), so after an interruption
``resume`` recomputes only the missing chunks; the spectra file is written atomically at the end and the
work folder removed.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from gapviz.errors import GapvizError
from gapviz.files import atomic_path, atomic_write_text
from gapviz.instrument import RESOLUTION
from gapviz.io import grids
from gapviz.io.spectra import Spectra, write_spectra
from gapviz.progress import progress_bar
from gapviz.theory.isotopes import C12_C13_SOLAR

#: Stars per chunk file: small enough that an interruption loses little, large enough to keep files few.
CHUNK_STARS = 8


@dataclass
class SynthJob:
    linelist_paths: list[Path]
    labels_path: Path
    out: Path
    grid: str = "sample"
    resolution: float = RESOLUTION
    c12_c13: float = C12_C13_SOLAR
    workers: int = 1
    resume: bool = False
    overwrite: bool = False
    progress: bool = True
    notes: list[str] = field(default_factory=list)


def grid_wavelength(grid: str) -> np.ndarray:
    """Vacuum Å pixels of ``grid``: "aspcap" (7214 px), "sample" (the shipped windows) or windows
    "15700-15792,16135-16215" (the ASPCAP pixels inside them)."""
    if grid == "aspcap":
        return grids.aspcap_wavelength()
    if grid == "sample":
        return grids.sample_wavelength()
    full = grids.aspcap_wavelength()
    keep = np.zeros(full.size, dtype=bool)
    for part in grid.split(","):
        try:
            lo, hi = (float(x) for x in part.strip().split("-"))
        except ValueError:
            raise GapvizError(
                f"--grid {grid!r}: expected aspcap, sample or vacuum windows like 15700-15792,16135-16215"
            ) from None
        if not hi > lo:
            raise GapvizError(f"--grid window {part!r}: the upper edge must exceed the lower one")
        inside = (full >= lo) & (full <= hi)
        if not inside.any():
            raise GapvizError(
                f"--grid window {part!r} holds no ASPCAP pixel (the grid spans {full[0]:.2f}-{full[-1]:.2f} Å)"
            )
        keep |= inside
    return full[keep]


def _digest(job: SynthJob, wavelength: np.ndarray, labels: dict[str, np.ndarray], table: pd.DataFrame) -> str:
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(wavelength).tobytes())
    for name, values in labels.items():
        h.update(name.encode() + np.ascontiguousarray(values).tobytes())
    h.update(pd.util.hash_pandas_object(table, index=False).to_numpy().tobytes())
    h.update(repr((job.resolution, job.c12_c13)).encode())
    return h.hexdigest()


def parts_dir(out: Path) -> Path:
    return out.parent / f".{out.name}.parts"


def synth(job: SynthJob) -> Path:
    """Run a synthesis job (see the module docstring); returns the written spectra file."""
    from gapviz.io.linelist import read_linelists
    from gapviz.theory import marcs
    from gapviz.theory.sme import SMESettings, lines_for_grid, require_sme, sme_linelist
    from gapviz.workflow.synth_labels import read_stars

    out = Path(job.out)
    if out.exists() and not job.overwrite:
        raise GapvizError(f"{out}: already exists; refusing to overwrite it (pass --overwrite to replace it)")
    if job.workers < 1:
        raise GapvizError(f"--workers must be >= 1, got {job.workers}")
    if not job.resolution > 0:
        raise GapvizError(f"--resolution must be > 0, got {job.resolution}")
    require_sme()
    wavelength = grid_wavelength(job.grid)
    labels, star_id = read_stars(job.labels_path)
    settings = SMESettings(resolution=job.resolution, c12_c13=job.c12_c13)
    table, notes = sme_linelist(read_linelists(job.linelist_paths), job.c12_c13)
    job.notes.extend(notes)
    table = lines_for_grid(table, wavelength, settings.line_margin)
    for i in range(star_id.size):  # one clear error before any work
        try:
            marcs.check_in_grid(labels["teff"][i], labels["logg"][i], labels["fe_h"][i])
        except GapvizError as exc:
            raise GapvizError(f"star {star_id[i]} (row {i + 1}): {exc}") from None

    work = parts_dir(out)
    manifest = {"digest": _digest(job, wavelength, labels, table), "n_star": int(star_id.size), "chunk": CHUNK_STARS}
    _prepare_work(work, manifest, job.resume)
    starts = [s for s in range(0, star_id.size, CHUNK_STARS) if not (work / f"flux-{s:08d}.npy").exists()]
    rows = [{k: float(v[i]) for k, v in labels.items()} for i in range(star_id.size)]
    _run_chunks(starts, rows, table, wavelength, settings, work, job)

    flux = np.concatenate([np.load(work / f"flux-{s:08d}.npy") for s in range(0, star_id.size, CHUNK_STARS)])
    spectra = Spectra(wavelength, flux, labels=labels, star_id=star_id, domain="synthetic", source=str(out))
    write_spectra(spectra, out, overwrite=job.overwrite)
    shutil.rmtree(work, ignore_errors=True)
    return out


def _prepare_work(work: Path, manifest: dict, resume: bool) -> None:
    path = work / "manifest.json"
    if work.exists() and resume and path.exists():
        try:
            old = json.loads(path.read_text())
        except (OSError, ValueError):
            old = {}
        if old != manifest:
            raise GapvizError(
                f"{work}: the unfinished synthesis there was for other stars, lines or settings; "
                "rerun without --resume to start over"
            )
        return
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    atomic_write_text(path, json.dumps(manifest))


# --- the chunks, here or in worker processes ----------------------------------------------------------------

def _run_chunks(starts, rows, table, wavelength, settings, work: Path, job: SynthJob) -> None:
    from gapviz.theory.sme import Job, iter_chunks

    jobs = [Job(0, 0, r) for r in rows]
    n_todo = sum(len(rows[s:s + CHUNK_STARS]) for s in starts)
    bar = progress_bar(total=n_todo, enabled=job.progress, desc="synth", unit="star")
    try:
        for start, fluxes in iter_chunks([table], [wavelength], jobs, settings, starts, CHUNK_STARS, job.workers):
            with atomic_path(work / f"flux-{start:08d}.npy") as tmp, open(tmp, "wb") as fh:
                np.save(fh, np.stack(fluxes).astype(np.float32))
            bar.update(len(fluxes))
    except KeyboardInterrupt:
        print(f"gapviz synth: interrupted; finished stars are kept in {work}: rerun with --resume", file=sys.stderr)
        raise
    finally:
        bar.close()
