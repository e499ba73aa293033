"""Label inference: fit the labels of many stars at once through any differentiable forward model.

``fit_labels(forward, flux, flux_err, label_min, label_max)`` minimises, per star,
χ² = Σ_pix ((flux − forward(labels)) / σ)² over usable pixels, with the labels bounded to the box
[label_min, label_max]. ``forward`` maps a tensor of labels (n, L) in physical units to flux (n, npix);
it may be the plain emulator or the emulator followed by the learned synthetic→observed map.

Method: a quasi-random set of starting points (the box centre first) scored by χ², the best one per star
refined by a projected Levenberg–Marquardt iteration in scaled label space (z = (x − min)/(max − min) − ½
in [−½, ½]), all stars batched together. The Jacobian comes from forward-mode autodiff (L tangent passes;
central finite differences if ``forward`` does not support forward mode), and the errors from
cov = (Jᵀ W J)⁻¹ at the solution.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from gapviz.errors import GapvizError
from gapviz.stats import degrees_of_freedom
from gapviz.theory.emulator import resolve_device

Forward = Callable[[torch.Tensor], torch.Tensor]


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
    tol: float = 1e-4,
    seed: int = 0,
) -> LabelFit:
    """Fit labels (n, L) so that ``forward(labels)`` reproduces ``flux`` (n, npix) within ``flux_err``.

    flux_err: (n, npix) 1σ; non-finite or ≤ 0 masks the pixel; σ is raised to ``err_floor`` (flux units).
    label_min, label_max: (L,) the box the labels are bounded to (physical units).
    init: optional (n, L) starting labels, scored alongside the ``n_starts`` built-in starts.
    n_refine: how many of the best-scoring starts each star refines (the lowest final χ² wins).
    A star is ``converged`` when its χ² changes by less than ``tol`` (relative) with a small step.
    ``forward`` must accept labels on ``device`` ("auto": where a module's weights are, else cuda if
    available); it is called without gradients on its parameters.
    """
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
        res = _fit_batch(prob, z0.reshape(n * k, n_label), max_iter, tol)
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


def _best_starts(prob: _Problem, starts: torch.Tensor, z_init: torch.Tensor | None, k: int) -> torch.Tensor:
    """Per star, the ``k`` candidate starts with the lowest χ², best first: (n, k, L)."""
    n = prob.flux.shape[0]
    rows = torch.arange(n, device=starts.device)
    candidates = [starts[i : i + 1].expand(n, -1) for i in range(starts.shape[0])]
    if z_init is not None:
        candidates.insert(0, z_init)
    with torch.no_grad():
        c = torch.stack([prob.chi2(cand, rows) for cand in candidates], 1)  # (n, C)
    order = torch.sort(c, dim=1, stable=True).indices[:, : min(max(k, 1), len(candidates))]  # ties: first wins
    return torch.stack(candidates, 1)[rows[:, None], order]


def _normal_equations(prob: _Problem, z: torch.Tensor, rows: torch.Tensor):
    """χ² (n,), JᵀWJ (n, L, L) and JᵀW r (n, L) at scaled labels z, in float64."""
    m, jac = prob.jacobian(z)
    w = prob.weight[rows]
    r = prob.flux[rows] - m
    chi2 = (r**2 * w).sum(1).double()
    jw = (jac * w[..., None]).double()
    a = torch.einsum("npk,npl->nkl", jw, jac.double())
    g = torch.einsum("npk,np->nk", jw, r.double())
    return chi2, a, g


def _fit_batch(prob: _Problem, z: torch.Tensor, max_iter: int, tol: float):
    """Projected Levenberg–Marquardt from z (n, L); returns numpy (z, z_err, chi2, converged, at_bound)."""
    n, n_label = z.shape
    dev = z.device
    z = z.to(prob.dtype).clone()
    lam = torch.full((n,), 1e-2, dtype=torch.float64, device=dev)
    converged = torch.zeros(n, dtype=torch.bool, device=dev)
    stalls = torch.zeros(n, dtype=torch.int64, device=dev)
    chi2 = torch.full((n,), torch.inf, dtype=torch.float64, device=dev)
    eye = torch.eye(n_label, dtype=torch.float64, device=dev)
    for _ in range(max_iter):
        active = torch.nonzero(~converged).flatten()
        if active.numel() == 0:
            break
        za = z[active]
        c0, a, g = _normal_equations(prob, za, active)
        chi2[active] = c0
        diag = torch.diagonal(a, dim1=-2, dim2=-1).clamp_min(1e-12)
        # try the current damping and a 10× larger one; keep, per star, whichever lowers χ² the most
        best_c, best_z = c0.clone(), za.clone()
        for factor in (1.0, 10.0):
            damp = (lam[active] * factor)[:, None, None] * (torch.diag_embed(diag) + 1e-9 * eye)
            step = torch.linalg.solve(a + damp, g[..., None])[..., 0]
            trial = (za + step.to(za.dtype)).clamp(-0.5, 0.5)
            with torch.no_grad():
                c = prob.chi2(trial, active).double()
            better = c < best_c
            best_c = torch.where(better, c, best_c)
            best_z[better] = trial[better]
        improved = best_c < c0
        rel = (c0 - best_c) / c0.clamp_min(1e-30)
        moved = (best_z - za).abs().amax(1)
        z[active] = best_z
        chi2[active] = torch.minimum(best_c, c0)
        lam[active] = torch.where(improved, lam[active] / 3, lam[active] * 8).clamp(1e-7, 1e7)
        stalls[active] = torch.where(improved, 0, stalls[active] + 1)
        # a small gain with a small step, or three failed tries in a row (damping up 8× each): a minimum
        converged[active] = (improved & (rel < tol) & (moved < 1e-3)) | (stalls[active] >= 3)

    rows = torch.arange(n, device=dev)
    c_final, a, _ = _normal_equations(prob, z, rows)
    cov = torch.linalg.pinv(a, hermitian=True)
    err = torch.sqrt(torch.diagonal(cov, dim1=-2, dim2=-1).clamp_min(0))
    at_bound = (z.abs() >= 0.5 - 1e-6)
    as_np = lambda t: t.detach().cpu().numpy()  # noqa: E731
    return as_np(z.double()), as_np(err), as_np(c_final), as_np(converged), as_np(at_bound)
