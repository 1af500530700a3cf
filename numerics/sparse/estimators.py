r"""Batched in-context estimators for sparse linear regression (SPEC 7.2), on torch tensors, CPU or GPU.

Every estimator maps a batch of ``M`` prompts — context ``x (M, n, d)``, labels ``y (M, n)``, query ``xq (M, d)``
(any float dtype; float64 recommended) — to predictions ``(M,)``. All work through the per-prompt sufficient
statistics :math:`G = X^\top X/n` (``(M, d, d)``), :math:`b = \hat r = X^\top y/n` (``(M, d)``) and
:math:`\|y\|^2/n`, except OLS (pseudo-inverse of ``x``).

Definitions (the package's own, SPEC 7; [CZZ24]'s exact forms are not public to us — change them here only):

* **OLS** — minimum-norm least squares :math:`\hat\beta = X^+ y` (valid for ``n < d`` too).
* **ridge** — :math:`\hat\beta = (G + \lambda I)^{-1} b`, the minimiser of
  :math:`\frac1{2n}\|y - Xw\|^2 + \frac\lambda2\|w\|^2` (``lam = 0`` is OLS).
* **GD** — ``steps`` = T steps of gradient descent from 0 on :math:`\frac1{2n}\|y-Xw\|^2` with step
  :math:`\eta`: :math:`w_{t+1} = w_t + \eta\,(b - G w_t)`, predict :math:`w_T^\top x_q`.
* **Lasso** — the minimiser of :math:`\frac1{2n}\|y - Xw\|^2 + \lambda\|w\|_1` (scikit-learn's ``Lasso(alpha=lam,
  fit_intercept=False)``), by batched cyclic coordinate descent stopped when every prompt's duality gap is
  :math:`\le` ``tol`` :math:`\cdot\|y\|^2/n` (scikit-learn's criterion).
* **PtO** (preprocess-then-optimize) — see :func:`pto_features`: features :math:`\tilde x = P x` with
  :math:`P` built from :math:`\hat r = b`, then T steps of GD from 0 on
  :math:`\frac1{2n}\sum_i (y_i - \tilde w^\top \tilde x_i)^2`, predict :math:`\tilde w_T^\top P x_q`.
"""
from __future__ import annotations

import math
import warnings
from typing import Sequence

import torch

from theory.validate import check_float, check_int, check_tensor

__all__ = ["even_groups", "gd", "lasso", "lasso_coef", "ols", "pto", "pto_features", "pto_matrix", "ridge",
           "check_groups", "stats"]


# ----------------------------------------------------------------------------------------------- checks
def _check(x, y, xq) -> tuple[int, int, int]:
    check_tensor("x", x, (None, None, None))
    if not x.is_floating_point():
        raise ValueError(f"x must be a floating-point tensor, got {x.dtype}")
    M, n, d = x.shape
    if M < 1 or n < 1 or d < 1:
        raise ValueError(f"x must have shape (M, n, d) with M, n, d >= 1, got {tuple(x.shape)}")
    check_tensor("y", y, (M, n))
    check_tensor("xq", xq, (M, d))
    if not (y.is_floating_point() and xq.is_floating_point()):
        raise ValueError("y and xq must be floating-point tensors")
    return M, n, d


def _check_steps_eta(steps, eta) -> tuple[int, float]:
    return check_int("steps", steps, lo=0, hi=100_000), check_float("eta", eta, lo=0.0, hi=1e6)


def check_groups(groups, d: int) -> list[list[int]]:
    """``groups``: a partition of the coordinates ``0..d-1`` into ``H >= 1`` non-empty blocks (one per head)."""
    try:
        blocks = [[check_int("groups entry", j, lo=0, hi=d - 1) for j in g] for g in groups]
    except TypeError:
        raise ValueError(f"groups must be a sequence of coordinate blocks, got {groups!r}") from None
    if not blocks or any(not g for g in blocks):
        raise ValueError("groups must be non-empty blocks, at least one")
    flat = sorted(j for g in blocks for j in g)
    if flat != list(range(d)):
        raise ValueError(f"groups must partition the coordinates 0..{d - 1} (each exactly once), got {groups!r}")
    return blocks


