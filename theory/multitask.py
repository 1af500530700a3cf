r"""Multi-task mean-field loss (SPEC 1.3, 3.7): :math:`N` tasks, per-head per-coordinate diagonal KQ, per-head
per-task OV entries, its gradient flow, and the head counts the loss needs.

**Data (SPEC 1.3).** Shared :math:`x\sim\mathcal N(0,I_d)`; task :math:`k` reads the coordinates :math:`S_k`,
:math:`y^{(k)}_\ell=\beta_k^\top x_{\ell,S_k}+\epsilon^{(k)}_\ell`, :math:`\beta_k\sim\mathcal N(0,I_{|S_k|})`, noise
variance :math:`|S_k|\sigma^2`; the query targets :math:`y^{(k)}_q=\beta_k^\top x_{q,S_k}` are noiseless; the loss is the
mean over the :math:`N` outputs.

**Model (SPEC 2.2 generalised).** Head :math:`h` has the KQ x-block :math:`\operatorname{diag}(\omega_{h,1..d})` and the
OV entry :math:`\mu_{h,k}` from the label slot of task :math:`k` to output :math:`k`:
:math:`\hat y_k=\sum_h\mu_{h,k}\sum_\ell y^{(k)}_\ell\operatorname{softmax}_\ell(x_\ell^\top a_h)`, :math:`a_h=\Omega_h x_q`.

**Derivation** (:func:`loss_expr`, the route of :mod:`theory.mean_field` coordinate by coordinate). Given
:math:`x_q`, the scores :math:`x_\ell^\top a_h` are Gaussian; every expectation factorises over the independent
coordinates of :math:`x_\ell` into one-dimensional integrals :math:`\mathbb E[x^k e^{\lambda x}]` (sympy,
:func:`theory.mean_field.gaussian_moment_expr`). The mean-field steps are those of SPEC 3.1: each softmax
denominator by its mean :math:`L\,\mathbb E e^{x^\top a_h}`; :math:`x_{q,i}^2` by its mean 1 (SPEC's :math:`q\to d`,
per coordinate); :math:`\|x_{\ell,S_k}\|^2` by :math:`|S_k|` in the diagonal (:math:`\ell=\ell'`) terms;
:math:`L(L-1)/L^2` by 1. The result (:func:`loss_matrix_expr`, proved equal by :func:`identities`):

.. math:: \tilde{\mathcal L}_N = \frac1N\sum_k\Big[|S_k| - 2\mu_k^\top\Omega m_k
          + \mu_k^\top\big(\Omega M_k\Omega^\top + c_k E\big)\mu_k\Big],\quad
          E_{hh'}=e^{\omega_h\cdot\omega_{h'}},\ c_k=\frac{|S_k|(1+\sigma^2)}{L},

:math:`m_k` the indicator of :math:`S_k`, :math:`M_k=\operatorname{diag}(m_k)`. At :math:`N=1`, :math:`S_1=\{1..d\}` and
:math:`\omega_{h,i}=\omega_h` it is :math:`d\,(\tilde{\mathcal L}-\sigma^2)` (targets scaled by :math:`\sqrt d`, query
noiseless). At :math:`\Omega=0` it is exact (:math:`\mathbb E(\bar y^{(k)})^2=c_k`).

**Head counts** (:func:`phase_head_counts`). For small :math:`\omega` the task-:math:`k` term is
:math:`|S_k|-2\Gamma_k\cdot m_k+\|M_k\Gamma_k\|^2+c_k\|\Gamma_k\|^2+c_k(\mathbf 1^\top\mu_k)^2+O(\omega^3\mu^2)`
with the task's preconditioner :math:`\Gamma_k=\sum_h\mu_{h,k}\omega_h`: its infimum
:math:`\sum_k|S_k|c_k/(1+c_k)/N` needs, for every task, a zero-sum :math:`\mu_k` with
:math:`\Gamma_k=m_k/(1+c_k)`, i.e. every :math:`m_k` in the span of the differences :math:`\omega_h-\omega_{h'}`:
at least :math:`\operatorname{rank}(m_1..m_N)+1` heads; a split-up (one :math:`\pm` pair per task, disjoint heads)
needs :math:`2N`. Valid as an approximation like SPEC 3.1 (large :math:`L`, small :math:`\omega\cdot\omega'`).
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import sympy as sp

from .mean_field import approx_loss_expr, gaussian_moment_expr
from .symbols import L, d as d_sym, head_symbols, lam, sigma2, v
from .validate import check_int, check_problem, check_supports

#: Largest sizes for which the symbolic loss is built (tests and the claim's identity rows use small ones).
MAX_SYMBOLIC = 64


# ---------------------------------------------------------------- validation
def check_setting(n_head, supports, d) -> tuple[int, tuple[tuple[int, ...], ...], int]:
    """``(n_head, supports, d)`` validated: ``1 <= n_head <= 4096``, supports of :func:`theory.validate.check_supports`."""
    d = check_int("d", d, lo=1, hi=10_000)
    n_head = check_int("n_head", n_head, lo=1, hi=4096)
    return n_head, check_supports("supports", supports, d=d), d


def masks(supports, d: int) -> np.ndarray:
    """``(N, d)`` 0/1 indicators :math:`m_k` of the supports (0-based coordinates)."""
    sup = check_supports("supports", supports, d=check_int("d", d, lo=1))
    m = np.zeros((len(sup), d))
    for k, s in enumerate(sup):
        m[k, list(s)] = 1.0
    return m


def task_weights(supports, *, d: int, L: int, sigma2: float) -> np.ndarray:
    r""":math:`c_k=|S_k|(1+\sigma^2)/L` per task: the common-mode penalty (SPEC 1.3's noise :math:`|S_k|\sigma^2`)."""
    d, L, sigma2 = check_problem(d, L, sigma2)
    return masks(supports, d).sum(1) * (1.0 + sigma2) / L


# ---------------------------------------------------------------- symbols
@lru_cache(maxsize=None)
def multitask_symbols(n_head: int, d: int, n_task: int):
    """``(Omega, Mu, r)``: ``Omega[h][i]`` = omega_{h,i}, ``Mu[h][k]`` = mu_{h,k} (real), ``r[i]`` = x_{q,i}."""
    for name, val in (("n_head", n_head), ("d", d), ("n_task", n_task)):
        check_int(name, val, lo=1, hi=MAX_SYMBOLIC)
    om = tuple(tuple(sp.Symbol(f"omega_{h + 1}_{i + 1}", real=True) for i in range(d)) for h in range(n_head))
    mu = tuple(tuple(sp.Symbol(f"mu_{h + 1}_{k + 1}", real=True) for k in range(n_task)) for h in range(n_head))
    r = tuple(sp.Symbol(f"r_{i + 1}", real=True) for i in range(d))
    return om, mu, r


def _E(k: int, rate) -> sp.Expr:
    r""":math:`\mathbb E[x^k e^{\lambda x}]`, :math:`x\sim\mathcal N(0,1)` (sympy's integral, via mean_field)."""
    return gaussian_moment_expr(k).subs({lam: rate, v: 1})


# ---------------------------------------------------------------- the derived loss
@lru_cache(maxsize=None)
def loss_expr(n_head: int, supports: tuple, d: int) -> sp.Expr:
    r""":math:`\tilde{\mathcal L}_N(\Omega,\mu)` derived from Gaussian integrals (module docstring); free symbols
    ``L, sigma2`` and those of :func:`multitask_symbols`."""
    n_head, supports, d = check_setting(n_head, supports, d)
    N = len(supports)
    om, mu, r = multitask_symbols(n_head, d, N)
    a = [[om[h][i] * r[i] for i in range(d)] for h in range(n_head)]           # a_h = Omega_h x_q
    e0 = [[_E(0, a[h][i]) for i in range(d)] for h in range(n_head)]           # E e^{a_hi x_i}
    den = [sp.Mul(*e0[h]) for h in range(n_head)]                              # E e^{a_h . x}: the mean denominator / L

    def first(h, i):  # E[x_i e^{a_h . x}]
        return _E(1, a[h][i]) * sp.Mul(*[e0[h][j] for j in range(d) if j != i])

    mean_field = {ri: 1 for ri in r}            # x_{q,i}^2 -> 1 (only even powers of r_i occur)
    total = sp.Integer(0)
    for k, S in enumerate(supports):
        size = len(S)
        task = sp.Integer(size)                 # E (y_q^(k))^2 = |S_k|, noiseless query
        for h in range(n_head):
            cross = sum(r[i] * first(h, i) for i in S) / den[h]          # E_beta[y_q y_l] = x_{q,S} . x_{l,S}
            task -= 2 * mu[h][k] * cross
        for h in range(n_head):
            for g in range(n_head):
                joint = sp.Mul(*[_E(0, a[h][i] + a[g][i]) for i in range(d)])
                diag = size * (1 + sigma2) / L * joint                     # ||x_{l,S}||^2 + |S| sigma^2 -> |S|(1+sigma^2)
                off = sum(first(h, i) * first(g, i) for i in S)           # l != l', L(L-1)/L^2 -> 1
                task += mu[h][k] * mu[g][k] * (diag + off) / (den[h] * den[g])
        total += task
    out = (total / N).subs(mean_field)
    return sp.expand(sp.powsimp(sp.expand(out), force=True))


@lru_cache(maxsize=None)
def loss_matrix_expr(n_head: int, supports: tuple, d: int) -> sp.Expr:
    r"""The same loss in the matrix form of the module docstring (a second route; :func:`identities`)."""
    n_head, supports, d = check_setting(n_head, supports, d)
    N = len(supports)
    om, mu, _ = multitask_symbols(n_head, d, N)
    Om = sp.Matrix(om)
    E = sp.Matrix(n_head, n_head, lambda h, g: sp.exp(sum(om[h][i] * om[g][i] for i in range(d))))
    total = sp.Integer(0)
    for k, S in enumerate(supports):
        m = sp.Matrix([1 if i in S else 0 for i in range(d)])
        M = sp.diag(*list(m))
        u = sp.Matrix([mu[h][k] for h in range(n_head)])
        ck = len(S) * (1 + sigma2) / L
        total += len(S) - 2 * (u.T * Om * m)[0] + (u.T * (Om * M * Om.T + ck * E) * u)[0]
    return total / N


def _state_symbols(n_head, d, N):
    om, mu, _ = multitask_symbols(n_head, d, N)
    return [x for row in om for x in row] + [x for row in mu for x in row]


@lru_cache(maxsize=None)
def flow_expr(n_head: int, supports: tuple, d: int) -> sp.Matrix:
    r""":math:`-\tfrac12\nabla\tilde{\mathcal L}_N` of the *derived* loss; state
    ``(omega_{1,1..d}, ..., mu_{1,1..N}, ...)``."""
    n_head, supports, d = check_setting(n_head, supports, d)
    loss = loss_expr(n_head, supports, d)
    return sp.Matrix([-sp.diff(loss, x) / 2 for x in _state_symbols(n_head, d, len(supports))])


@lru_cache(maxsize=None)
def _lambdified_flow(n_head: int, supports: tuple, d: int):
    state = _state_symbols(n_head, d, len(supports))
    return sp.lambdify([state, L, sigma2], list(flow_expr(n_head, supports, d)), "numpy", cse=True)


def flow_rhs_symbolic(n_head: int, *, supports, d: int, L: int, sigma2: float):
    r"""The lambdified derived flow, ``f(y) -> dy`` with ``y`` flat (``H d`` omegas then ``H N`` mus).
    Built per setting (seconds for a dozen heads): for tests and the claim's equality row; :func:`flow_rhs` is the
    fast numpy form of the same field."""
    n_head, supports, d = check_setting(n_head, supports, d)
    d, L, sigma2 = check_problem(d, L, sigma2)
    if n_head * d + n_head * len(supports) > 200:
        raise ValueError(f"flow_rhs_symbolic: at most 200 state entries, got {n_head * (d + len(supports))}; "
                         "use flow_rhs")
    f = _lambdified_flow(n_head, supports, d)
    return lambda y: np.asarray(f(np.asarray(y, dtype=float), L, sigma2), dtype=float)


# ---------------------------------------------------------------- numeric forms (numpy)
def _unpack(omega, mu, d, N):
    omega = np.asarray(omega, dtype=float)
    mu = np.asarray(mu, dtype=float)
    if omega.ndim < 2 or omega.shape[-1] != d:
        raise ValueError(f"omega must have shape (..., H, {d}), got {omega.shape}")
    if mu.shape != omega.shape[:-1] + (N,):
        raise ValueError(f"mu must have shape {omega.shape[:-1] + (N,)} (one entry per head and task), got {mu.shape}")
    if not (np.all(np.isfinite(omega)) and np.all(np.isfinite(mu))):
        raise ValueError("omega and mu must be finite")
    return omega, mu


def multitask_loss(omega, mu, *, supports, d: int, L: int, sigma2: float) -> np.ndarray:
    r""":math:`\tilde{\mathcal L}_N` (matrix form) for ``omega (..., H, d)``, ``mu (..., H, N)``; a float or a
    ``(...)`` array.

    Domain: finite entries with :math:`\omega_h\cdot\omega_{h'}\le 700` (``ValueError`` beyond: float64 overflow)."""
    d, L, sigma2 = check_problem(d, L, sigma2)
    m = masks(supports, d)
    omega, mu = _unpack(omega, mu, d, m.shape[0])
    ck = m.sum(1) * (1 + sigma2) / L
    G = omega @ np.swapaxes(omega, -1, -2)                                  # (..., H, H)
    if np.max(G, initial=0.0) > 700:
        raise ValueError("omega: omega_h . omega_h' > 700 overflows e^(omega omega^T) in float64")
    E = np.exp(G)
    b = omega @ m.T                                                          # (..., H, N): Omega m_k
    om_m = omega[..., None, :, :] * m[:, None, :]                            # (..., N, H, d): Omega M_k
    P = om_m @ np.swapaxes(omega[..., None, :, :], -1, -2)                   # (..., N, H, H): Omega M_k Omega^T
    muk = np.swapaxes(mu, -1, -2)                                            # (..., N, H)
    quad = np.einsum("...kh,...khg,...kg->...k", muk, P, muk) + ck * np.einsum("...kh,...hg,...kg->...k", muk, E, muk)
    lin = np.einsum("...hk,...hk->...k", mu, b)
    out = (m.sum(1) - 2 * lin + quad).mean(-1)
    return float(out) if np.ndim(out) == 0 else out


def flow_field(omega, mu, *, masks_: np.ndarray, ck: np.ndarray):
    r"""``(d omega, d mu)`` of :math:`-\tfrac12\nabla\tilde{\mathcal L}_N` in closed form, batched over leading axes:

    .. math:: \dot\mu_k = \tfrac1N\big[\Omega m_k-(\Omega M_k\Omega^\top+c_kE)\mu_k\big],\quad
              \dot\Omega = \tfrac1N\sum_k\big[\mu_k m_k^\top-\mu_k\mu_k^\top\Omega M_k-c_k(E\odot\mu_k\mu_k^\top)\Omega\big].

    No validation (the integrator's inner loop); :func:`flow_rhs` validates and wraps it."""
    N = masks_.shape[0]
    with np.errstate(over="ignore", invalid="ignore"):
        E = np.exp(omega @ np.swapaxes(omega, -1, -2))                       # (..., H, H)
        om_m = omega[..., None, :, :] * masks_[:, None, :]                   # (..., N, H, d)
        muk = np.swapaxes(mu, -1, -2)                                         # (..., N, H)
        # mu_k^T Omega M_k : (..., N, d)
        u_om = np.einsum("...kh,...khi->...ki", muk, om_m)
        P_mu = np.einsum("...khi,...ki->...kh", om_m, u_om)                  # Omega M_k Omega^T mu_k
        E_mu = np.einsum("...hg,...kg->...kh", E, muk)
        dmu = (np.einsum("...khi->...kh", om_m) - P_mu - ck[:, None] * E_mu) / N
        lin = np.einsum("...kh,ki->...hi", muk, masks_)                        # sum_k mu_k m_k^T
        quad = np.einsum("...kh,...ki->...hi", muk, u_om)                      # sum_k mu_k (mu_k^T Omega M_k)
        W = np.einsum("k,...kh,...kg->...hg", ck, muk, muk) * E                # sum_k c_k E o mu_k mu_k^T
        dom = (lin - quad - W @ omega) / N
    return dom, np.swapaxes(dmu, -1, -2)


def flow_rhs(n_head: int, *, supports, d: int, L: int, sigma2: float):
    r"""``f(t, y)`` of the flow for one model, ``y`` flat (``H d`` omegas row by row, then ``H N`` mus): the closed
    form of :func:`flow_field` (equal to the lambdified derived flow, :func:`flow_rhs_symbolic`; tests compare).
    Domain: settings of :func:`check_setting`, ``d, L, sigma2`` of :func:`theory.validate.check_problem`; a state
    whose field overflows float64 raises ``ValueError``."""
    n_head, supports, d = check_setting(n_head, supports, d)
    d, L, sigma2 = check_problem(d, L, sigma2)
    m = masks(supports, d)
    ck = m.sum(1) * (1 + sigma2) / L
    H, N = n_head, m.shape[0]

    def f(t, y):
        y = np.asarray(y, dtype=float)
        if y.shape != (H * (d + N),) or not np.all(np.isfinite(y)):
            raise ValueError(f"y must be {H * (d + N)} finite reals")
        dom, dmu = flow_field(y[:H * d].reshape(H, d), y[H * d:].reshape(H, N), masks_=m, ck=ck)
        out = np.concatenate([dom.ravel(), dmu.ravel()])
        if not np.all(np.isfinite(out)):
            raise ValueError("y: the flow's right-hand side overflows float64 at this state")
        return out
    return f


# ---------------------------------------------------------------- what the loss needs
def infimum(supports, *, d: int, L: int, sigma2: float) -> float:
    r"""Small-:math:`\omega` infimum :math:`\frac1N\sum_k|S_k|c_k/(1+c_k)` (module docstring), reached when every task
    has a zero-sum :math:`\mu_k` with :math:`\Gamma_k=m_k/(1+c_k)`."""
    ck = task_weights(supports, d=d, L=L, sigma2=sigma2)
    sizes = masks(supports, d).sum(1)
    return float(np.mean(sizes * ck / (1 + ck)))


def phase_head_counts(supports, *, d: int) -> dict[str, int]:
    r"""``{"infimum": rank(m_1..m_N) + 1, "split_up": 2N}``: the fewest heads with which every task reaches the
    infimum (zero-sum, its own preconditioner), and with which a split-up (a disjoint :math:`\pm` pair per task)
    exists (module docstring)."""
    m = masks(supports, d)
    return {"infimum": int(np.linalg.matrix_rank(m)) + 1, "split_up": 2 * m.shape[0]}


def expected_phase(n_head: int, n_task: int) -> str:
    r"""SPEC 3.7's expected picture: ``"split-up"`` for :math:`H\ge 2N`, ``"superposition"`` for :math:`2<H<2N`,
    ``"other"`` below (SPEC 3.7 predicts nothing there; the claim H10 checks only :math:`H\ge3`)."""
    n_head = check_int("n_head", n_head, lo=1)
    n_task = check_int("n_task", n_task, lo=1)
    if n_head >= 2 * n_task:
        return "split-up"
    if n_head > 2:
        return "superposition"
    return "other"


# ---------------------------------------------------------------- statements
@lru_cache(maxsize=None)
def identities(cases: tuple = ((1, ((0, 1),), 2), (2, ((0, 1), (1, 2)), 3), (2, ((0,), (1,)), 2),
                               (3, ((0, 1), (1, 2), (0, 2)), 3))) -> dict[str, sp.Expr]:
    r"""Statements that simplify to 0: ``derived_is_matrix_form_*`` (Gaussian-integral route = matrix form) for each
    ``(H, supports, d)`` of ``cases``, and ``single_task_H{h}``: at :math:`N=1`, full support and
    :math:`\omega_{h,i}=\omega_h`, the loss is :math:`d(\tilde{\mathcal L}-\sigma^2)` (:mod:`theory.mean_field`)."""
    out: dict[str, sp.Expr] = {}
    for H, sup, dd in cases:
        diff = loss_expr(H, sup, dd) - loss_matrix_expr(H, sup, dd)
        out[f"derived_is_matrix_form_H{H}_N{len(sup)}_d{dd}"] = sp.expand(sp.powsimp(sp.expand(diff), force=True))
    for H, dd in ((1, 2), (2, 3), (3, 2)):
        out[f"single_task_H{H}_d{dd}"] = single_task_reduction(H, dd)
    return out


def single_task_reduction(n_head: int, d: int) -> sp.Expr:
    r""":math:`\tilde{\mathcal L}_1(\omega_h\mathbf 1,\mu) - d(\tilde{\mathcal L}(\omega,\mu)-\sigma^2)` at :math:`N=1`,
    :math:`S=\{1..d\}` (0 when the derivation is right)."""
    om, mu, _ = multitask_symbols(n_head, d, 1)
    w, m = head_symbols(n_head)
    multi = loss_expr(n_head, (tuple(range(d)),), d)
    multi = multi.subs({om[h][i]: w[h] for h in range(n_head) for i in range(d)})
    multi = multi.subs({mu[h][0]: m[h] for h in range(n_head)})
    single = approx_loss_expr(n_head).subs(d_sym, d)
    return sp.expand(sp.powsimp(sp.expand(multi - d * (single - sigma2)), force=True))


__all__ = ["check_setting", "expected_phase", "flow_expr", "flow_field", "flow_rhs", "flow_rhs_symbolic", "identities",
           "infimum", "loss_expr", "loss_matrix_expr", "masks", "multitask_loss", "multitask_symbols",
           "phase_head_counts", "single_task_reduction", "task_weights"]
