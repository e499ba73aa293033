"""Training batches streamed from spectra HDF5 files (gapviz.io.spectra.SpectraFile).

A ``RowStream`` serves an endless, reproducible sequence of batches from a set of rows of one file. Each
epoch the rows are cut into contiguous blocks of ``block_rows``, the blocks are shuffled, ``buffer_blocks``
blocks at a time are read (one contiguous HDF5 read per block) and shuffled together in memory; so a
survey-sized file is never read whole: at most two buffers (2 × block_rows × buffer_blocks rows) are held.
A file whose flux (+ flux_err) takes less than ``cache_mb`` MB is read into memory once instead (same
batch order either way). The order is a pure function of (seed, stream id, epoch), so the stream's whole
state is one integer, ``position`` (rows served so far): resuming at a position replays exactly.

Under DDP each process streams only its own shard of the training rows (``shard``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from gapviz.adapt.config import DataConfig
from gapviz.errors import GapvizError
from gapviz.io.spectra import Spectra, SpectraFile

MIN_STARS = 16  # each set needs at least this many spectra (observed: after holding out validation stars)


@dataclass
class Batch:
    """flux, sigma, mask: (n, npix) float32 (unusable pixels: flux 1, sigma 1, mask 0); labels (n, L) or None."""

    flux: torch.Tensor
    sigma: torch.Tensor
    mask: torch.Tensor
    labels: torch.Tensor | None = None

    def to(self, device) -> "Batch":
        return Batch(self.flux.to(device), self.sigma.to(device), self.mask.to(device),
                     None if self.labels is None else self.labels.to(device))

    def __len__(self) -> int:
        return self.flux.shape[0]


def prepare_arrays(flux: np.ndarray, flux_err: np.ndarray | None, sigma_floor: float, sigma_max: float
                   ) -> dict[str, np.ndarray]:
    """flux, flux_err (n, npix) → filled flux (unusable → 1), effective σ (≥ floor; unusable → 1) and mask.

    A pixel is usable when flux and σ are finite, σ > 0 and σ ≤ ``sigma_max``; no flux_err means σ = floor.
    """
    flux = np.atleast_2d(np.asarray(flux, dtype=np.float32))
    err = np.full_like(flux, sigma_floor) if flux_err is None else np.atleast_2d(np.asarray(flux_err, dtype=np.float32))
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(flux) & np.isfinite(err) & (err > 0) & (err <= sigma_max)
    return {
        "flux": np.where(ok, flux, 1.0).astype(np.float32),
        "sigma": np.where(ok, np.maximum(err, sigma_floor), 1.0).astype(np.float32),
        "mask": ok.astype(np.float32),
    }


def prepare(s: Spectra, label_names: list[str] | None, cfg: DataConfig) -> dict[str, np.ndarray]:
    """Spectra → arrays for training (``prepare_arrays``) plus labels (n, L) in ``label_names`` order."""
    out = prepare_arrays(s.flux, s.flux_err, cfg.sigma_floor, cfg.sigma_max)
    if label_names:
        out["labels"] = s.label_array(label_names).astype(np.float32)
    return out


def to_batch(arrays: dict[str, np.ndarray]) -> Batch:
    t = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in arrays.items()}
    return Batch(t["flux"], t["sigma"], t["mask"], t.get("labels"))


def split_rows(n_star: int, val_fraction: float, val_max: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train_rows, val_rows), both sorted: a seeded random ``val_fraction`` (≤ val_max, ≥ 1) held out."""
    n_val = int(min(val_max, max(1, round(n_star * val_fraction))))
    perm = np.random.default_rng([seed, 7919]).permutation(n_star)
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])


def shard(rows: np.ndarray, rank: int, world: int) -> np.ndarray:
    """The contiguous share of ``rows`` that process ``rank`` of ``world`` trains on."""
    return np.array_split(rows, world)[rank]


def read_rows(path: str | Path, rows: np.ndarray, label_names: list[str] | None, cfg: DataConfig) -> Batch:
    """Read given rows of a file into one Batch (e.g. the validation stars)."""
    with SpectraFile(path) as f:
        return to_batch(prepare(f.read(np.sort(rows)), label_names, cfg))


def flux_stats(path: str | Path, max_rows: int = 2048) -> tuple[float, float]:
    """Global mean and std of the usable flux in the first ``max_rows`` rows (the encoders' standardisation)."""
    with SpectraFile(path) as f:
        s = f.read(slice(0, min(max_rows, f.n_star)))
    v = s.flux[s.usable()]
    return float(v.mean()), float(max(v.std(), 1e-3))


