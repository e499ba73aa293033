"""One file of a batch ingest (``gapviz ingest``): an apStar, apVisit or text spectrum onto a common grid.

``ingest_one(path, grid)`` never raises for a bad file (only for an interruption): it returns an
``IngestOutcome`` with status "ok" and the star's row, or "skipped" and the reason. It is what each worker
process runs; the batch, the output file and the report live in ``gapviz.workflow.ingest``.

What a row holds, per kind:
- apStar (row 0, the combined spectrum) and apVisit (rest frame): read by ``gapviz.io.apogee`` on the ASPCAP
  grid and continuum normalised as those readers do; S/N is the header's SNR keyword (the reduction's median
  per-pixel S/N); the header labels are ``apogee_header_labels`` (the RV pipeline's Doppler-template teff,
  logg, fe_h: coarse, not ASPCAP results).
- text (``gapviz.io.text``): taken as it is (the text reader does not normalise: the file must hold
  continuum-normalised flux; one whose median flux is outside ``NORMALISED_MEDIAN`` is skipped) and linearly interpolated onto the grid with the mask propagated
  (``gapviz.io.apogee.resample``). Without an error column, the error is one constant per spectrum from the
  DER_SNR estimator (Stoehr et al. 2008: σ = 1.482602/√6 · median |2f_i − f_{i−2} − f_{i+2}|, on the file's
  own pixels before interpolation) and the row is flagged ``flux_err_estimated``; S/N is median(flux)/σ.
  With an error column, S/N is the median flux/flux_err over usable pixels.
Grids: "aspcap" (``aspcap_wavelength()``, 7214 px) or "sample" (``sample_wavelength()``, the shipped sample's
1024 px, cut from the ASPCAP grid after normalisation).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gapviz.errors import GapvizError
from gapviz.io import apogee
from gapviz.io.grids import aspcap_wavelength, sample_wavelength, window_pixels
from gapviz.io.readers import detect_kind
from gapviz.io.text import read_text_spectrum
from gapviz.stats import median_snr

GRIDS = ("aspcap", "sample")
#: The header labels an ingest keeps (``apogee.header_values`` names); NaN where a file has none.
HEADER_LABEL_NAMES = tuple(apogee.HEADER_LABEL_KEYS.values())
#: The kinds ``detect_kind`` reports that an ingest reads.
KINDS = ("apstar", "apvisit", "text")
DER_SNR_FACTOR = 1.482602 / np.sqrt(6.0)
#: A text spectrum whose median usable flux lies outside this range is taken as not normalised and skipped.
NORMALISED_MEDIAN = (0.5, 1.5)


def target_wavelength(grid: str) -> np.ndarray:
    """The output grid of an ingest (vacuum Å)."""
    if grid == "aspcap":
        return aspcap_wavelength()
    if grid == "sample":
        return sample_wavelength()
    raise GapvizError(f"grid {grid!r}: expected one of {GRIDS}")


@dataclass
class IngestedSpectrum:
    """One star on the ingest grid: flux, flux_err (npix,) float32 (error inf where unusable)."""

    star_id: str
    flux: np.ndarray
    flux_err: np.ndarray
    snr: float
    header_labels: dict[str, float] = field(default_factory=dict)
    flux_err_estimated: bool = False


@dataclass
class IngestOutcome:
    """What became of one input file: status "ok" (``spectrum`` set) or "skipped" (``reason`` set)."""

    path: str
    status: str
    kind: str = ""
    reason: str = ""
    spectrum: IngestedSpectrum | None = None


def der_snr_sigma(flux: np.ndarray) -> float:
    """The DER_SNR noise estimate of one spectrum (NaN pixels left out); NaN if fewer than 10 triplets."""
    f = np.asarray(flux, dtype=np.float64)
    if f.size < 5:
        return float("nan")
    d = np.abs(2.0 * f[2:-2] - f[:-4] - f[4:])
    d = d[np.isfinite(d)]
    if d.size < 10:
        return float("nan")
    return float(DER_SNR_FACTOR * np.median(d))


def _read_apogee(path: Path, kind: str) -> IngestedSpectrum:
    reader = apogee.read_apstar if kind == "apstar" else apogee.read_apvisit
    s = reader(path, grid="aspcap")
    flux, err = s.flux[0], s.flux_err[0]
    snr, labels = apogee.header_values(path)
    if not np.isfinite(snr):
        snr = float(median_snr(flux, err))
    return IngestedSpectrum(star_id=str(s.star_id[0]), flux=flux, flux_err=err, snr=snr, header_labels=labels)


def _read_text(path: Path) -> IngestedSpectrum:
    s = read_text_spectrum(path)
    wavelength, flux = s.wavelength, s.flux[0].astype(np.float64)
    estimated = s.flux_err is None
    if estimated:
        sigma = der_snr_sigma(flux)
        if not (np.isfinite(sigma) and sigma > 0):
            raise GapvizError(f"{path}: no error column and the noise cannot be estimated (DER_SNR) from the flux")
        err = np.full_like(flux, sigma)
        good = np.isfinite(flux)
        snr = float(np.median(flux[good]) / sigma)
    else:
        err = s.flux_err[0].astype(np.float64)
        snr = float(median_snr(flux, err))
    bad = ~(np.isfinite(flux) & np.isfinite(err) & (err > 0))
    level = float(np.median(flux[~bad])) if (~bad).any() else float("nan")
    if not NORMALISED_MEDIAN[0] <= level <= NORMALISED_MEDIAN[1]:
        raise GapvizError(f"{path}: median flux {level:.4g} does not look continuum normalised (expected "
                          f"{NORMALISED_MEDIAN[0]}-{NORMALISED_MEDIAN[1]}); ingest does not normalise text spectra")
    target = aspcap_wavelength()
    out_flux, out_err, out_bad = apogee.resample(wavelength, flux, err, bad, target)
    out_err = np.where(out_bad, np.inf, out_err)
    return IngestedSpectrum(star_id=str(s.star_id[0]), flux=out_flux.astype(np.float32),
                            flux_err=out_err.astype(np.float32), snr=snr, flux_err_estimated=estimated)


def read_for_ingest(path: str | os.PathLike, grid: str = "aspcap") -> tuple[str, IngestedSpectrum]:
    """``(kind, spectrum)`` of one file on ``grid``; GapvizError naming the file if it cannot be ingested."""
    path = Path(path)
    target = target_wavelength(grid)
    if path.name.lower().startswith("aspcapstar"):
        # an aspcapStar has HDU1 on a log-linear grid like an apStar, but HDU3 is the best-fit model, not a
        # pixel mask: read as an apStar it would be silently wrong
        raise GapvizError(f"{path}: an aspcapStar file; ingest reads apStar, apVisit and text spectra "
                          "(aspcapStar is not supported yet)")
    kind = detect_kind(path)
    if kind not in KINDS:
        raise GapvizError(f"{path}: a {kind} file; ingest reads apStar, apVisit and text spectra")
    spectrum = _read_text(path) if kind == "text" else _read_apogee(path, kind)
    if grid != "aspcap":
        idx = window_pixels()
        spectrum.flux, spectrum.flux_err = spectrum.flux[idx], spectrum.flux_err[idx]
    usable = np.isfinite(spectrum.flux) & np.isfinite(spectrum.flux_err) & (spectrum.flux_err > 0)
    if not usable.any():
        raise GapvizError(f"{path}: no usable pixel on the {grid} grid ({target[0]:.2f}-{target[-1]:.2f} Å vacuum)")
    spectrum.flux = spectrum.flux.astype(np.float32)  # as the readers: an unusable pixel has an infinite error
    spectrum.flux_err = np.where(usable, spectrum.flux_err, np.inf).astype(np.float32)
    return kind, spectrum


def _reason(path: str, message: str) -> str:
    """A GapvizError message without its leading "<path>: " (the report has a path column)."""
    prefix = f"{path}: "
    return message.removeprefix(prefix)


def ingest_one(path: str | os.PathLike, grid: str = "aspcap") -> IngestOutcome:
    """Read one file for a batch: never raises for a bad file (only KeyboardInterrupt and the like)."""
    path = str(path)
    try:
        kind, spectrum = read_for_ingest(path, grid)
    except GapvizError as exc:
        return IngestOutcome(path=path, status="skipped", reason=_reason(path, str(exc)))
    except Exception as exc:  # noqa: BLE001 -- a broken file may fail a library in any way; never stop a batch
        first = str(exc).splitlines()[0] if str(exc) else ""
        return IngestOutcome(path=path, status="skipped", reason=f"unreadable ({type(exc).__name__}: {first})")
    return IngestOutcome(path=path, status="ok", kind=kind, spectrum=spectrum)
