"""Streaming aggregates over stars: sums accumulated chunk by chunk, so memory never holds the cube.

``Accumulator.update`` takes one star chunk; ``Accumulator.result`` turns the sums into the store's
wavelength, binned, label × wavelength variables (see ``gapviz.store.schema``). Sums add: accumulators of
separate chunks (``sums`` / ``add_sums``, e.g. one per worker's chunk file) merged in chunk order give the
same result, to the bit, as one accumulator fed the chunks in that order.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: A star "shows" a feature when its correction exceeds this many flux_err in the feature's sense.
N_SIGMA_STAR = 2.0


def even_rows(n: int, at_most: int) -> np.ndarray:
    """At most ``at_most`` star indices spread evenly over ``n`` stars (sorted, unique)."""
    return np.unique(np.linspace(0, n - 1, min(n, at_most)).astype(int)) if n else np.zeros(0, int)


def bin_edges(values: np.ndarray, n_bins: int = 8) -> np.ndarray:
    """(n_bins + 1,) equal-width edges spanning the 1st-99th percentile of ``values`` (NaN ignored)."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return np.linspace(0.0, 1.0, n_bins + 1)
    lo, hi = np.percentile(finite, [1, 99])
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    return np.linspace(lo, hi, n_bins + 1)


def bin_index(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Bin of each value (values outside go to the end bins; NaN -> -1)."""
    idx = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, edges.size - 2)
    return np.where(np.isfinite(values), idx, -1)


@dataclass
class Accumulator:
    """Sums over stars for one wavelength grid.

    label_mean, label_std: (L,) population moments used to standardise labels for the regression;
    edges: label name -> bin edges for the binned mean correction.
    """

    n_pix: int
    label_names: list[str]
    label_mean: np.ndarray
    label_std: np.ndarray
    edges: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        p, nl = self.n_pix, len(self.label_names)
        z = lambda *s: np.zeros(s, dtype=np.float64)  # noqa: E731
        self.n = z(p)
        self.sum_corr, self.sum_corr2 = z(p), z(p)
        self.sum_res_theory, self.sum_res_adapted = z(p), z(p)
        self.sum_theory, self.n_theory = z(p), z(p)
        self.n_below, self.n_above = np.zeros(p, np.int64), np.zeros(p, np.int64)
        self.xtx, self.xtc = z(nl + 1, nl + 1), z(nl + 1, p)
        self.sum_resp_adapted, self.sum_resp_theory, self.n_resp = z(nl, p), z(nl, p), 0
        self.bin_sum = {k: z(e.size - 1, p) for k, e in self.edges.items()}
        self.bin_n = {k: z(e.size - 1, p) for k, e in self.edges.items()}
        self.bin_stars = {k: np.zeros(e.size - 1, np.int64) for k, e in self.edges.items()}

    def update(
        self,
        correction: np.ndarray,
        residual_theory: np.ndarray,
        residual_adapted: np.ndarray,
        flux_err: np.ndarray,
        mask: np.ndarray,
        labels: np.ndarray | None = None,
        theory: np.ndarray | None = None,
    ) -> None:
        """Add one chunk: arrays (n, npix), ``mask`` bool usable pixels, ``labels`` (n, L) in label_names order.

        ``theory`` (n, npix): the theory flux of the chunk, averaged over all stars (a model output, defined
        at masked pixels too) into ``flux_theory_mean``.
        """
        m = mask & np.isfinite(correction)
        c = np.where(m, correction, 0.0).astype(np.float64)
        self.n += m.sum(axis=0)
        self.sum_corr += c.sum(axis=0)
        self.sum_corr2 += (c * c).sum(axis=0)
        self.sum_res_theory += np.where(m & np.isfinite(residual_theory), residual_theory, 0.0).sum(axis=0)
        self.sum_res_adapted += np.where(m & np.isfinite(residual_adapted), residual_adapted, 0.0).sum(axis=0)
        if theory is not None:
            self.sum_theory += np.nan_to_num(theory).sum(axis=0)
            self.n_theory += np.isfinite(theory).sum(axis=0)
        with np.errstate(invalid="ignore"):
            self.n_below += (m & (correction < -N_SIGMA_STAR * flux_err)).sum(axis=0)
            self.n_above += (m & (correction > N_SIGMA_STAR * flux_err)).sum(axis=0)
        if labels is None or not self.label_names:
            return
        z = (labels - self.label_mean) / np.where(self.label_std > 0, self.label_std, 1.0)
        ok = np.all(np.isfinite(z), axis=1)
        x = np.column_stack([np.ones(ok.sum()), z[ok]])
        # The correction is a model output, defined at masked pixels too: regress over all stars.
        cf = np.nan_to_num(np.asarray(correction, dtype=np.float64)[ok])
        # Every sum over stars runs along axis 0, one star after the other, never through a BLAS product (whose
        # rounding can depend on where the arrays sit in memory): chunk sums merged give the same bits.
        self.xtx += (x[:, :, None] * x[:, None, :]).sum(axis=0)
        self.xtc += np.stack([(x[:, i, None] * cf).sum(axis=0) for i in range(x.shape[1])])
        for k, edges in self.edges.items():
            idx = bin_index(labels[:, self.label_names.index(k)], edges)
            for i in range(edges.size - 1):
                sel = idx == i
                self.bin_sum[k][i] += c[sel].sum(axis=0)
                self.bin_n[k][i] += m[sel].sum(axis=0)
                self.bin_stars[k][i] += int(sel.sum())

    def update_response(self, d_adapted: np.ndarray, d_theory: np.ndarray) -> None:
        """Add per-star responses (n, L, npix), flux per label unit."""
        self.sum_resp_adapted += np.nan_to_num(d_adapted).sum(axis=0)
        self.sum_resp_theory += np.nan_to_num(d_theory).sum(axis=0)
        self.n_resp += d_adapted.shape[0]

    #: The plain sums (arrays or counts) that ``sums`` / ``add_sums`` carry; the binned ones are per label.
    SUMS = ("n", "sum_corr", "sum_corr2", "sum_res_theory", "sum_res_adapted", "sum_theory", "n_theory",
            "n_below", "n_above", "xtx", "xtc", "sum_resp_adapted", "sum_resp_theory", "n_resp")
    BINNED = ("bin_sum", "bin_n", "bin_stars")

    def sums(self) -> dict[str, np.ndarray]:
        """Every sum as a flat name -> array mapping (binned ones as ``bin_sum/teff``), to save or send."""
        out = {k: np.asarray(getattr(self, k)) for k in self.SUMS}
        for b in self.BINNED:
            out |= {f"{b}/{k}": np.asarray(v) for k, v in getattr(self, b).items()}
        return out

    def add_sums(self, sums: dict[str, np.ndarray]) -> None:
        """Add another accumulator's ``sums`` (same grid, labels, moments and bin edges) to this one."""
        missing = [k for k in self.sums() if k not in sums]
        if missing:
            raise KeyError(f"accumulator sums lack {missing}")
        for k in self.SUMS:
            if k == "n_resp":
                self.n_resp += int(sums[k])
            else:
                getattr(self, k).__iadd__(np.asarray(sums[k], dtype=getattr(self, k).dtype))
        for b in self.BINNED:
            for k, v in getattr(self, b).items():
                v += np.asarray(sums[f"{b}/{k}"], dtype=v.dtype)

    def result(self) -> dict[str, np.ndarray]:
        """The aggregate variables (float32), named as in the store schema."""
        with np.errstate(invalid="ignore", divide="ignore"):
            n = np.where(self.n > 0, self.n, np.nan)
            mean = self.sum_corr / n
            var = np.maximum(self.sum_corr2 / n - mean**2, 0.0) * self.n / np.maximum(self.n - 1, 1)
            out = {
                "correction_mean": mean,
                "correction_std": np.sqrt(var),
                "correction_n": self.n.astype(np.int32),
                "residual_theory_mean": self.sum_res_theory / n,
                "residual_adapted_mean": self.sum_res_adapted / n,
                "flux_theory_mean": self.sum_theory / np.where(self.n_theory > 0, self.n_theory, np.nan),
                "correction_n_below": self.n_below.astype(np.int32),
                "correction_n_above": self.n_above.astype(np.int32),
            }
            for k in self.edges:
                out[f"correction_by_{k}"] = self.bin_sum[k] / np.where(self.bin_n[k] > 0, self.bin_n[k], np.nan)
                out[f"n_star_by_{k}"] = self.bin_stars[k].astype(np.int32)
            if self.label_names:
                nl = len(self.label_names)
                if self.n_resp:
                    out["response_adapted"] = self.sum_resp_adapted / self.n_resp
                    out["response_theory"] = self.sum_resp_theory / self.n_resp
                else:
                    out["response_adapted"] = out["response_theory"] = np.full((nl, self.n_pix), np.nan)
                out["response_difference"] = out["response_adapted"] - out["response_theory"]
                try:
                    beta = np.linalg.lstsq(self.xtx, self.xtc, rcond=None)[0]
                    out["correction_label_slope"] = beta[1:]
                except np.linalg.LinAlgError:
                    out["correction_label_slope"] = np.full((nl, self.n_pix), np.nan)
        return {k: (v.astype(np.float32) if v.dtype.kind == "f" else v) for k, v in out.items()}