def even_groups(d: int, H: int) -> list[list[int]]:
    """``H`` contiguous blocks partitioning ``0..d-1``, sizes as equal as possible (the larger ones first)."""
    d = check_int("d", d, lo=1)
    H = check_int("H", H, lo=1, hi=d)
    q, r = divmod(d, H)
    out, start = [], 0
    for h in range(H):
        size = q + (h < r)
        out.append(list(range(start, start + size)))
        start += size
    return out


# ------------------------------------------------------------------------------------------ statistics
def stats(x, y) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    r"""Per-prompt :math:`G = X^\top X/n` ``(M, d, d)``, :math:`b = \hat r = X^\top y/n` ``(M, d)``,
    :math:`\|y\|^2/n` ``(M,)``."""
    n = x.shape[1]
    G = x.transpose(1, 2) @ x / n
    b = torch.einsum("mnd,mn->md", x, y) / n
    yy = (y * y).sum(1) / n
    return G, b, yy


def _gd_weights(G, b, steps: int, etas: torch.Tensor) -> torch.Tensor:
    """GD from 0 for every step size in ``etas (K,)`` at once: weights ``(K, M, d)`` after ``steps`` steps."""
    w = torch.zeros((etas.shape[0],) + tuple(b.shape), dtype=b.dtype, device=b.device)
    e = etas.view(-1, 1, 1)
    for _ in range(steps):
        w = w + e * (b - torch.einsum("mij,kmj->kmi", G, w))
    return w


# ------------------------------------------------------------------------------------------ estimators
def ols(x, y, xq) -> torch.Tensor:
    r"""Minimum-norm least squares :math:`\hat y = (X^+ y)^\top x_q` (pseudo-inverse by SVD; any ``n``, ``d``)."""
    _check(x, y, xq)
    beta = (torch.linalg.pinv(x) @ y.unsqueeze(-1)).squeeze(-1)
    return (beta * xq).sum(-1)


def _ridge_path(G, b, lams: torch.Tensor) -> torch.Tensor:
    """Ridge weights ``(K, M, d)`` for every ``lams (K,)`` (``> 0``) from one eigendecomposition of ``G``."""
    e, V = torch.linalg.eigh(G)  # (M, d), (M, d, d)
    c = torch.einsum("mji,mj->mi", V, b)  # V^T b
    coef = c.unsqueeze(0) / (e.clamp_min(0).unsqueeze(0) + lams.view(-1, 1, 1))
    return torch.einsum("mij,kmj->kmi", V, coef)


def ridge(x, y, xq, lam: float) -> torch.Tensor:
    r"""Ridge :math:`\hat\beta = (X^\top X/n + \lambda I)^{-1} X^\top y/n`, minimiser of
    :math:`\frac1{2n}\|y-Xw\|^2+\frac\lambda2\|w\|^2`; ``lam = 0`` is :func:`ols`."""
    _check(x, y, xq)
    lam = check_float("lam", lam, lo=0.0, hi=1e12)
    if lam == 0.0:
        return ols(x, y, xq)
    G, b, _ = stats(x, y)
    w = _ridge_path(G, b, torch.tensor([lam], dtype=b.dtype, device=b.device))[0]
    return (w * xq).sum(-1)


def gd(x, y, xq, *, steps: int, eta: float) -> torch.Tensor:
    r"""T = ``steps`` steps of GD from 0 on :math:`\frac1{2n}\sum_i(y_i - w^\top x_i)^2` with step ``eta``:
    :math:`w_{t+1} = w_t + \frac\eta n X^\top(y - Xw_t)`; returns :math:`w_T^\top x_q`.

    Converges (as T grows) for :math:`0<\eta<2/\lambda_{\max}(X^\top X/n)`; diverges geometrically above.
    """
    _check(x, y, xq)
    steps, eta = _check_steps_eta(steps, eta)
    G, b, _ = stats(x, y)
    w = _gd_weights(G, b, steps, torch.tensor([eta], dtype=b.dtype, device=b.device))[0]
    return (w * xq).sum(-1)


