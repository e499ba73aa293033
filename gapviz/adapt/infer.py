"""Label inference: fit the labels of many stars at once through any differentiable forward model.

``fit_labels(forward, flux, flux_err, label_min, label_max)`` minimises, per star,
χ² = Σ_pix ((flux − forward(labels)) / σ)² over usable pixels, with the labels bounded to the box
[label_min, label_max]. ``forward`` maps a tensor of labels (n, L) in physical units to flux (n, npix);
it may be the plain emulator or the emulator followed by the learned synthetic→observed map.

Method (``method="lm"``, the default): the starting point per star is the best by χ² of ``init`` (a warm
start, e.g. the encoder's labels) and a few quasi-random points (the box centre first); it is refined by a
projected Levenberg–Marquardt iteration in scaled label space (z = (x − min)/(max − min) − ½ in [−½, ½]),
all stars batched together. The Jacobian is computed only after an accepted step (a rejected step is retried
with more damping on the same normal equations), in float32: by hand for a plain ``Emulator``, else by
forward-mode autodiff vmapped over the L tangents (central finite differences if ``forward`` does not support
forward mode). Labels on the box edge pushed outward are held there. A star stops as soon as the undamped
Gauss–Newton step would lower its χ² by less than ``tol`` (its labels are then within ≈ √tol σ of the
minimum). The errors come from cov = (Jᵀ W J)⁻¹ at the solution, formed in float64.
``method="legacy"`` is the first fitter (Jacobian after every try, float64 normal equations), kept to compare.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from gapviz.adapt.tangents import hidden_tangents
from gapviz.errors import GapvizError
from gapviz.stats import degrees_of_freedom
from gapviz.theory.emulator import FLUX_MAX, Emulator, resolve_device

Forward = Callable[[torch.Tensor], torch.Tensor]
LM_DAMPING0 = 0.01  # the first damping of the LM iteration, relative to diag(JᵀWJ)


@dataclass
class LabelFit:
    """Best-fitting labels of n stars. labels, labels_err: (n, L) physical units (1σ from (JᵀWJ)⁻¹);
    chi2 (n,); chi2nu (n,) = chi2 / (n_pix − L); n_pix (n,) usable pixels; converged (n,) bool;
    at_bound (n, L) bool: the label sits on the edge of the box (its error is then a lower limit)."""

    labels: np.ndarray
    labels_err: np.ndarray
    chi2: np.ndarray
    chi2nu: np.ndarray
    n_pix: np.ndarray
    converged: np.ndarray
    at_bound: np.ndarray
    label_names: list[str] | None = None


def _as_2d(a, name: str, shape: tuple[int, ...] | None = None) -> np.ndarray:
    a = np.atleast_2d(np.asarray(a.detach().cpu() if isinstance(a, torch.Tensor) else a, dtype=np.float64))
    if shape is not None and a.shape != shape:
        raise GapvizError(f"{name} has shape {a.shape}, expected {shape}")
    return a


class _Problem:
    """The χ² problem of one batch of stars in scaled labels z ∈ [−½, ½]^L."""

    def __init__(self, forward: Forward, flux, weight, lo, width, dtype):
        self.forward, self.flux, self.weight = forward, flux, weight  # weight = mask / σ², (n, npix)
        self.lo, self.width, self.dtype = lo, width, dtype
        self.sqrt_weight = weight.sqrt()

    def model(self, z: torch.Tensor) -> torch.Tensor:
        return self.forward((z + 0.5) * self.width + self.lo).to(self.flux.dtype)

    def chi2(self, z: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        m = self.model(z)
        r2 = (self.flux[rows] - m) ** 2 * self.weight[rows]
        return torch.where(torch.isfinite(m) | (self.weight[rows] == 0), r2, torch.inf).sum(1)

    def jacobian(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """model (n, npix) and d model / dz (n, npix, L): forward-mode AD (vmapped over the L tangents,
        else one pass per label), else central differences for a forward without forward-mode rules."""
        n_label = z.shape[1]
        eye = torch.eye(n_label, dtype=z.dtype, device=z.device)
        with torch.no_grad(), warnings.catch_warnings():  # no graph on the parameters: only d/dz is needed
            # torch's first forward-mode call scripts its decompositions and warns that jit.script is deprecated
            warnings.filterwarnings("ignore", message=".*torch.jit.script.*", category=DeprecationWarning)
            try:
                tangents = eye[:, None, :].expand(n_label, *z.shape)
                jac = torch.func.vmap(lambda t: torch.func.jvp(self.model, (z,), (t,))[1])(tangents)
                return self.model(z), jac.permute(1, 2, 0)
            except Exception:  # vmap or forward mode unsupported by some op of ``forward``
                pass
            try:
                cols = [torch.func.jvp(self.model, (z,), (eye[k].expand_as(z),)) for k in range(n_label)]
                return cols[0][0], torch.stack([dm for _, dm in cols], -1)
            except (RuntimeError, NotImplementedError):
                h = 1e-3
                cols = [(self.model(z + h * eye[k]) - self.model(z - h * eye[k])) / (2 * h) for k in range(n_label)]
                return self.model(z), torch.stack(cols, -1)

    def tangents(self, z: torch.Tensor, pixel_weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
        """model (n, npix) and d model / dz transposed, each pixel times ``pixel_weight`` (n, npix): (n, L, npix),
        by hand where ``forward`` offers ``tangents(params, dparams_dz, pixel_weight)`` (the physical adapter's
        observed decoder); else None."""
        by_hand = getattr(self.forward, "tangents", None)
        if by_hand is None:
            return None
        with torch.no_grad():
            out = by_hand((z + 0.5) * self.width + self.lo, self.width, pixel_weight)
        return None if out is None else (out[0].to(self.flux.dtype), out[1])

    @torch.no_grad()
    def chi2_fast(self, z: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        """χ² (n,) float64 like ``chi2``, in fewer passes (the careful one only where the fast sum is not finite)."""
        m = self.model(z)
        r = (self.flux[rows] - m).mul_(self.sqrt_weight[rows])
        c = r.square_().sum(1, dtype=torch.float64)
        bad = ~torch.isfinite(c)
        if bad.any():  # a non-finite model value: ignored on masked pixels, else the χ² is infinite
            c[bad] = self.chi2(z[bad], rows[bad]).double()
        return c

    @torch.no_grad()
    def normal_equations(self, z: torch.Tensor, rows: torch.Tensor, dtype=torch.float32, chunk: int = 64):
        """χ² (n,), JᵀWJ (n, L, L) and JᵀW r (n, L), float64, at scaled labels z of the batch's ``rows``.
        The products are taken in ``dtype`` over chunks of ``chunk`` stars (the Jacobian of a chunk stays in
        cache); the Jacobian is by hand for a plain Emulator, else from ``jacobian``."""
        n, n_label = z.shape
        a = torch.empty(n, n_label, n_label, dtype=torch.float64, device=z.device)
        g = torch.empty(n, n_label, dtype=torch.float64, device=z.device)
        c2 = torch.empty(n, dtype=torch.float64, device=z.device)
        hidden = buf = None
        if isinstance(self.forward, Emulator):
            hidden = _emulator_hidden(self.forward, (z + 0.5) * self.width + self.lo, self.width)
        if hidden is not None:  # one buffer for every chunk's Jacobian (a fresh one per chunk costs page faults)
            last = self.forward.net[-1]
            buf = torch.empty(min(chunk, n) * n_label, self.flux.shape[1], dtype=last.weight.dtype, device=z.device)
        for s in range(0, n, chunk):
            sl = slice(s, s + chunk)
            sw = self.sqrt_weight[rows[sl]]
            if hidden is not None:  # d flux/dz = FLUX_MAX σ'(o) · (d h / dz) Wᵀ: one matmul for the chunk
                h, tangent = hidden[0][sl], hidden[1][sl]
                k = h.shape[0]
                sig = torch.sigmoid(last(h))
                m = FLUX_MAX * sig
                jw = torch.mm(tangent.reshape(k * n_label, -1), last.weight.T, out=buf[: k * n_label])
                jw = jw.view(k, n_label, -1).mul_((m * (1 - sig) * sw)[:, None, :])
                m = m.to(self.flux.dtype)
            else:
                by_hand = self.tangents(z[sl], sw)
                if by_hand is not None:
                    m, jw = by_hand
                else:
                    m, jac = self.jacobian(z[sl])
                    jw = jac.permute(0, 2, 1).mul(sw[:, None, :].to(jac.dtype))
            rw = (self.flux[rows[sl]] - m).mul_(sw)
            c2[sl] = rw.square().sum(1, dtype=torch.float64)
            bad = ~torch.isfinite(c2[sl])
            if bad.any():  # a non-finite model value: ignored on masked pixels, else the χ² is infinite
                w = self.weight[rows[sl]][bad]
                c2[sl][bad] = torch.where(torch.isfinite(m[bad]) | (w == 0), rw[bad] ** 2, torch.inf).sum(
                    1, dtype=torch.float64)
                masked = self.weight[rows[sl]] == 0
                rw, jw = rw.masked_fill(masked, 0.0), jw.masked_fill(masked[:, None, :], 0.0)
            jw, rw = jw.to(dtype), rw.to(dtype)
            a[sl] = torch.bmm(jw, jw.transpose(1, 2))
            g[sl] = torch.bmm(jw, rw[..., None])[..., 0]
        return c2, a, g


def _emulator_hidden(emu: Emulator, labels: torch.Tensor, dlabels_dz: torch.Tensor):
    """An Emulator's last hidden layer h (n, H) at physical ``labels`` (n, L) and dh/dz (n, L, H), where
    d labels / dz = ``dlabels_dz`` (L,). None if the net is not Linear/activation pairs ending in a Linear."""
    dtype = emu.net[0].weight.dtype
    _, width = emu._box(labels)
    return hidden_tangents(emu.net, emu.scale(labels.to(dtype)), dlabels_dz / width)  # as Emulator.forward


def _module_device(forward) -> torch.device | str:
    """The device a torch module's weights live on ("auto" for anything else)."""
    if isinstance(forward, torch.nn.Module):
        for t in [*forward.parameters(), *forward.buffers()]:
            return t.device
    return "auto"


