"""The store's vocabulary: every variable's name, dimensions, storage type, CF ``units`` and ``long_name``.

One table (``VARIABLES``) that the writer, the opener, the tests and the docs (docs/ARCHITECTURE.md §6)
agree on. Label units: UDUNITS has no "dex", so abundance labels and ``logg`` carry ``units="1"`` with the
dex stated in ``long_name``; ``teff`` is in K. Star × wavelength cubes are CF-packed int16
(``scale_factor``/``add_offset``, zlib + shuffle); values outside the packable range are stored as
``_FillValue`` (NaN when read) and their ``pixel_mask`` is 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gapviz.labels import label_info

CONVENTIONS = "CF-1.8"
STORE_FILE = "store.nc"
CANDIDATES_FILE = "candidates.csv"
#: The theory a store was made with (the run's emulator as a label fitter), kept beside store.nc for the finder.
THEORY_FILE = "theory.pt"
#: Dimensions the finder (re)writes: unlimited, so ``gapviz find`` can rewrite them on an existing store.
FINDER_DIMS: tuple[str, ...] = ("candidate", "line")
BINNED_LABELS: tuple[str, ...] = ("teff", "logg", "fe_h")
#: domain_flag bits (CF flag_masks) and their meanings.
DOMAIN_FLAGS: dict[str, int] = {"label_at_edge_of_synthetic_box": 1, "adapted_fit_poor": 2}
INT16_FILL = np.int16(-32768)


@dataclass(frozen=True)
class Packing:
    """CF int16 packing: stored = round((value - add_offset) / scale_factor), value range ± 32767 steps."""

    scale_factor: float
    add_offset: float = 0.0

    @property
    def lo(self) -> float:
        return self.add_offset - 32767 * self.scale_factor

    @property
    def hi(self) -> float:
        return self.add_offset + 32767 * self.scale_factor


@dataclass(frozen=True)
class VarSpec:
    """One store variable: dims, storage dtype, CF metadata and optional int16 packing."""

    name: str
    dims: tuple[str, ...]
    dtype: str
    units: str
    long_name: str
    packing: Packing | None = None


# Quantisation (CF int16 packing). zlib cannot squeeze a noisy int16 below ~1 byte per value unless the values
# span few steps, so flux-like cubes use steps of 2.5e-3 in normalised flux: rms quantisation error 7.2e-4
# (7 % of the noise of a S/N = 100 spectrum, +0.5 % to its variance; max error 1.25e-3), which keeps the
# shipped sample (2000 stars x 1024 px x 9 cubes) under 12 MB. flux_err uses 2.5e-4 steps (2-5 % of a
# typical error). Every aggregate and the finder use the unpacked float values, so packing never biases them.
STEP = 2.5e-3
_FLUX = Packing(STEP, 1.0 - 200 * STEP)
_DIFF = Packing(STEP, -128 * STEP)
_ERR = Packing(2.5e-4, 0.0)

CUBES: dict[str, VarSpec] = {
    v.name: v
    for v in [
        VarSpec("flux_obs", ("star", "wavelength"), "i2", "1", "observed continuum-normalised flux", _FLUX),
        VarSpec("flux_err", ("star", "wavelength"), "i2", "1", "observed flux 1-sigma uncertainty", _ERR),
        VarSpec("flux_theory", ("star", "wavelength"), "i2", "1",
                "theory (emulator) flux at the star's inferred labels", _FLUX),
        VarSpec("flux_synthetic_counterpart", ("star", "wavelength"), "i2", "1",
                "the star mapped into the synthetic domain", _FLUX),
        VarSpec("flux_adapted", ("star", "wavelength"), "i2", "1",
                "adapted model flux (theory plus learned correction)", _FLUX),
        VarSpec("residual_theory", ("star", "wavelength"), "i2", "1", "flux_obs minus flux_theory", _DIFF),
        VarSpec("residual_adapted", ("star", "wavelength"), "i2", "1", "flux_obs minus flux_adapted", _DIFF),
        VarSpec("correction", ("star", "wavelength"), "i2", "1",
                "learned correction: flux_adapted minus flux_theory (negative = absorption missing in theory)", _DIFF),
        VarSpec("pixel_mask", ("star", "wavelength"), "i1", "1", "pixel usable flag (1 usable, 0 not)"),
    ]
}

STAR_VARS: dict[str, VarSpec] = {
    v.name: v
    for v in [
        VarSpec("star_id", ("star",), "str", "1", "star identifier"),
        VarSpec("snr", ("star",), "f4", "1", "median per-pixel signal-to-noise ratio flux_obs/flux_err"),
        VarSpec("chi2nu_theory", ("star",), "f4", "1", "reduced chi-square of flux_obs against flux_theory"),
        VarSpec("chi2nu_adapted", ("star",), "f4", "1", "reduced chi-square of flux_obs against flux_adapted"),
        VarSpec("domain_flag", ("star",), "i1", "1",
                "outside the theory's domain: 1 = a fitted label at the edge of the synthetic set's label box, "
                "2 = adapted reduced chi-square above the warning level (flags add)"),
    ]
}

WAVELENGTH_VARS: dict[str, VarSpec] = {
    v.name: v
    for v in [
        VarSpec("wavelength", ("wavelength",), "f8", "Angstrom", "vacuum wavelength"),
        VarSpec("chip", ("wavelength",), "i1", "1", "APOGEE detector chip (0 blue, 1 green, 2 red, -1 outside)"),
        VarSpec("correction_mean", ("wavelength",), "f4", "1", "mean of correction over usable stars"),
        VarSpec("correction_std", ("wavelength",), "f4", "1", "standard deviation of correction over usable stars"),
        VarSpec("correction_n", ("wavelength",), "i4", "1", "number of stars usable at the pixel"),
        VarSpec("correction_n_below", ("wavelength",), "i4", "1",
                "number of stars whose correction is below -2 flux_err at the pixel (absorption-like)"),
        VarSpec("correction_n_above", ("wavelength",), "i4", "1",
                "number of stars whose correction is above +2 flux_err at the pixel (emission-like)"),
        VarSpec("residual_theory_mean", ("wavelength",), "f4", "1", "mean of residual_theory over usable stars"),
        VarSpec("residual_adapted_mean", ("wavelength",), "f4", "1", "mean of residual_adapted over usable stars"),
        VarSpec("flux_theory_mean", ("wavelength",), "f4", "1", "mean of flux_theory over all stars"),
        VarSpec("correction_systematic", ("wavelength",), "f4", "1",
                "part of correction_mean explained by the line-spread function, a wavelength shift and population "
                "abundance offsets; removed before feature detection (gapviz.discover.systematics)"),
    ]
}

LABEL_VARS: dict[str, VarSpec] = {
    v.name: v
    for v in [
        VarSpec("label", ("label",), "str", "1", "label name"),
        VarSpec("label_units", ("label",), "str", "1", "unit of each label (K for teff, dex otherwise)"),
        VarSpec("label_spread", ("label",), "f4", "1",
                "population standard deviation of the inferred label (in the label's unit)"),
        VarSpec("response_adapted", ("label", "wavelength"), "f4", "1",
                "mean over stars of d flux_adapted / d label (flux per label unit: K for teff, dex otherwise)"),
        VarSpec("response_theory", ("label", "wavelength"), "f4", "1",
                "mean over stars of d flux_theory / d label (flux per label unit: K for teff, dex otherwise)"),
        VarSpec("response_difference", ("label", "wavelength"), "f4", "1",
                "response_adapted minus response_theory (flux per label unit: K for teff, dex otherwise)"),
        VarSpec("correction_label_slope", ("label", "wavelength"), "f4", "1",
                "joint linear regression coefficient of correction on the labels, per population standard "
                "deviation of each label"),
    ]
}

CANDIDATE_VARS: dict[str, VarSpec] = {
    v.name: v
    for v in [
        VarSpec("candidate_rank", ("candidate",), "i4", "1",
                "rank (1 = best): absorption features absent from the line list first, then by score"),
        VarSpec("candidate_wavelength", ("candidate",), "f8", "Angstrom", "candidate feature vacuum wavelength"),
        VarSpec("candidate_depth", ("candidate",), "f4", "1",
                "candidate depth below the theory (positive absorption, negative emission)"),
        VarSpec("candidate_equivalent_width", ("candidate",), "f4", "mAngstrom",
                "candidate equivalent width (positive absorption)"),
        VarSpec("candidate_width", ("candidate",), "f4", "Angstrom", "candidate full width at half maximum"),
        VarSpec("candidate_significance", ("candidate",), "f4", "1",
                "matched-filter amplitude over its standard error from the scatter over stars"),
        VarSpec("candidate_n_stars", ("candidate",), "i4", "1",
                "number of stars whose correction at the pixel exceeds 2 flux_err in the feature's sense"),
        VarSpec("candidate_in_linelist", ("candidate",), "i1", "1",
                "1 if the theory's line list has a strong enough line within one resolution element"),
        VarSpec("candidate_nearest_species", ("candidate",), "str", "1", "species of the nearest theory line"),
        VarSpec("candidate_nearest_wavelength", ("candidate",), "f8", "Angstrom",
                "vacuum wavelength of the nearest theory line"),
        VarSpec("candidate_attributed_label", ("candidate",), "str", "1",
                "label that best explains the feature's variation ('none' = no label: instrumental or telluric?)"),
        VarSpec("candidate_attribution_confidence", ("candidate",), "f4", "1",
                "attribution confidence (0-1): how much better the attributed label explains the feature than "
                "the next label (method in the attribution_method attribute)"),
        VarSpec("candidate_attributed_species", ("candidate",), "str", "1",
                "species whose line behaviour best matches the feature over the stars ('' if none)"),
        VarSpec("candidate_attributed_chi", ("candidate",), "f4", "eV",
                "lower-level energy of the best-matching hypothetical line (NaN if none)"),
        VarSpec("candidate_score", ("candidate",), "f4", "1", "ranking score: significance times absolute depth"),
        VarSpec("candidate_identification", ("candidate",), "str", "1",
                "strongest reference-list line within one resolution element ('species wavelength')"),
        VarSpec("candidate_kind", ("candidate",), "str", "1", "absorption or emission (sign of the feature)"),
        VarSpec("candidate_n_merged", ("candidate",), "i4", "1",
                "number of detected components merged into the candidate (same sign, within half a resolution "
                "element)"),
        VarSpec("candidate_linelist_depth", ("candidate",), "f4", "1",
                "depth of the deepest theory line within one resolution element (0 if none)"),
        VarSpec("candidate_pixel", ("candidate",), "i4", "1", "pixel index of the candidate on the wavelength grid"),
    ]
}

LINE_VARS: dict[str, VarSpec] = {
    v.name: v
    for v in [
        VarSpec("line_wavelength", ("line",), "f8", "Angstrom", "theory line vacuum wavelength"),
        VarSpec("line_species", ("line",), "str", "1", "theory line species"),
        VarSpec("line_loggf", ("line",), "f4", "1", "theory line log10 oscillator strength times weight"),
        VarSpec("line_elow_ev", ("line",), "f4", "eV", "theory line lower excitation potential"),
    ]
}


def label_cf_units(name: str) -> str:
    """UDUNITS-valid unit of label ``name``: "K" for temperatures, "1" for dex quantities."""
    return "K" if label_info(name).units == "K" else "1"


def label_spec(name: str, err: bool = False) -> VarSpec:
    """The per-star coordinate of an inferred label (``teff``) or its uncertainty (``teff_err``)."""
    info = label_info(name)
    unit_word = "" if info.units == "K" else f" ({info.units})"
    long = f"inferred {info.long_name}{unit_word}"
    if err:
        return VarSpec(f"{name}_err", ("star",), "f4", label_cf_units(name), f"1-sigma uncertainty of {long}")
    return VarSpec(name, ("star",), "f4", label_cf_units(name), long)


def bin_specs(name: str) -> tuple[VarSpec, VarSpec, VarSpec]:
    """Bin centres, per-bin star counts and the per-bin mean correction of label ``name``."""
    info = label_info(name)
    dim = f"{name}_bin"
    return (
        VarSpec(dim, (dim,), "f8", label_cf_units(name), f"bin centre of inferred {info.long_name}"),
        VarSpec(f"n_star_by_{name}", (dim,), "i4", "1", f"number of stars per {info.long_name} bin"),
        VarSpec(f"correction_by_{name}", (dim, "wavelength"), "f4", "1",
                f"mean correction over stars in each {info.long_name} bin"),
    )


def pack(values: np.ndarray, packing: Packing) -> np.ndarray:
    """Float values -> int16 with CF packing; NaN and out-of-range values become the fill value."""
    values = np.asarray(values, dtype=np.float64)
    ok = packable(values, packing)
    # the file stores float32 attributes: pack with exactly those so decoding inverts packing
    scale, offset = float(np.float32(packing.scale_factor)), float(np.float32(packing.add_offset))
    out = np.full(values.shape, INT16_FILL, dtype=np.int16)
    out[ok] = np.clip(np.rint((values[ok] - offset) / scale), -32767, 32767).astype(np.int16)
    return out


def packable(values: np.ndarray, packing: Packing) -> np.ndarray:
    """Bool mask of values that survive packing (finite and inside the int16 range)."""
    return np.isfinite(values) & (values >= packing.lo) & (values <= packing.hi)