def pto_matrix(b: torch.Tensor, groups: Sequence[Sequence[int]] | None = None) -> torch.Tensor:
    r"""The preprocessing map :math:`P` ``(M, H, d)`` of PtO from :math:`\hat r = b` ``(M, d)`` (SPEC 7.2).

    * ``groups=None`` (the d-head first layer): :math:`P = D = \operatorname{diag}(\hat r)/\|\hat r\|_\infty`
      (``H = d``).
    * **group-wise** (``H`` heads, head ``h`` owning block :math:`S_h`; the blocks partition the coordinates):
      row ``h`` of :math:`P` is :math:`\hat r_{S_h}` on :math:`S_h` and 0 elsewhere, divided by
      :math:`\max_{h'}\|\hat r_{S_{h'}}\|_2`. So head ``h`` outputs the scalar feature
      :math:`\tilde x_h = \sum_{j\in S_h}\hat r_j x_j / \max_{h'}\|\hat r_{S_{h'}}\|_2`, and the optimisation runs on
      the ``H``-dimensional features :math:`\tilde x = P x`. Singleton blocks give exactly ``D`` (the normaliser
      becomes :math:`\|\hat r\|_\infty`); one block (``H = 1``) gives the single feature
      :math:`\hat r^\top x/\|\hat r\|_2`, i.e. a line search along the first GD direction.

    The normaliser is per prompt (SPEC 7.2: without it a fixed step diverges). A prompt with :math:`\hat r = 0`
    gets :math:`P = 0` (prediction 0).
    """
    M, d = b.shape
    if groups is None:
        scale = b.abs().amax(-1)
        scale = torch.where(scale > 0, scale, torch.ones_like(scale))
        return torch.diag_embed(b / scale.unsqueeze(-1))
    blocks = check_groups(groups, d)
    H = len(blocks)
    mask = torch.zeros(H, d, dtype=b.dtype, device=b.device)
    for h, g in enumerate(blocks):
        mask[h, g] = 1.0
    P = mask.unsqueeze(0) * b.unsqueeze(1)  # (M, H, d)
    scale = P.norm(dim=-1).amax(-1)
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))
    return P / scale.view(-1, 1, 1)


