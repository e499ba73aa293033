"""Write generated gapviz stores (docs/ARCHITECTURE.md §6) for the explorer's tests and benchmark.

The store is written streaming, ``chunk`` stars at a time, straight through h5netcdf so a 100,000-star
cube never sits in memory. ``pack=True`` stores the star × wavelength cubes as CF-packed int16
(``scale_factor``; xarray decodes them to float32) to halve the disk footprint of the benchmark store.

Physics is a toy but keeps the shapes a spectroscopist expects: Gaussian lines whose depth follows
``fe_h``, a few "missing" lines present in the observed flux but not in the theory whose depth follows a
chosen label, noise ∝ 1/snr. residual_theory = flux_obs − flux_theory, residual_adapted = flux_obs −
flux_adapted, correction = flux_adapted − flux_theory.
"""

from __future__ import annotations

from pathlib import Path

import h5netcdf
import h5py
import numpy as np
import pandas as pd

from gapviz.files import atomic_path
from gapviz.io.grids import chip_of, sample_wavelength

LABEL_NAMES = ("teff", "logg", "fe_h", "mg_fe")
LABEL_UNITS = {"teff": "K", "logg": "dex", "fe_h": "dex", "mg_fe": "dex"}
CUBES = (
    "flux_obs", "flux_err", "flux_theory", "flux_synthetic_counterpart", "flux_adapted",
    "residual_theory", "residual_adapted", "correction",
)
PACK_SCALE = 5e-5  # int16 step when packed: 5e-5 in normalised flux, range ±1.6


