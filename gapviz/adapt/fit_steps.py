"""The iterations of ``gapviz.adapt.infer.fit_labels`` on one batch of stars: choosing starts, the projected
Levenberg–Marquardt iteration (``method="lm"``) and the first Gauss–Newton fitter (``method="legacy"``).
The method itself is described in ``gapviz.adapt.infer``."""

from __future__ import annotations

import torch

from gapviz.adapt.infer import LM_DAMPING0, _Problem


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


def _fit_batch_legacy(prob: _Problem, z: torch.Tensor, max_iter: int, tol: float):
    """The first fitter (``method="legacy"``): projected Levenberg–Marquardt from z (n, L) that recomputes the
    Jacobian after every try, rejected or not; kept to compare against. Returns numpy (z, z_err, chi2,
    converged, at_bound)."""
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


def _fit_batch_lm(prob: _Problem, z: torch.Tensor, max_iter: int, tol: float):
    """Projected Levenberg–Marquardt from z (n, L), the Jacobian only after accepted steps, each star stopping
    on its own; returns numpy (z, z_err, chi2, converged, at_bound)."""
    n, n_label = z.shape
    dev = z.device
    f64 = torch.float64
    z = z.to(f64).clone()
    lam = torch.full((n,), LM_DAMPING0, dtype=f64, device=dev)  # damping, relative to diag(JᵀWJ)
    nu = torch.full((n,), 2.0, dtype=f64, device=dev)
    a_all = torch.zeros(n, n_label, n_label, dtype=f64, device=dev)
    g_all = torch.zeros(n, n_label, dtype=f64, device=dev)
    chi2 = torch.full((n,), torch.inf, dtype=f64, device=dev)
    fresh = torch.ones(n, dtype=torch.bool, device=dev)  # z moved: its normal equations are needed
    done = torch.zeros(n, dtype=torch.bool, device=dev)
    converged = torch.zeros(n, dtype=torch.bool, device=dev)
    for _ in range(max_iter):
        active = torch.nonzero(~done).flatten()
        if active.numel() == 0:
            break
        need = active[fresh[active]]
        if need.numel():
            chi2[need], a_all[need], g_all[need] = prob.normal_equations(z[need], need)
            fresh[need] = False
        za, a, g = z[active], a_all[active], g_all[active]
        diag = torch.diagonal(a, dim1=-2, dim2=-1)
        # held: no leverage (a fixed label), or on the box edge with the descent pointing out of the box
        free = (diag > 0) & ~((za <= -0.5) & (g < 0)) & ~((za >= 0.5) & (g > 0))
        both = free[:, :, None] & free[:, None, :]
        a_free = torch.where(both, a, 0.0) + torch.diag_embed((~free).to(f64))
        g_free = torch.where(free, g, 0.0)
        d_free = torch.where(free, diag, 0.0)
        # the undamped (Gauss–Newton) gain gᵀA⁻¹g: below tol the star is at its minimum
        gn = _solve(a_free + 1e-12 * torch.diag_embed(d_free), g_free)
        gain = (g_free * gn).sum(1)
        stop = torch.isfinite(gain) & (gain < tol)
        converged[active[stop]] = True
        done[active[stop]] = True
        go = ~stop
        active, za, a, g_free, d_free, a_free = active[go], za[go], a[go], g_free[go], d_free[go], a_free[go]
        if active.numel() == 0:
            break
        step = _solve(a_free + lam[active][:, None, None] * torch.diag_embed(d_free), g_free)
        trial = (za + step).clamp(-0.5, 0.5)
        s = trial - za
        predicted = 2 * (g_free * s).sum(1) - torch.einsum("nk,nkl,nl->n", s, a, s)
        with torch.no_grad():
            c = prob.chi2_fast(trial, active)
        c0 = chi2[active]
        better = torch.isfinite(c) & (c < c0)
        rho = (c0 - c) / predicted.clamp_min(1e-300)
        ok = active[better]
        z[ok] = trial[better]
        chi2[ok] = c[better]
        fresh[ok] = True
        lam[ok] = (lam[ok] * torch.clamp_min(1 - (2 * rho[better] - 1) ** 3, 1 / 3)).clamp_min(1e-9)
        nu[ok] = 2.0
        bad = active[~better]
        lam[bad] = lam[bad] * nu[bad]
        nu[bad] = nu[bad] * 2
        # a step that gained and promised next to nothing (where the Gauss–Newton gain overstates what is left,
        # the residuals being large), or damped so hard that the step is nothing yet χ² does not fall: a minimum
        small = better & (c0 - c < 10 * tol) & (predicted < 10 * tol)
        stuck = torch.cat([active[small], bad[lam[bad] > 1e6]])
        converged[stuck] = True
        done[stuck] = True

    rows = torch.arange(n, device=dev)
    c_final, a, _ = prob.normal_equations(z, rows, dtype=f64)
    cov = torch.linalg.pinv(a, hermitian=True)
    err = torch.sqrt(torch.diagonal(cov, dim1=-2, dim2=-1).clamp_min(0))
    at_bound = z.abs() >= 0.5 - 1e-6
    as_np = lambda t: t.detach().cpu().numpy()
    return as_np(z), as_np(err), as_np(c_final), as_np(converged), as_np(at_bound)


def _solve(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """a⁻¹ b for a batch of symmetric (n, L, L) and (n, L); NaN rows where a is singular."""
    x, info = torch.linalg.solve_ex(a, b[..., None])
    return torch.where((info == 0)[:, None], x[..., 0], torch.nan)