class RowStream:
    """Endless reproducible batches of ``batch_size`` rows drawn from ``rows`` of ``path`` (see module doc)."""

    def __init__(self, path: str | Path, rows: np.ndarray, batch_size: int, seed: int, stream_id: int,
                 label_names: list[str] | None, cfg: DataConfig):
        self.path = Path(path)
        self.rows = np.sort(np.asarray(rows, dtype=np.int64))
        if self.rows.size == 0:
            raise GapvizError(f"{path}: no rows to train on in this process's shard")
        self.batch_size, self.seed, self.stream_id = batch_size, seed, stream_id
        self.label_names, self.cfg = label_names, cfg
        self.position = 0
        self._file = SpectraFile(path)
        n_pix = self._file.wavelength.size
        size_mb = self.rows.size * n_pix * 4 * (2 if self._file.has_flux_err else 1) / 1e6
        self.cached = size_mb <= cfg.cache_mb
        self._all = None
        if self.cached:  # one contiguous read, then keep our rows
            lo, hi = int(self.rows[0]), int(self.rows[-1]) + 1
            self._all = prepare(self._file.read(slice(lo, hi)).subset(self.rows - lo), label_names, cfg)
        self._orders: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._buffers: dict[tuple[int, int], tuple[np.ndarray, dict[str, np.ndarray]]] = {}

    @property
    def n_rows(self) -> int:
        return int(self.rows.size)

    def _order(self, epoch: int) -> tuple[np.ndarray, np.ndarray]:
        """(positions into self.rows in serving order, buffer number of each) for one epoch."""
        if epoch not in self._orders:
            rng = np.random.default_rng([self.seed, self.stream_id, epoch])
            block = self.cfg.block_rows
            n_block = -(-self.n_rows // block)
            blocks = rng.permutation(n_block)
            order, buf = [], []
            for b, g in enumerate(range(0, n_block, self.cfg.buffer_blocks)):
                pos = np.concatenate([np.arange(k * block, min((k + 1) * block, self.n_rows))
                                      for k in blocks[g : g + self.cfg.buffer_blocks]])
                rng.shuffle(pos)
                order.append(pos)
                buf.append(np.full(pos.size, b))
            self._orders = {epoch: (np.concatenate(order), np.concatenate(buf))}  # keep only the current epoch
        return self._orders[epoch]

    def _load_buffer(self, epoch: int, buffer: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        key = (epoch, buffer)
        if key not in self._buffers:
            order, buf = self._order(epoch)
            pos = np.sort(order[buf == buffer])
            parts = []
            for k in np.unique(pos // self.cfg.block_rows):  # one contiguous read per block
                p = pos[(pos // self.cfg.block_rows) == k]
                lo, hi = int(self.rows[p[0]]), int(self.rows[p[-1]]) + 1
                s = self._file.read(slice(lo, hi))
                parts.append(prepare(s.subset(self.rows[p] - lo), self.label_names, self.cfg))
            arrays = {k: np.concatenate([q[k] for q in parts]) for k in parts[0]}
            if len(self._buffers) >= 2:
                self._buffers.pop(next(iter(self._buffers)))
            self._buffers[key] = (pos, arrays)
        return self._buffers[key]

    def _fetch(self, epoch: int, take: np.ndarray, buffers: np.ndarray) -> dict[str, np.ndarray]:
        if self.cached:
            return {k: v[take] for k, v in self._all.items()}
        out: dict[str, np.ndarray] = {}
        pieces = []
        for b in np.unique(buffers):
            pos, arrays = self._load_buffer(epoch, int(b))
            sel = buffers == b
            pieces.append((sel, {k: v[np.searchsorted(pos, take[sel])] for k, v in arrays.items()}))
        for k in pieces[0][1]:
            first = pieces[0][1][k]
            out[k] = np.empty((take.size, *first.shape[1:]), dtype=first.dtype)
            for sel, arr in pieces:
                out[k][sel] = arr[k]
        return out

    def next_batch(self) -> Batch:
        """The next ``batch_size`` rows (crossing into the next epoch when one ends)."""
        parts = []
        need = self.batch_size
        while need:
            epoch, off = divmod(self.position, self.n_rows)
            order, buf = self._order(epoch)
            n = min(need, self.n_rows - off)
            parts.append(self._fetch(epoch, order[off : off + n], buf[off : off + n]))
            self.position += n
            need -= n
        return to_batch({k: np.concatenate([p[k] for p in parts]) for k in parts[0]})

    def state_dict(self) -> dict:
        return {"position": int(self.position)}

    def load_state_dict(self, state: dict) -> None:
        self.position = int(state["position"])

    def close(self) -> None:
        self._file.close()