def _starts(n_starts: int, n_label: int, seed: int, device, dtype) -> torch.Tensor:
    """(n_starts, L) scaled starting points: the box centre, then a scrambled Sobol set shrunk to ±0.4."""
    centre = torch.zeros(1, n_label, dtype=dtype)
    if n_starts <= 1:
        return centre.to(device)
    sobol = torch.quasirandom.SobolEngine(n_label, scramble=True, seed=seed).draw(n_starts - 1).to(dtype)
    return torch.cat([centre, 0.8 * (sobol - 0.5)]).to(device)


def fit_labels(
    forward: Forward,
    flux,
    flux_err,
    label_min,
    label_max,
    init=None,
    n_starts: int = 24,
    n_refine: int = 1,
    max_iter: int = 100,
    err_floor: float = 0.0,
    batch_size: int = 512,
    device: str | torch.device = "auto",
    label_names: list[str] | None = None,
    tol: float | None = None,
    seed: int = 0,
    method: str = "lm",
) -> LabelFit:
    """Fit labels (n, L) so that ``forward(labels)`` reproduces ``flux`` (n, npix) within ``flux_err``.

    flux_err: (n, npix) 1σ; non-finite or ≤ 0 masks the pixel; σ is raised to ``err_floor`` (flux units).
    label_min, label_max: (L,) the box the labels are bounded to (physical units).
    init: optional (n, L) starting labels, scored alongside the ``n_starts`` built-in starts.
    n_refine: how many of the best-scoring starts each star refines (the lowest final χ² wins).
    method: "lm" (see the module doc) or "legacy" (the first fitter, slower; kept to compare).
    tol: "lm": a star is ``converged`` when the Gauss–Newton step would lower its χ² by less than ``tol``
    (default 1e-3, i.e. the labels are within ≈ 0.03 σ of the minimum) or no step lowers it any more;
    "legacy": when its χ² changes by less than ``tol`` (relative, default 1e-4) with a small step.
    ``forward`` must accept labels on ``device`` ("auto": where a module's weights are, else cuda if
    available); it is called without gradients on its parameters.
    """
    from gapviz.adapt.fit_steps import _best_starts, _fit_batch_legacy, _fit_batch_lm

    flux = _as_2d(flux, "flux")
    n_star, n_pix = flux.shape
    flux_err = _as_2d(flux_err, "flux_err", (n_star, n_pix))
    lo = np.asarray(label_min, dtype=np.float64).reshape(-1)
    hi = np.asarray(label_max, dtype=np.float64).reshape(-1)
    n_label = lo.size
    if hi.shape != lo.shape or not np.all(hi >= lo) or not np.all(np.isfinite(lo) & np.isfinite(hi)):
        raise GapvizError(f"label box: expected finite label_min <= label_max of equal length, got {lo} and {hi}")
    if init is not None:
        init = _as_2d(init, "init", (n_star, n_label))
    if method not in ("lm", "legacy"):
        raise GapvizError(f"fit_labels method {method!r}: expected 'lm' or 'legacy'")
    fit_batch = _fit_batch_lm if method == "lm" else _fit_batch_legacy
    if tol is None:
        tol = 1e-3 if method == "lm" else 1e-4
    dev = resolve_device(_module_device(forward) if str(device) == "auto" else device)

    sigma = np.maximum(flux_err, err_floor)
    usable = np.isfinite(flux) & np.isfinite(flux_err) & (flux_err > 0)
    weight = np.where(usable, 1.0 / np.where(usable, sigma, 1.0) ** 2, 0.0)
    n_used = usable.sum(1)
    if np.any(n_used <= n_label):
        star = int(np.flatnonzero(n_used <= n_label)[0])
        raise GapvizError(
            f"star {star} has {n_used[star]} usable pixel(s) (finite flux, flux_err > 0); "
            f"fitting {n_label} labels needs more"
        )

    out = {k: [] for k in ("labels", "labels_err", "chi2", "converged", "at_bound")}
    dtype = torch.float64
    width_np = hi - lo  # a label with lo == hi stays fixed at lo (zero Jacobian column, zero error)
    lo_t = torch.as_tensor(lo, device=dev)
    width_t = torch.as_tensor(width_np, device=dev)
    starts = _starts(n_starts, n_label, seed, dev, dtype)
    for s in range(0, n_star, batch_size):
        sl = slice(s, min(s + batch_size, n_star))
        prob = _Problem(
            forward,
            torch.as_tensor(np.where(usable[sl], flux[sl], 0.0), device=dev, dtype=torch.float32),
            torch.as_tensor(weight[sl], device=dev, dtype=torch.float32),
            lo_t,
            width_t,
            dtype,
        )
        z_init = None
        if init is not None:
            z0 = (init[sl] - lo) / np.where(width_np > 0, width_np, 1.0) - 0.5
            z_init = torch.as_tensor(np.clip(z0, -0.5, 0.5), device=dev)
        z0 = _best_starts(prob, starts, z_init, n_refine)  # (n, k, L)
        n, k = z0.shape[:2]
        if k > 1:  # each start is a row of its own; the best final χ² per star is kept
            prob = _Problem(forward, prob.flux.repeat_interleave(k, 0), prob.weight.repeat_interleave(k, 0),
                            lo_t, width_t, dtype)
        res = fit_batch(prob, z0.reshape(n * k, n_label), max_iter, tol)
        pick = np.arange(n) * k + res[2].reshape(n, k).argmin(1)
        for key, v in zip(out, res):
            out[key].append(v[pick])

    z = np.concatenate(out["labels"])
    chi2 = np.concatenate(out["chi2"])
    dof = degrees_of_freedom(np.asarray(n_used), n_label)
    return LabelFit(
        labels=(z + 0.5) * width_np + lo,
        labels_err=np.concatenate(out["labels_err"]) * width_np,
        chi2=chi2,
        chi2nu=chi2 / dof,
        n_pix=n_used,
        converged=np.concatenate(out["converged"]),
        at_bound=np.concatenate(out["at_bound"]),
        label_names=list(label_names) if label_names is not None else None,
    )
