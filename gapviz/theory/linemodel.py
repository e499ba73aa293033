"""LineModel: a fast, differentiable line-list spectrum, labels -> continuum-normalised flux.

Not a radiative-transfer code: a one-layer (Milne-Eddington-like) sum of Gaussian optical depths whose
strengths follow the textbook scalings, calibrated so that a red giant looks like an APOGEE red giant.
For each line l of species s and a star with labels (teff, logg, fe_h, [X/Fe]):

    log10 τ_lin,l = C_s + log gf_l + log10(λ_l² / σ_l) − θ χ_low,l + log10(N_s / N_H) − log10 κ_c

(τ_lin: the weak-line peak optical depth at the instrument's resolution; saturation below.)

* θ = 5040 / teff. Abundances: A(X) = A_sun(X) (Asplund 2009) + fe_h + [X/Fe] for elements with a label in
  ``label_names``, + fe_h for the other metals (H and He do not scale).
* Gas and electron pressure of the line-forming layer: log P_g = 5.3 + (logg − 4.44)/3 − fe_h/3 (a shallower
  g-dependence than the textbook 2/3, so that molecules are not far too strong in dwarfs); electrons from
  the metals (Saha, χ ≈ 7.6 eV): log P_e = −3.037 + ½ log P_g + ½ fe_h + 1.25 log T − 3.8 θ (1.0 for the Sun),
  so the H⁻ continuum weakens quickly towards cool stars.
* Ionisation: Saha with partition functions fixed at their 5000 K values (``abundances.PARTITION_5000K``),
  two stages only, and the level population ∝ gf 10^(−θ χ_low) / U of the line's stage; neutral lines of easily
  ionised elements (Fe, Mg, Si, Al, Ca, ...) therefore barely depend on logg while their ion lines
  strengthen towards low logg (∝ 1/P_e).
* Continuum: H⁻, κ_c ∝ P_e θ^2.5 10^(0.754 θ) per H atom.
* Molecules form in the cooler outer layer (T = 0.85 teff, for both excitation and dissociation): partial
  pressure p_mol = Π p_X / K(T), K from the Saha-like dissociation equation with D0 from the line list
  (H2O: the H–OH D0 plus the O–H one, i.e. the atomisation energy), partition-function ratio 10^-1.5 per
  bond, and the molecule's own partition function ∝ T² dividing its level populations;
  p_mol is capped smoothly at the pressure of its scarcest constituent; each molecule independently (no
  shared atom budget: C locked in CO does not starve CN). CN/CO/OH therefore strengthen strongly towards
  low teff and H2O/FeH only show in the coolest stars.
* C_s: one constant for all atoms and one per molecule (``CALIBRATION``, hard-coded, so independent of
  which lines a given list holds). Atoms, CO, CN and OH: least-squares fit of this model with the full
  linemake H-band lists to the APOGEE spectrum of the NGC 6819 giant 2M19410822+4019319 at (teff 4700,
  logg 2.6, fe_h 0; data_samples/apogee/sp19410822.txt), CO then raised 0.15 dex: strongest Si/Mg/Fe/Al
  lines ≈ 57/50/47/42 % deep, OH ≈ 28 %, CN ≈ 12 %, CO ≈ 8 % (single-line peak depths at R = 22,500).
  The others from target depths: C2 1 %, HF 2 %, HCl 0.5 % in that giant; H2O 30 %, FeH 20 % in an M dwarf
  (3500, 4.8, 0).
* Profile: the intrinsic line is a Doppler Gaussian (thermal at ``broadening_teff`` + microturbulence), the
  observed one a Gaussian with σ² = b²/2 + σ_inst² (FWHM_inst = λ/R) of the same equivalent width, so its
  weak-line peak optical depth is τ_lin = τ0 b / (√2 σ). Saturation follows the Voigt curve of growth
  (damping a = 0.02; a 3-parameter closed-form fit, ``profiles.saturation_factor``) W = √π b F(τ0): an
  isolated line's observed peak is F(k τ_lin) / k with k = √2 σ / b
  (one typical k, for 28 u). It is applied to the summed τ_lin of each pixel, i.e. lines blended within a
  resolution element saturate together (exact for isolated lines). flux = exp(−τ), in (0, 1].
  Widths are fixed at construction. Lines of one species group are summed at construction into columns on
  a 0.04 eV excitation-energy grid (linear weights between nodes; < 1 % error in 10^(−θχ)), so a batch is
  strengths (n, ncolumn) @ profiles (ncolumn, npix, sparse): one sparse matmul, no per-line work.
* Speed: lines whose central depth stays below ``min_depth`` everywhere in ``label_box`` (evaluated on a
  teff × logg × fe_h grid with every [X/Fe] at the box maximum), or that have no pixel within 4 σ, are
  dropped at construction; ``linelist`` holds only the kept lines, ``n_dropped`` counts the others.
* Calibration (opt-in, ``calibration="sme"``, a JSON path or a dict; ``gapviz.theory.calibration``): per-species
  corrections fitted to SME's isolated line depths on the giant branch (docs/CALIBRATION.md): log10 τ_lin +=
  offset_s + slopes in θ − θ_ref, (θ − θ_ref)², logg and fe_h − chi_scale_s θ χ_low (an excitation-temperature
  correction; for molecules χ_low / 0.85 as above) + slopes in [C/Fe], [N/Fe], [O/Fe] (molecules: the shared
  C/O budget that the independent molecules above lack), isotopologue lines get their isotopic fraction
  (12C/13C of the calibration) folded into log gf, the saturation onset log k may shift, and flux =
  1 − D (1 − exp(−τ / D)): depths saturate at D (``depth_max``) instead of 1, as a line core's source function
  makes them in a real atmosphere. ``None`` (default)
  leaves the model exactly as above.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn

from gapviz.errors import GapvizError
from gapviz.instrument import RESOLUTION, lsf_sigma
from gapviz.io.linelist import ATOMIC_NUMBER
from gapviz.labels import DEFAULT_LABELS, LABELS
from gapviz.theory.calibration import ABUNDANCE_LABELS, STAR_TERMS, group_terms, isotope_offsets, load_calibration
from gapviz.theory.linetables import (  # noqa: F401  (constants re-exported: the docstring above names them)
    ATOMISATION_EXTRA_EV,
    CALIBRATION,
    CHI_STEP,
    LOG_U_RATIO_PER_BOND,
    excitation_columns,
    species_groups,
)
from gapviz.theory.profiles import (
    C_KMS,
    binned_profile_matrix,
    doppler_b,
    flux_of,
    saturation_factor,
    tau_of,
)

LN10 = math.log(10.0)
MOLECULE_LAYER = 0.85  # T(molecules) / teff
MOLECULE_U_POWER = 2.0  # U_mol ∝ T^2 (rotation × vibration), which spreads molecules over more levels when hot
DEFAULT_LABEL_BOX: dict[str, tuple[float, float]] = {
    "teff": (3000.0, 7000.0), "logg": (-0.5, 5.5), "fe_h": (-2.5, 0.75), "x_fe": (-1.0, 1.5),
}
REFERENCE_WAVELENGTH = 16000.0  # Å, where the λ² term is normalised
TYPICAL_MASS = 28.0  # u, of the Doppler width used for saturation (Si, CO)


def _softplus10(x: torch.Tensor) -> torch.Tensor:
    """log10(1 + 10**x), smooth and stable."""
    return nn.functional.softplus(x * LN10) / LN10


def _check_label_names(label_names: Sequence[str]) -> list[str]:
    names = [str(n) for n in label_names]
    for name in names:
        ok = name in LABELS or (name.endswith("_fe") and name[:-3].capitalize() in ATOMIC_NUMBER)
        if not ok:
            raise GapvizError(
                f"LineModel: unknown label {name!r}; expected teff, logg, fe_h or <element>_fe (e.g. mg_fe)"
            )
    for need in ("teff", "logg"):
        if need not in names:
            raise GapvizError(f"LineModel: label_names {names} lacks {need!r}; the line model needs teff and logg")
    if len(set(names)) != len(names):
        raise GapvizError(f"LineModel: label_names {names} repeat a name")
    return names


class LineModel(nn.Module):
    """labels (n, nlabel) in ``label_names`` order -> flux (n, npix) on ``wavelength`` (vacuum Å).

    linelist: the contract table of ``gapviz.io.linelist``; wavelength: (npix,) vacuum Å; resolution: λ/FWHM.
    """

    def __init__(
        self,
        linelist: pd.DataFrame,
        wavelength: np.ndarray,
        resolution: float = RESOLUTION,
        label_names: Sequence[str] = DEFAULT_LABELS,
        microturbulence: float = 1.5,
        broadening_teff: float = 4750.0,
        min_depth: float = 1e-3,
        label_box: dict[str, tuple[float, float]] | None = None,
        nsigma: float = 4.0,
        dtype: torch.dtype = torch.float32,
        calibration=None,
    ):
        super().__init__()
        self.label_names = _check_label_names(label_names)
        self.calibration = load_calibration(calibration)
        self._depth_max = self.calibration["depth_max"] if self.calibration is not None else 1.0
        self.resolution = float(resolution)
        self.wavelength = np.asarray(wavelength, dtype=np.float64)
        if self.wavelength.ndim != 1 or self.wavelength.size < 2 or not np.all(np.diff(self.wavelength) > 0):
            raise GapvizError("LineModel: wavelength must be a 1-D strictly increasing grid (vacuum Å)")
        if not resolution > 0:
            raise GapvizError(f"LineModel: resolution must be > 0, got {resolution}")
        self.dtype = dtype
        lines = self._lines_near_grid(linelist, nsigma, microturbulence, broadening_teff)
        self._build_tables(lines, microturbulence, broadening_teff)
        keep = self._strong_enough(label_box or DEFAULT_LABEL_BOX, min_depth)
        self.n_dropped = int(len(linelist) - keep.sum())
        if not keep.any():
            raise GapvizError(
                f"LineModel: no line reaches depth {min_depth} anywhere in the label box on "
                f"{self.wavelength[0]:.1f}-{self.wavelength[-1]:.1f} Å"
            )
        lines = lines.loc[keep].reset_index(drop=True)
        self._build_tables(lines, microturbulence, broadening_teff)
        self._build_profiles(nsigma)

    # --- construction ----------------------------------------------------------------------------------
    def _lines_near_grid(self, linelist, nsigma, microturbulence, broadening_teff) -> pd.DataFrame:
        need = ["wavelength", "species", "loggf", "elow_ev"]
        missing = [c for c in need if c not in getattr(linelist, "columns", [])]
        if missing:
            raise GapvizError(f"LineModel: line list lacks column(s) {missing}; read it with gapviz.io.linelist")
        wl = linelist["wavelength"].to_numpy(float)
        sigma = lsf_sigma(wl, self.resolution) * 1.2  # generous: instrument plus Doppler
        lo = np.searchsorted(self.wavelength, wl - nsigma * sigma)
        hi = np.searchsorted(self.wavelength, wl + nsigma * sigma)
        lines = linelist.loc[hi > lo].reset_index(drop=True)
        if lines.empty:
            raise GapvizError(
                f"LineModel: none of the {len(linelist)} lines falls on the grid "
                f"{self.wavelength[0]:.1f}-{self.wavelength[-1]:.1f} Å (vacuum); wrong line list or grid?"
            )
        return lines

    def _build_tables(self, lines: pd.DataFrame, microturbulence: float, broadening_teff: float) -> None:
        """Per-line constants, the group (atom+ion or molecule) each line belongs to, and per-group constants."""
        self.linelist = lines
        g = species_groups(lines, self.label_names)  # gapviz.theory.linetables
        self.elements, self.group_keys = g.elements, g.group_keys
        t = lambda x: torch.as_tensor(np.asarray(x), dtype=self.dtype)  # noqa: E731
        self._is_mol = torch.as_tensor(g.is_mol)
        self._amat, self._solar = t(g.amat), t(g.solar)
        self._g_elem, self._g_ion, self._g_chi_ion = torch.as_tensor(g.elem), t(g.ion), t(g.chi_ion)
        # Saha's log(2 U_II / U_I) and the Boltzmann 1/U of the line's own stage
        self._g_log_saha_u = t(math.log10(2.0) + g.log_u[:, 1] - g.log_u[:, 0])
        self._g_log_u = t(np.where(g.ion > 0, g.log_u[:, 1], g.log_u[:, 0]))
        self._stoich, self._g_logk0, self._g_d0, self._calib = t(g.stoich), t(g.logk0), t(g.d0), t(g.calib)
        self._pmin_idx, self._pmin_off = torch.as_tensor(g.pmin_idx), t(g.pmin_off)
        self._nbond = t(g.nbond)
        if self.calibration is not None:
            self._cal_np = group_terms(self.calibration, g.group_keys, list(g.is_mol))
            self._cal_terms = t(self._cal_np)

        # per-line constants: intrinsic τ0 ∝ gf λ² / b; weak-line observed peak τ0 b / (√2 σ) ∝ gf λ² / σ
        wl = lines["wavelength"].to_numpy(float)
        b = doppler_b(wl, g.line_mass, broadening_teff, microturbulence)
        self.line_sigma = np.sqrt(b**2 / 2.0 + lsf_sigma(wl, self.resolution) ** 2)  # Å
        b_typ = doppler_b(REFERENCE_WAVELENGTH, TYPICAL_MASS, broadening_teff, microturbulence)
        sigma_typ = math.sqrt(b_typ**2 / 2.0 + lsf_sigma(REFERENCE_WAVELENGTH, self.resolution) ** 2)
        self._log_k = math.log10(math.sqrt(2.0) * sigma_typ / b_typ)  # observed / intrinsic width
        if self.calibration is not None:
            self._log_k += self.calibration["log_k_shift"]
        chi_eff = lines["elow_ev"].to_numpy(float) / np.where(g.line_is_mol, MOLECULE_LAYER, 1.0)
        b_ref = REFERENCE_WAVELENGTH * 1.5 / C_KMS
        base = lines["loggf"].to_numpy(float) + np.log10(
            (wl / REFERENCE_WAVELENGTH) ** 2 * b_ref / (math.sqrt(2.0) * self.line_sigma)
        )
        if self.calibration is not None:
            base = base + isotope_offsets(lines, self.calibration["c12_c13"])
        self._base_np, self._chi_np, self._group_np = base, chi_eff, g.line_group
        self._base, self._chi = t(base), t(chi_eff)
        if self.calibration is not None:  # excitation scale: 10^(−θ χ (1 + chi_scale_s))
            self._chi = t(chi_eff * (1.0 + self._cal_np[self._group_np, 4]))
        self._line_group = torch.as_tensor(self._group_np)

    def _build_profiles(self, nsigma: float) -> None:
        """The sparse (ncolumn, npix) profile matrix of the lines summed into (species group, excitation node)
        columns (``linetables.excitation_columns``): one strength per column per star."""
        c = excitation_columns(self._chi_np, self._group_np, self._base_np)
        self._profiles = binned_profile_matrix(
            self.wavelength, self.linelist["wavelength"].to_numpy(float), self.line_sigma, nsigma,
            (c.col0, c.col1), (c.w0, c.w1), c.scale.size, self.dtype,
        )
        t = lambda x: torch.as_tensor(np.asarray(x), dtype=self.dtype)  # noqa: E731
        self._col_group = torch.as_tensor(c.group)
        col_chi = c.chi
        if self.calibration is not None:
            col_chi = col_chi * (1.0 + self._cal_np[c.group, 4])
        self._col_chi = t(col_chi)
        self._col_scale = t(c.scale)

    def _strong_enough(self, box: dict[str, tuple[float, float]], min_depth: float) -> np.ndarray:
        """(nline,) bool: the line's central depth exceeds ``min_depth`` somewhere in ``box``."""
        get = lambda n: box.get(n, box.get("x_fe", (0.0, 0.0)))  # noqa: E731
        grid = []
        for teff in np.linspace(*get("teff"), 9):
            for logg in np.linspace(*get("logg"), 7):
                for fe_h in get("fe_h"):
                    row = {n: get(n)[1] for n in self.label_names}
                    row.update(teff=teff, logg=logg, fe_h=fe_h)
                    grid.append([row[n] for n in self.label_names])
        with torch.no_grad():
            log_tau = self.log_tau(torch.as_tensor(np.array(grid), dtype=self.dtype))
        if min_depth <= 0:
            return np.ones(log_tau.shape[1], dtype=bool)
        return log_tau.max(dim=0).values.numpy() > math.log10(-math.log1p(-min_depth))

    # --- physics -------------------------------------------------------------------------------------------
    def _column(self, labels: torch.Tensor, name: str, default: float = 0.0) -> torch.Tensor:
        if name in self.label_names:
            return labels[:, self.label_names.index(name)]
        return torch.full(labels.shape[:1], default, dtype=labels.dtype)

    def group_log_density(self, labels: torch.Tensor) -> torch.Tensor:
        """(n, ngroup) log10 of (absorber number density / H) − log10 κ_c + C_s, the per-species factor."""
        teff, logg = self._column(labels, "teff"), self._column(labels, "logg")
        fe_h = self._column(labels, "fe_h")
        log_t = torch.log10(teff)
        theta = 5040.0 / teff
        log_pg = 5.3 + (logg - 4.44) / 3.0 - fe_h / 3.0
        # electrons from metals (χ ≈ 7.6 eV), Saha: P_e² ∝ A_metal P_g T^2.5 10^(−θ χ); log P_e(Sun) = 1.0
        log_pe = -3.037 + 0.5 * log_pg + 0.5 * fe_h + 1.25 * log_t - 3.8 * theta
        log_kc = log_pe + 2.5 * torch.log10(theta) + 0.754 * theta
        log_eps = self._solar - 12.0 + labels @ self._amat  # (n, nelem) log N_X/N_H

        # atoms: two-stage Saha
        log_s = (2.5 * log_t - 0.1762 - log_pe)[:, None] - theta[:, None] * self._g_chi_ion + self._g_log_saha_u
        log_frac = torch.where(self._g_ion > 0, log_s - _softplus10(log_s), -_softplus10(log_s))
        atoms = log_eps[:, self._g_elem] + log_frac - self._g_log_u

        # molecules: dissociation equilibrium in the cool layer, capped by the scarcest constituent
        theta_m = theta / MOLECULE_LAYER
        log_tm = log_t + math.log10(MOLECULE_LAYER)
        log_p = log_pg[:, None] + log_eps  # (n, nelem) partial pressures
        log_k = self._g_logk0 + self._nbond * 2.5 * log_tm[:, None] - theta_m[:, None] * self._g_d0
        log_unsat = log_p @ self._stoich - log_k
        log_pmin = (log_p[:, self._pmin_idx] - self._pmin_off).amin(dim=2)
        log_pmol = log_unsat - _softplus10(log_unsat - log_pmin)
        mols = log_pmol - log_pg[:, None] - MOLECULE_U_POWER * log_tm[:, None]  # level population ∝ 1/U(T)
        dens = torch.where(self._is_mol, mols, atoms)
        if self.calibration is not None:
            cal = self.calibration
            terms = self._cal_terms
            dens = dens + terms[:, 0] + (theta - cal["theta_ref"])[:, None] * terms[:, 1] \
                + (logg - cal["logg_ref"])[:, None] * terms[:, 2] + (fe_h - cal["fe_h_ref"])[:, None] * terms[:, 3] \
                + ((theta - cal["theta_ref"]) ** 2)[:, None] * terms[:, 5]
            for k, label in enumerate(ABUNDANCE_LABELS):  # the molecular chemistry LineModel lacks (calibration)
                if label in self.label_names:
                    dens = dens + self._column(labels, label)[:, None] * terms[:, len(STAR_TERMS) + k]
        return dens - log_kc[:, None] + self._calib

    def log_tau_linear(self, labels: torch.Tensor) -> torch.Tensor:
        """(n, nline) log10 of each line's observed peak optical depth in the weak-line limit (no saturation)."""
        theta = 5040.0 / self._column(labels, "teff")
        dens = self.group_log_density(labels)
        return self._base - theta[:, None] * self._chi + torch.index_select(dens, 1, self._line_group)

    def log_tau(self, labels: torch.Tensor) -> torch.Tensor:
        """(n, nline) log10 of each line's observed peak optical depth, saturated by the curve of growth."""
        log_tau = self.log_tau_linear(labels)
        x = torch.pow(10.0, torch.clamp(log_tau + self._log_k, max=30.0))
        return log_tau + torch.log10(saturation_factor(x))

    def _as_tensor(self, labels) -> torch.Tensor:
        x = torch.as_tensor(labels, dtype=self.dtype)
        if x.ndim == 1:
            x = x[None, :]
        if x.ndim != 2 or x.shape[1] != len(self.label_names):
            raise GapvizError(
                f"LineModel: labels must have shape (n, {len(self.label_names)}) in the order {self.label_names}, "
                f"got {tuple(x.shape)}"
            )
        return x

    def forward(self, labels: torch.Tensor) -> torch.Tensor:
        """Flux (n, npix) in (0, 1] for labels (n, nlabel); differentiable in the labels."""
        return self.flux_of(self.pixel_tau_linear(labels))

    def pixel_tau_linear(self, labels: torch.Tensor) -> torch.Tensor:
        """(n, npix) the lines' summed weak-line optical depth at each pixel, before saturation."""
        labels = self._as_tensor(labels)
        theta = 5040.0 / self._column(labels, "teff")
        dens = torch.index_select(self.group_log_density(labels), 1, self._col_group)
        strength = torch.exp(LN10 * (dens - theta[:, None] * self._col_chi + self._col_scale))  # (n, ncolumn)
        return torch.sparse.mm(self._profiles, strength.T).T

    def flux_of(self, tau_linear: torch.Tensor) -> torch.Tensor:
        """Flux of pixels whose summed weak-line optical depth is ``tau_linear`` (``profiles.flux_of``: the curve
        of growth, then the calibration's depth ceiling D where there is one)."""
        return flux_of(tau_linear, self._log_k, self.depth_max)

    def tau_of(self, flux: torch.Tensor) -> torch.Tensor:
        """The inverse of ``flux_of`` in the model's dtype (``profiles.tau_of``): the summed weak-line optical
        depth that makes ``flux`` (another theory's flux; 0 where flux ≥ 1)."""
        return tau_of(flux, self._log_k, self.depth_max).to(self.dtype)

    @property
    def depth_max(self) -> float | None:
        """The calibration's depth ceiling D (None without a calibration: a core can reach zero flux)."""
        return float(self._depth_max) if self.calibration is not None else None

    # --- numpy conveniences --------------------------------------------------------------------------------
    def spectra(self, labels: np.ndarray, batch_size: int = 1000) -> np.ndarray:
        """Flux (n, npix) in the model's dtype for labels (n, nlabel) or one (nlabel,) vector; no autograd."""
        x = self._as_tensor(np.asarray(labels, dtype=np.float64))
        with torch.no_grad():
            out = [self.forward(x[i:i + batch_size]) for i in range(0, x.shape[0], batch_size)]
        return torch.cat(out).numpy() if out else np.zeros((0, self.wavelength.size), np.float32)

    @property
    def log_k(self) -> float:
        """log10 of the observed-to-intrinsic width ratio that places the curve of growth's saturation
        (``profiles.saturate``): the same for every line of this model."""
        return float(self._log_k)

    def line_depths(self, labels: np.ndarray) -> np.ndarray:
        """(n, nline): central depth 1 − exp(−τ_peak) each kept line alone would make, at the instrument's R
        (calibrated: D (1 − exp(−τ_peak / D)), D the calibration's ``depth_max``)."""
        x = self._as_tensor(np.asarray(labels, dtype=np.float64))
        with torch.no_grad():
            tau = torch.exp(self.log_tau(x) * LN10)
            if self.calibration is not None:
                return (-self._depth_max * torch.expm1(-tau / self._depth_max)).numpy()
            return (-torch.expm1(-tau)).numpy()

    @property
    def line_wavelength(self) -> np.ndarray:
        return self.linelist["wavelength"].to_numpy(float)

    @property
    def line_species(self) -> np.ndarray:
        return self.linelist["species"].to_numpy(str)

    @property
    def line_elements(self) -> np.ndarray:
        return self.linelist["elements"].to_numpy(str) if "elements" in self.linelist else self.line_species

    @property
    def nline(self) -> int:
        return len(self.linelist)