def pto_features(x, y, xq, groups: Sequence[Sequence[int]] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    r"""PtO's preprocessed prompt: :math:`\tilde x_i = P x_i` ``(M, n, H)`` and :math:`\tilde x_q = P x_q` ``(M, H)``,
    with :math:`P` of :func:`pto_matrix` (``H = d`` for ``groups=None``)."""
    _check(x, y, xq)
    _, b, _ = stats(x, y)
    P = pto_matrix(b, groups)
    return torch.einsum("mhd,mnd->mnh", P, x), torch.einsum("mhd,md->mh", P, xq)


def _pto_weights(G, b, steps: int, etas: torch.Tensor, groups=None):
    """PtO weights in feature space ``(K, M, H)`` for every step size, and the map ``P (M, H, d)``."""
    P = pto_matrix(b, groups)
    Gt = P @ G @ P.transpose(1, 2)  # (M, H, H) = X~^T X~ / n
    bt = torch.einsum("mhd,md->mh", P, b)  # X~^T y / n
    return _gd_weights(Gt, bt, steps, etas), P


def pto(x, y, xq, *, steps: int, eta: float, groups: Sequence[Sequence[int]] | None = None) -> torch.Tensor:
    r"""Preprocess-then-optimize (SPEC 7.2): T = ``steps`` steps of GD from 0 with step ``eta`` on the
    preprocessed features :math:`\tilde x = P x` of :func:`pto_matrix` (``groups=None``: :math:`P = D =
    \operatorname{diag}(\hat r)/\|\hat r\|_\infty`); returns :math:`\tilde w_T^\top P x_q`.

    Since :math:`|D_{jj}|\le 1`, :math:`\lambda_{\max}(\tilde X^\top\tilde X/n)\le\lambda_{\max}(X^\top X/n)`: any
    step that is stable for GD is stable for PtO.
    """
    _check(x, y, xq)
    steps, eta = _check_steps_eta(steps, eta)
    G, b, _ = stats(x, y)
    w, P = _pto_weights(G, b, steps, torch.tensor([eta], dtype=b.dtype, device=b.device), groups)
    return (w[0] * torch.einsum("mhd,md->mh", P, xq)).sum(-1)


# ------------------------------------------------------------------------------------------------ Lasso
def _soft(z, t):
    return torch.sign(z) * (z.abs() - t).clamp_min(0)


def _lasso_gap(G, b, yy, w, c, lam: float) -> torch.Tensor:
    r"""Duality gap of :math:`\frac1{2n}\|y-Xw\|^2+\lambda\|w\|_1` per prompt (``c = G w``), scikit-learn's form
    divided by ``n``."""
    r2 = (yy - 2 * (w * b).sum(-1) + (w * c).sum(-1)).clamp_min(0)  # ||R||^2 / n
    dual = (b - c).abs().amax(-1)  # ||X^T R||_inf / n
    const = torch.where(dual > lam, lam / dual.clamp_min(1e-300), torch.ones_like(dual))
    ry = yy - (w * b).sum(-1)  # R^T y / n
    return 0.5 * r2 * (1 + const * const) + lam * w.abs().sum(-1) - const * ry


def _lasso_polish(G, b, w, lam: float) -> torch.Tensor:
    r"""Solve the Lasso's KKT equations on the support and signs of ``w``: :math:`w_A = G_{AA}^{-1}(b_A-\lambda\,
    \operatorname{sign}(w_A))`, 0 off :math:`A` (a candidate point; the caller keeps it only where its duality gap
    is smaller). Prompts whose system is singular keep ``w``."""
    A = w != 0
    Af = A.to(G.dtype)
    eye = torch.diag_embed(1.0 - Af)
    mat = G * Af.unsqueeze(-1) * Af.unsqueeze(-2) + eye
    rhs = (b - lam * torch.sign(w)) * Af
    sol, info = torch.linalg.solve_ex(mat, rhs)
    ok = (info == 0) & sol.isfinite().all(-1)
    return torch.where(ok.unsqueeze(-1), sol, w)


def _lasso_cd(G, b, yy, lam: float, w0=None, *, tol: float, max_iter: int, check_every: int = 5):
    """Batched cyclic coordinate descent from ``w0`` (default 0), with a KKT polish on the current support at every
    check and the converged prompts dropped from the batch; returns ``(w, max relative gap, sweeps)``.

    Every returned point is certified by its own duality gap (the polish is only a candidate)."""
    M, d = b.shape
    w_all = torch.zeros_like(b) if w0 is None else w0.clone()
    gap_all = torch.full_like(yy, math.inf)
    thr_all = tol * yy
    idx = torch.arange(M, device=b.device)
    Gs, bs, yys, thr, w = G, b, yy, thr_all, w_all.clone()
    c = torch.einsum("mij,mj->mi", Gs, w)
    sweep = 0
    while True:
        diag = Gs.diagonal(dim1=1, dim2=2)
        inv = torch.where(diag > 0, 1.0 / diag.clamp_min(1e-300), torch.zeros_like(diag))
        Gcols = Gs.transpose(1, 2).contiguous()  # Gcols[:, j] = column j of G
        for _ in range(check_every):
            sweep += 1
            for j in range(d):
                wj = w[:, j]
                new = _soft(bs[:, j] - c[:, j] + diag[:, j] * wj, lam) * inv[:, j]
                delta = new - wj
                w[:, j] = new
                c.addcmul_(Gcols[:, j], delta.unsqueeze(-1))
        gap = _lasso_gap(Gs, bs, yys, w, c, lam)
        wp = _lasso_polish(Gs, bs, w, lam)
        cp = torch.einsum("mij,mj->mi", Gs, wp)
        gp = _lasso_gap(Gs, bs, yys, wp, cp, lam)
        gp = torch.where(gp.isfinite(), gp, torch.full_like(gp, math.inf))
        better = gp < gap
        w = torch.where(better.unsqueeze(-1), wp, w)
        c = torch.where(better.unsqueeze(-1), cp, c)
        gap = torch.where(better, gp, gap)
        w_all[idx], gap_all[idx] = w, gap
        keep = gap > thr
        if not bool(keep.any()) or sweep >= max_iter:
            break
        if not bool(keep.all()):
            idx, Gs, bs, yys, thr, w, c = idx[keep], Gs[keep], bs[keep], yys[keep], thr[keep], w[keep], c[keep]
    rel = float((gap_all / yy.clamp_min(1e-300)).max())
    if rel > tol:
        warnings.warn(f"lasso: coordinate descent stopped at max_iter={max_iter} sweeps with relative duality gap "
                      f"{rel:.3g} > tol={tol:g}", RuntimeWarning, stacklevel=3)
    return w_all, rel, sweep


def _lasso_homotopy(G, b, lams: torch.Tensor, *, max_events: int | None = None):
    r"""Exact Lasso solutions ``(K, M, d)`` at every ``lams (K,)`` (``> 0``) by the homotopy (LARS-Lasso) path.

    On an active set :math:`A` with signs :math:`s_A` the solution is linear in :math:`\lambda`:
    :math:`w_A(\lambda) = G_{AA}^{-1}b_A - \lambda G_{AA}^{-1}s_A`; going down from :math:`\lambda_0=\|b\|_\infty`
    (where :math:`w = 0`), the next breakpoint is the largest :math:`\lambda` below the current one at which an
    inactive correlation :math:`|b_j - (Gw)_j|` reaches :math:`\lambda` (join) or an active :math:`w_j` reaches 0
    (leave). All running prompts advance together, one event per step (masked batched solves); a prompt stops once
    its path is below ``min(lams)``. Returns the solutions and a mask ``(M,)`` of prompts whose path got there
    within ``max_events`` without a singular system (the caller certifies every point by its duality gap anyway)."""
    M, d = b.shape
    max_events = 8 * d + 20 if max_events is None else max_events
    W = torch.zeros((lams.shape[0], M, d), dtype=b.dtype, device=b.device)
    lam_min = float(lams.min())
    rows = torch.arange(M, device=b.device)
    j0 = b.abs().argmax(-1)
    active = torch.zeros((M, d), dtype=torch.bool, device=b.device)
    active[rows, j0] = True
    sign = torch.zeros((M, d), dtype=b.dtype, device=b.device)
    sign[rows, j0] = torch.sign(b[rows, j0])
    lam_k = b.abs().amax(-1)
    good = torch.ones(M, dtype=torch.bool, device=b.device)
    finished = lam_k <= lam_min
    idx = rows[~finished]
    Gs, bs, act, sg, lk = G[idx], b[idx], active[idx], sign[idx], lam_k[idx]
    # events barred at the next breakpoint: the coordinate that just joined cannot leave, and the one that just
    # left cannot re-join with the sign it had (rounding would otherwise let it flip back just below the cap and
    # then move the wrong way); it may join with the other sign
    bar_p = torch.zeros((idx.shape[0], d), dtype=torch.bool, device=b.device)
    bar_m, bar_l = bar_p.clone(), bar_p.clone()
    bar_l[torch.arange(idx.shape[0], device=b.device), j0[idx]] = True
    rel = 1e-11
    for _ in range(max_events):
        m = idx.shape[0]
        if m == 0:
            break
        Af = act.to(b.dtype)
        mat = Gs * Af.unsqueeze(-1) * Af.unsqueeze(-2) + torch.diag_embed(1.0 - Af)
        sol, info = torch.linalg.solve_ex(mat, torch.stack([bs * Af, sg * Af], -1))
        u, v = sol[..., 0] * Af, sol[..., 1] * Af
        ok = (info == 0) & u.isfinite().all(-1) & v.isfinite().all(-1)
        alpha = bs - torch.einsum("mij,mj->mi", Gs, u)  # inactive correlation = alpha + lam * beta
        beta = torch.einsum("mij,mj->mi", Gs, v)
        cap = (lk * (1 - rel)).unsqueeze(-1)
        ninf = torch.full_like(alpha, -math.inf)

        def valid(z, where):
            return torch.where(where & (z > 0) & (z < cap) & z.isfinite(), z, ninf)

        cand = torch.cat([valid(alpha / (1 - beta), ~act & ~bar_p), valid(-alpha / (1 + beta), ~act & ~bar_m),
                          valid(u / v, act & ~bar_l)], -1)
        lam_next, arg = cand.max(-1)
        lam_next = torch.where(lam_next.isfinite(), lam_next, torch.zeros_like(lam_next))
        inseg = (lams.view(-1, 1) <= lk.view(1, -1)) & (lams.view(-1, 1) >= lam_next.view(1, -1)) & ok.view(1, -1)
        Wseg = u.unsqueeze(0) - lams.view(-1, 1, 1) * v.unsqueeze(0)  # (K, m, d)
        W[:, idx] = torch.where(inseg.unsqueeze(-1), Wseg, W[:, idx])
        kind, j = arg // d, arg % d
        r = torch.arange(m, device=b.device)
        join = ok & (kind < 2)
        act[r[join], j[join]] = True
        sg[r[join], j[join]] = torch.where(kind[join] == 0, 1.0, -1.0).to(b.dtype)
        leave = ok & (kind == 2)
        old = sg[r, j]
        bar_p, bar_m, bar_l = torch.zeros_like(bar_p), torch.zeros_like(bar_m), torch.zeros_like(bar_l)
        bar_l[r[join], j[join]] = True
        bar_p[r[leave & (old > 0)], j[leave & (old > 0)]] = True
        bar_m[r[leave & (old < 0)], j[leave & (old < 0)]] = True
        act[r[leave], j[leave]] = False
        sg[r[leave], j[leave]] = 0.0
        good[idx[~ok]] = False
        lk = torch.where(ok, lam_next, lk)
        keep = ok & (lam_next > lam_min)
        if not bool(keep.all()):
            idx, Gs, bs, act, sg, lk = idx[keep], Gs[keep], bs[keep], act[keep], sg[keep], lk[keep]
            bar_p, bar_m, bar_l = bar_p[keep], bar_m[keep], bar_l[keep]
    good[idx] = False  # still running after max_events
    return W, good


def _lasso_solve(G, b, yy, lams: torch.Tensor, *, tol: float, max_iter: int):
    """Lasso solutions ``(K, M, d)`` at every ``lams``: the exact homotopy path, each point certified by its
    duality gap; where a gap exceeds ``tol * yy`` (numerical trouble on the path) coordinate descent finishes from
    that point. Returns ``(W, max relative gap)``."""
    W, _ = _lasso_homotopy(G, b, lams)
    worst = 0.0
    for k in range(lams.shape[0]):
        lam = float(lams[k])
        w = W[k]
        gap = _lasso_gap(G, b, yy, w, torch.einsum("mij,mj->mi", G, w), lam)
        gap = torch.where(gap.isfinite(), gap, torch.full_like(gap, math.inf))
        bad = gap > tol * yy
        if bool(bad.any()):
            w0 = torch.where(w[bad].isfinite(), w[bad], torch.zeros_like(w[bad]))
            wb, _, _ = _lasso_cd(G[bad], b[bad], yy[bad], lam, w0, tol=tol, max_iter=max_iter)
            W[k][bad] = wb
            gap[bad] = _lasso_gap(G[bad], b[bad], yy[bad], wb, torch.einsum("mij,mj->mi", G[bad], wb), lam)
        worst = max(worst, float((gap / yy.clamp_min(1e-300)).max()))
    return W, worst


def lasso_coef(x, y, *, lam: float, tol: float = 1e-8, max_iter: int = 10_000) -> torch.Tensor:
    r"""Lasso coefficients ``(M, d)``: :math:`\arg\min_w \frac1{2n}\|y-Xw\|^2+\lambda\|w\|_1` per prompt (scikit-learn's
    ``Lasso(alpha=lam, fit_intercept=False)``), to duality gap :math:`\le` ``tol`` :math:`\cdot\|y\|^2/n`."""
    check_tensor("x", x, (None, None, None))
    M, n, d = x.shape
    check_tensor("y", y, (M, n))
    lam = check_float("lam", lam, lo=0.0, hi=1e12, lo_open=True)
    tol = check_float("tol", tol, lo=0.0, hi=1.0, lo_open=True)
    max_iter = check_int("max_iter", max_iter, lo=1)
    G, b, yy = stats(x, y)
    lams = torch.tensor([lam], dtype=b.dtype, device=b.device)
    return _lasso_solve(G, b, yy, lams, tol=tol, max_iter=max_iter)[0][0]


def lasso(x, y, xq, lam: float, *, tol: float = 1e-8, max_iter: int = 10_000) -> torch.Tensor:
    r"""Lasso prediction :math:`\hat\beta_{\text{lasso}}^\top x_q` (see :func:`lasso_coef`; ``lam > 0``)."""
    _check(x, y, xq)
    return (lasso_coef(x, y, lam=lam, tol=tol, max_iter=max_iter) * xq).sum(-1)