def _labels(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    giant = rng.random(n) < 0.7
    teff = np.where(giant, rng.normal(4600, 350, n), rng.normal(5600, 500, n)).clip(3500, 7000)
    logg = np.where(giant, 1.0 + (teff - 3800) / 900 + rng.normal(0, 0.25, n), rng.normal(4.3, 0.2, n))
    return {"teff": teff, "logg": logg.clip(0, 5), "fe_h": rng.normal(-0.2, 0.35, n).clip(-2.5, 0.5),
            "mg_fe": rng.normal(0.1, 0.12, n).clip(-0.3, 0.5)}


def _gauss(wavelength: np.ndarray, centres: np.ndarray, sigma: float = 0.35) -> np.ndarray:
    """(nline, npix) unit-depth Gaussian profiles."""
    return np.exp(-0.5 * ((wavelength[None, :] - centres[:, None]) / sigma) ** 2)


def _str_var(f, name: str, dim: str, values) -> object:
    """A variable-length string variable (netCDF4 ``string``)."""
    v = f.create_variable(name, (dim,), h5py.string_dtype())
    v[:] = np.asarray(values, dtype=object)
    return v


def _attr(var, units: str, long_name: str) -> None:
    var.attrs["units"] = units
    var.attrs["long_name"] = long_name


def write_store(
    store_dir: str | Path,
    n_star: int = 50,
    wavelength: np.ndarray | None = None,
    n_line: int = 120,
    n_candidate: int = 8,
    chunk: int = 64,
    pack: bool = False,
    compress: bool = False,
    seed: int = 1,
    write_csv: bool = True,
    attributed: list[str] | None = None,
) -> Path:
    """Write ``store_dir/store.nc`` (+ ``candidates.csv``); returns the store directory.

    wavelength: (npix,) vacuum Å, default the shipped sample's 4 windows (1024 px); n_star stars written
    ``chunk`` at a time. ``pack``/``compress`` mirror gapviz.store's layout (int16, gzip 4 + shuffle).
    ``attributed``: the labels stored as the candidates' attribution (before ranking), instead of the labels
    their depths really follow and the response difference shows (to test that the explorer shows the
    stored attribution rather than a rule of its own).
    """
    store_dir = Path(store_dir)
    rng = np.random.default_rng(seed)
    wl = sample_wavelength() if wavelength is None else np.asarray(wavelength, dtype=np.float64)
    npix = wl.size
    chunk = max(1, min(chunk, n_star))
    labels = _labels(rng, n_star)
    # the theory's line list (in range) and the lines the theory misses (the candidates' truth)
    line_wl = np.sort(rng.choice(wl, n_line, replace=False) + rng.normal(0, 0.05, n_line))
    species = np.array(["Fe I", "Mg I", "Si I", "CN", "OH", "CO", "Ti I", "Ca I"])
    line_species = species[rng.integers(0, len(species), n_line)]
    line_loggf = rng.uniform(-3.5, 0.5, n_line)
    line_depth = 0.08 + 0.5 * (line_loggf + 3.5) / 4.0
    cand_wl = np.sort(rng.choice(wl[10:-10], n_candidate, replace=False))
    cand_label = np.array([LABEL_NAMES[i % len(LABEL_NAMES)] for i in range(n_candidate)])
    cand_depth = rng.uniform(0.05, 0.3, n_candidate)
    prof_lines = _gauss(wl, line_wl) * line_depth[:, None]
    prof_cand = _gauss(wl, cand_wl) * cand_depth[:, None]
    mean_lab = {k: float(np.mean(v)) for k, v in labels.items()}
    std_lab = {k: float(np.std(v)) or 1.0 for k, v in labels.items()}
    snr = rng.uniform(50, 300, n_star)

    def block(a: int, b: int) -> dict[str, np.ndarray]:
        z = {k: (labels[k][a:b] - mean_lab[k]) / std_lab[k] for k in LABEL_NAMES}
        tau_lines = (1.0 + 0.3 * z["fe_h"])[:, None] * prof_lines.sum(0)[None, :]
        scale_c = np.stack([1.0 + 0.5 * z[lab] for lab in cand_label] or [np.zeros(b - a)], axis=1).clip(0, None)
        tau_cand = scale_c[:, :n_candidate] @ prof_cand
        theory = np.exp(-tau_lines)
        truth = theory * np.exp(-tau_cand)
        err = np.broadcast_to((1.0 / snr[a:b])[:, None], truth.shape)
        obs = truth + rng.standard_normal(truth.shape) * err
        adapted = truth * (1 + 0.003 * rng.standard_normal((1, npix)))
        synth = np.exp(-tau_lines * 1.02)
        return {"flux_obs": obs, "flux_err": err, "flux_theory": theory, "flux_synthetic_counterpart": synth,
                "flux_adapted": adapted, "residual_theory": obs - theory, "residual_adapted": obs - adapted,
                "correction": adapted - theory}

    store_dir.mkdir(parents=True, exist_ok=True)
    path = store_dir / "store.nc"
    nb = 5
    sums = {k: np.zeros(npix) for k in ("correction", "residual_theory", "residual_adapted")}
    sq = np.zeros(npix)
    bin_sum = {k: np.zeros((nb, npix)) for k in ("teff", "logg", "fe_h")}
    bin_n = {k: np.zeros(nb) for k in ("teff", "logg", "fe_h")}
    edges = {k: np.quantile(labels[k], np.linspace(0, 1, nb + 1)) for k in ("teff", "logg", "fe_h")}
    chi_t = np.zeros(n_star)
    chi_a = np.zeros(n_star)
    with atomic_path(path) as tmp, h5netcdf.File(tmp, "w") as f:
        f.dimensions = {"star": n_star, "wavelength": npix, "label": len(LABEL_NAMES), "teff_bin": nb,
                        "logg_bin": nb, "fe_h_bin": nb, "candidate": n_candidate, "line": n_line}
        v = f.create_variable("wavelength", ("wavelength",), "f8", data=wl)
        _attr(v, "Angstrom", "vacuum wavelength")
        v.attrs["standard_name"] = "radiation_wavelength"
        v = f.create_variable("chip", ("wavelength",), "i1", data=chip_of(wl).astype(np.int8))
        _attr(v, "1", "APOGEE chip (0 blue, 1 green, 2 red)")
        v = _str_var(f, "star_id", "star", [f"2M{i:08d}+0000000" for i in range(n_star)])
        _attr(v, "1", "star identifier")
        v = _str_var(f, "label", "label", LABEL_NAMES)
        _attr(v, "1", "label name")
        for k in LABEL_NAMES:
            v = f.create_variable(k, ("star",), "f4", data=labels[k].astype(np.float32))
            _attr(v, LABEL_UNITS[k], f"inferred {k}")
            v = f.create_variable(f"{k}_err", ("star",), "f4", data=np.full(n_star, 0.05 * std_lab[k], np.float32))
            _attr(v, LABEL_UNITS[k], f"uncertainty of inferred {k}")
        v = f.create_variable("snr", ("star",), "f4", data=snr.astype(np.float32))
        _attr(v, "1", "signal-to-noise ratio per pixel")
        for k in ("teff", "logg", "fe_h"):
            centres = 0.5 * (edges[k][1:] + edges[k][:-1])
            v = f.create_variable(f"{k}_bin", (f"{k}_bin",), "f8", data=centres)
            _attr(v, LABEL_UNITS[k], f"{k} bin centre")
        coords = " ".join(["star_id", *LABEL_NAMES, *(f"{k}_err" for k in LABEL_NAMES), "snr", "chip"])
        cubes = {}
        zkw = dict(compression="gzip", compression_opts=4, shuffle=True) if compress else {}
        for name in CUBES:
            if pack:
                cubes[name] = f.create_variable(name, ("star", "wavelength"), "i2", chunks=(chunk, npix),
                                                fillvalue=np.int16(-32768), **zkw)
                cubes[name].attrs["scale_factor"] = np.float32(PACK_SCALE)
                cubes[name].attrs["add_offset"] = np.float32(0.0)
            else:
                cubes[name] = f.create_variable(name, ("star", "wavelength"), "f4", chunks=(chunk, npix), **zkw)
            _attr(cubes[name], "1", name.replace("_", " ") + " (continuum-normalised flux units)")
            cubes[name].attrs["coordinates"] = coords
        mask = f.create_variable("pixel_mask", ("star", "wavelength"), "i1", chunks=(chunk, npix), **zkw)
        _attr(mask, "1", "usable pixel (1) or masked (0)")
        mask.attrs["coordinates"] = coords
        for a in range(0, n_star, chunk):
            b = min(a + chunk, n_star)
            blk = block(a, b)
            for name, arr in blk.items():
                if pack:
                    cubes[name][a:b] = np.round(arr / PACK_SCALE).clip(-32767, 32767).astype(np.int16)
                else:
                    cubes[name][a:b] = arr.astype(np.float32)
            mask[a:b] = np.ones((b - a, npix), np.int8)
            for k in sums:
                sums[k] += blk[k].sum(0)
            sq += (blk["correction"] ** 2).sum(0)
            for k in bin_sum:
                ib = np.clip(np.searchsorted(edges[k], labels[k][a:b], side="right") - 1, 0, nb - 1)
                np.add.at(bin_sum[k], ib, blk["correction"])
                np.add.at(bin_n[k], ib, 1)
            chi_t[a:b] = np.mean((blk["residual_theory"] / blk["flux_err"]) ** 2, axis=1)
            chi_a[a:b] = np.mean((blk["residual_adapted"] / blk["flux_err"]) ** 2, axis=1)
        for k, s in sums.items():
            name = {"correction": "correction_mean"}.get(k, f"{k}_mean")
            v = f.create_variable(name, ("wavelength",), "f4", data=(s / n_star).astype(np.float32))
            _attr(v, "1", f"mean {k.replace('_', ' ')} over stars")
        std = np.sqrt(np.maximum(sq / n_star - (sums["correction"] / n_star) ** 2, 0))
        v = f.create_variable("correction_std", ("wavelength",), "f4", data=std.astype(np.float32))
        _attr(v, "1", "scatter of the correction over stars")
        for k in bin_sum:
            data = (bin_sum[k] / np.maximum(bin_n[k], 1)[:, None]).astype(np.float32)
            v = f.create_variable(f"correction_by_{k}", (f"{k}_bin", "wavelength"), "f4", data=data)
            _attr(v, "1", f"mean correction in {k} bins")
        resp_t = np.stack([np.full(npix, 1e-3) * (i + 1) for i in range(len(LABEL_NAMES))])
        resp_d = np.stack([(cand_label == k).astype(float) @ prof_cand for k in LABEL_NAMES])
        for name, data in (("response_theory", resp_t), ("response_adapted", resp_t + resp_d),
                           ("response_difference", resp_d)):
            v = f.create_variable(name, ("label", "wavelength"), "f4", data=data.astype(np.float32))
            _attr(v, "1 per label unit", f"{name.replace('_', ' ')}: d flux / d label")
        v = f.create_variable("chi2nu_theory", ("star",), "f4", data=chi_t.astype(np.float32))
        _attr(v, "1", "reduced chi-squared of the theory fit")
        v = f.create_variable("chi2nu_adapted", ("star",), "f4", data=chi_a.astype(np.float32))
        _attr(v, "1", "reduced chi-squared of the adapted model")
        stored = cand_label if attributed is None else np.asarray(attributed, dtype=object)
        cand = candidates_frame(rng, cand_wl, cand_depth, stored, line_wl, line_species, n_star)
        for col in cand.columns:
            data = cand[col].to_numpy()
            if data.dtype == object:
                v = _str_var(f, f"candidate_{col}", "candidate", data)
            else:
                v = f.create_variable(f"candidate_{col}", ("candidate",), data.dtype, data=data)
            units = {"wavelength": "Angstrom", "nearest_wavelength": "Angstrom", "width": "Angstrom",
                     "equivalent_width": "mAngstrom"}.get(col, "1")
            _attr(v, units, f"candidate {col.replace('_', ' ')}")
        v = f.create_variable("line_wavelength", ("line",), "f8", data=line_wl)
        _attr(v, "Angstrom", "line vacuum wavelength")
        v = _str_var(f, "line_species", "line", line_species)
        _attr(v, "1", "line species")
        v = f.create_variable("line_loggf", ("line",), "f4", data=line_loggf.astype(np.float32))
        _attr(v, "dex", "log oscillator strength")
        v = f.create_variable("line_elow_ev", ("line",), "f4", data=rng.uniform(0, 6, n_line).astype(np.float32))
        _attr(v, "eV", "lower level excitation energy")
        f.attrs.update({
            "Conventions": "CF-1.8", "title": "gapviz store (generated for explorer tests)",
            "gapviz_version": "0.1.0", "run_dir": "runs/generated", "synthetic_path": "synthetic.h5",
            "observed_path": "observed.h5", "chi2nu_theory_median": float(np.median(chi_t)),
            "chi2nu_adapted_median": float(np.median(chi_a)), "n_candidates": n_candidate,
            "history": "gapviz.testing.stores",
        })
    if write_csv:
        with atomic_path(store_dir / "candidates.csv") as tmp:
            cand.to_csv(tmp, index=False)
    return store_dir


def candidates_frame(rng, cand_wl, cand_depth, cand_label, line_wl, line_species, n_star) -> pd.DataFrame:
    """The candidate table (columns without the ``candidate_`` prefix) in rank order (best first);
    equivalent_width in mÅ as gapviz.store writes it. ``cand_label``: the stored attributed label; the
    attributed species is the nearest line's, its χ a fixed ramp (no draws: the generator's stream is kept)."""
    n = cand_wl.size
    nearest = np.clip(np.searchsorted(line_wl, cand_wl), 0, line_wl.size - 1)
    sig = cand_depth * 100
    df = pd.DataFrame({
        "wavelength": cand_wl, "depth": cand_depth, "equivalent_width": 1e3 * cand_depth * 0.35 * np.sqrt(2 * np.pi),
        "width": np.full(n, 0.35), "significance": sig, "n_stars": np.full(n, n_star, dtype=np.int64),
        "in_linelist": np.zeros(n, dtype=np.int8), "nearest_species": line_species[nearest].astype(object),
        "nearest_wavelength": line_wl[nearest], "attributed_label": cand_label.astype(object),
        "attributed_species": line_species[nearest].astype(object), "attributed_chi": np.linspace(0.5, 4.5, n),
        "attribution_confidence": rng.uniform(0.5, 1.0, n), "score": sig * rng.uniform(0.8, 1.0, n),
        "identification": np.array([f"unidentified ({lab})" for lab in cand_label], dtype=object),
    })
    return df.sort_values("score", ascending=False, kind="stable").reset_index(drop=True)  # rank order
