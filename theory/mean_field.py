r"""The paper's mean-field population loss :math:`\tilde{\mathcal L}(\omega,\mu)` of the reduced model (SPEC 3.1).

Derivation (HPCY25 §3.1, re-done here from Gaussian integrals). Condition on the query, write
:math:`q=\|x_q\|^2` and the scores :math:`s_\ell = x_\ell^\top x_q\sim\mathcal N(0,q)` (i.i.d. given
:math:`x_q`). The mean-field approximation

1. replaces each softmax denominator :math:`\sum_j e^{\omega s_j}` by its mean :math:`L\,e^{\omega^2 q/2}`,
2. replaces :math:`q` by its mean :math:`d`,
3. replaces :math:`\|x_\ell\|^2/d` by 1 in the diagonal (:math:`\ell=\ell'`) terms, and
4. replaces :math:`L(L-1)/L^2` by 1 in the off-diagonal terms.

Every remaining expectation is a one-dimensional Gaussian integral in :math:`s`, which sympy evaluates.
The result is the quadratic form in :math:`\mu`

.. math:: \tilde{\mathcal L} = 1+\sigma^2 - 2\mu^\top b(\omega) + \mu^\top A(\omega)\mu,
   \qquad b_h = \omega_h,\quad A_{hh'} = \omega_h\omega_{h'} + c\,e^{d\,\omega_h\omega_{h'}},\quad c=\tfrac{1+\sigma^2}{L}.

Valid as an approximation when :math:`L` is large and :math:`d\omega^2` small; SPEC 3.5 (and
:mod:`theory.refined`) quantifies what it drops.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import sympy as sp

from .validate import check_finite_result, check_heads, check_problem, check_vector
from .symbols import (L, c, d, e_scale, head_symbols, lam, m, omega, omega_p, omega_pos, q, s, sigma2, u, v, v_pos,
                      w, x_pos, xi)


# ---------------------------------------------------------------- Gaussian integrals
@lru_cache(maxsize=None)
def gaussian_moment_expr(k: int) -> sp.Expr:
    r""":math:`\mathbb E[s^k e^{\lambda s}]` for :math:`s\sim\mathcal N(0,v)`, integrated by sympy."""
    dens = sp.exp(-s**2 / (2 * v_pos)) / sp.sqrt(2 * sp.pi * v_pos)
    out = sp.simplify(sp.integrate(s**k * sp.exp(lam * s) * dens, (s, -sp.oo, sp.oo), conds="none"))
    return out.subs(v_pos, v)


def _E(k: int, rate, var) -> sp.Expr:
    return gaussian_moment_expr(k).subs({lam: rate, v: var})


# ---------------------------------------------------------------- pairwise kernels
@lru_cache(maxsize=None)
def cross_term_expr() -> sp.Expr:
    r""":math:`b(\omega) = \mathbb E[y_q\,\hat y_h]` for one head of unit :math:`\mu`, mean-field.

    :math:`\mathbb E_\beta[y_q y_\ell] = s_\ell/d`, so :math:`b = \mathbb E[s\,e^{\omega s}]\,e^{-\omega^2 q/2}/d` at :math:`q=d`.
    """
    raw = _E(1, omega, q) * sp.exp(-omega**2 * q / 2) / d
    return sp.simplify(raw.subs(q, d))


@lru_cache(maxsize=None)
def pair_term_expr() -> sp.Expr:
    r""":math:`A(\omega,\omega') = \mathbb E[\hat y_h\hat y_{h'}]` for unit :math:`\mu`, mean-field.

    Diagonal tokens: :math:`\frac1L(1+\sigma^2)\,\mathbb E[e^{(\omega+\omega')s}]\,e^{-(\omega^2+\omega'^2)q/2}`.
    Off-diagonal tokens: with :math:`x = (s/q)x_q + x_\perp`, :math:`\mathbb E[x e^{\omega s}] = x_q\,\mathbb E[s e^{\omega s}]/q`,
    so :math:`\mathbb E[x_\ell^\top x_{\ell'} e^{\omega s_\ell+\omega' s_{\ell'}}]/d = \mathbb E[s e^{\omega s}]\mathbb E[s e^{\omega' s}]/(qd)`.
    """
    om, om2 = omega, omega_p
    norm = sp.exp(-(om**2 + om2**2) * q / 2)
    diag = (1 + sigma2) / L * _E(0, om + om2, q) * norm
    off = _E(1, om, q) * _E(1, om2, q) / (q * d) * norm
    return sp.simplify(sp.powsimp((diag + off).subs(q, d), force=True))


# ---------------------------------------------------------------- the loss for H heads
@lru_cache(maxsize=None)
def approx_loss_expr(n_head: int) -> sp.Expr:
    r""":math:`\tilde{\mathcal L}(\omega_{1..H},\mu_{1..H})` in terms of ``d, L, sigma2`` (SPEC 3.1)."""
    om_h, mu_h = head_symbols(n_head)
    b, a = cross_term_expr(), pair_term_expr()
    loss = 1 + sigma2 - 2 * sum(mu_h[h] * b.subs(omega, om_h[h]) for h in range(n_head))
    for h in range(n_head):
        for k in range(n_head):
            loss += mu_h[h] * mu_h[k] * a.subs({omega: om_h[h], omega_p: om_h[k]}, simultaneous=True)
    return loss


def approx_loss_matrix_expr(n_head: int) -> sp.Expr:
    r"""The same loss written in SPEC 3.1's matrix form, :math:`1+\sigma^2-2\mu^\top\omega+\mu^\top(\omega\omega^\top+cE)\mu`,
    with ``c`` a free symbol: a second route to :func:`approx_loss_expr` (:func:`identities` proves they agree)."""
    om_h, mu_h = head_symbols(n_head)
    om, mv = sp.Matrix(om_h), sp.Matrix(mu_h)
    E = sp.Matrix(n_head, n_head, lambda i, j: sp.exp(d * om_h[i] * om_h[j]))
    return 1 + sigma2 - 2 * (mv.T * om)[0] + (mv.T * (om * om.T + c * E) * mv)[0]


@lru_cache(maxsize=None)
def _kernels():
    b = sp.lambdify((omega, d), cross_term_expr(), "numpy")
    a = sp.lambdify((omega, omega_p, d, L, sigma2), pair_term_expr(), "numpy")
    return b, a


#: Below this ``d * max(omega**2)`` (and ``max|mu|`` below ``_DIRECT_MU``) the unscaled matrix ``A`` is evaluated
#: directly (e^50 ~ 5e21: no overflow, ordinary conditioning); beyond it the scaled forms below are used.
_DIRECT_DW2 = 50.0
_DIRECT_MU = 1e6
#: Above this condition number of the scaled system (relative error of a float64 solve ~ cond * 1.1e-16 > 1e-8)
#: mu* is solved in extended precision (at most _MAX_EXTENDED_HEADS distinct heads).
_FLOAT_CONDITION = 1e8
_MAX_EXTENDED_HEADS = 64
_LOG_MAX = float(np.log(np.finfo(np.float64).max))   # ~709.78


def quadratic_form(omega, *, d: int, L: int, sigma2: float) -> tuple[np.ndarray, np.ndarray]:
    r"""``(A, b)`` with :math:`\tilde{\mathcal L} = 1+\sigma^2 - 2\mu^\top b + \mu^\top A\mu` (lambdified kernels).

    Domain: any finite ``omega`` (length ``H >= 1``) with every :math:`d\,\omega_h\omega_{h'}\le 709` (else
    :math:`A` overflows float64: ``ValueError``; :func:`mean_field_loss`, :func:`optimal_mu` and :func:`profile_loss`
    work in the scaled form :func:`scaled_quadratic_form` there), ``d, L, sigma2`` as in
    :func:`theory.validate.check_problem`."""
    omega = check_vector("omega", omega)
    d, L, sigma2 = check_problem(d, L, sigma2)
    return _quadratic_form(omega, d, L, sigma2)


def _quadratic_form(omega, d, L, sigma2):
    if _dw2(omega, d) > _LOG_MAX - 1:
        raise ValueError(f"omega: A = omega omega^T + c e^(d omega omega^T) overflows float64 when d*max(omega_h^2) > "
                         f"{_LOG_MAX - 1:.0f}, got d*max(omega_h^2) = {_dw2(omega, d):.4g} "
                         f"(use scaled_quadratic_form)")
    kb, ka = _kernels()
    with np.errstate(over="ignore", invalid="ignore"):
        b = np.broadcast_to(kb(omega, d), omega.shape).astype(float)
        A = np.asarray(ka(omega[:, None], omega[None, :], d, L, sigma2), dtype=float)
    check_finite_result("omega: A", A, "bound d*max(omega_h^2)")
    return A, b


def scaled_quadratic_form(omega, *, d: int, L: int, sigma2: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""``(B, s, v)``: the quadratic form of :math:`\tilde{\mathcal L}` in the scaled variable :math:`y = \mu/s`,
    :math:`s_h = e^{-d\omega_h^2/2}`, i.e. :math:`B = SAS`, :math:`S=\operatorname{diag}(s)`:

    .. math:: B_{hh'} = v_hv_{h'} + c\,e^{-d(\omega_h-\omega_{h'})^2/2},\qquad v = s\odot\omega,

    since :math:`d\omega_h\omega_{h'} - d\omega_h^2/2 - d\omega_{h'}^2/2 = -d(\omega_h-\omega_{h'})^2/2`. Every entry lies in
    :math:`[0, 1 + c]` for every finite ``omega`` (log-space form of :math:`E`; no overflow), and :math:`\mu^* = s\odot B^{-1}v`.
    """
    omega = check_vector("omega", omega)
    d, L, sigma2 = check_problem(d, L, sigma2)
    return _scaled(omega, d, L, sigma2)


def _dw2(omega, d) -> float:
    """``d * max(omega**2)`` (inf where it overflows)."""
    with np.errstate(over="ignore"):
        return float(d * np.max(omega**2))


def _scaled(omega, d, L, sigma2):
    c = (1 + sigma2) / L
    with np.errstate(over="ignore", under="ignore"):
        s = np.exp(-0.5 * d * omega**2)                                    # (H,) in [0, 1]
        v = s * omega                                                      # |v| <= 1/sqrt(e d)
        gap = np.subtract.outer(omega, omega)                              # (H, H), may be +-inf
        K = np.exp(-0.5 * d * gap**2)                                      # (H, H) in [0, 1], unit diagonal
    return np.outer(v, v) + c * K, s, v


def mean_field_loss(omega, mu, *, d: int, L: int, sigma2: float) -> float:
    r"""The paper's mean-field ("approximate") population loss :math:`\tilde{\mathcal L}` (SPEC 3.1),

    .. math:: \tilde{\mathcal L}(\omega,\mu) = 1+\sigma^2 - 2\mu^\top\omega + \mu^\top\big(\omega\omega^\top + c\,E(\omega)\big)\mu,
       \quad c = \tfrac{1+\sigma^2}{L},\ E_{hh'} = e^{d\omega_h\omega_{h'}}.

    ``omega``, ``mu``: per-head reduced coordinates (length ``H >= 1``). Mean-field: accurate for large
    ``L`` and small ``d * omega**2``; it underestimates the true loss (see :func:`theory.refined`).

    Domain: ``d, L, sigma2`` of :func:`theory.validate.check_problem`; any finite ``omega``, ``mu`` for which the
    loss itself is below float64's maximum (about :math:`\log c + d\omega_h^2 + 2\log|\mu_h| < 709`); beyond it a
    ``ValueError``. Always :math:`\ge\sigma^2`. For large :math:`d\omega^2` or :math:`|\mu|` it is evaluated as
    :math:`\sigma^2 + (1-\mu^\top\omega)^2 + c\,z^\top Kz`, :math:`z_h = \mu_he^{d\omega_h^2/2}`,
    :math:`K_{hh'} = e^{-d(\omega_h-\omega_{h'})^2/2}` (log-space scaling of :math:`E`; equal to the above).
    """
    omega, mu = check_heads(omega, mu)
    d, L, sigma2 = check_problem(d, L, sigma2)
    if _dw2(omega, d) <= _DIRECT_DW2 and float(np.max(np.abs(mu))) <= _DIRECT_MU:
        A, b = _quadratic_form(omega, d, L, sigma2)
        return float(1 + sigma2 - 2 * mu @ b + mu @ A @ mu)
    return _stable_loss(omega, mu, d, L, sigma2)


def _stable_loss(omega, mu, d, L, sigma2) -> float:
    hint = "the loss exceeds float64's maximum; bound |mu_h| and d*omega_h^2 (log c + d omega_h^2 + 2 log|mu_h| < 709)"
    c = (1 + sigma2) / L
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        u = float(np.dot(mu, omega))                                       # may overflow: caught below
        fit = (1.0 - u) ** 2 if abs(u) < 1e150 else float("inf")
        nz = mu != 0
        quad = 0.0
        if np.any(nz):
            om, m = omega[nz], mu[nz]
            lz = np.log(np.abs(m)) + 0.5 * d * om**2                       # log|z_h|
            top = float(np.max(lz))
            if not np.isfinite(top):
                raise ValueError(f"mu, omega: {hint}")
            zh = np.sign(m) * np.exp(lz - top)                             # |zh| <= 1
            K = np.exp(-0.5 * d * np.subtract.outer(om, om) ** 2)
            qh = max(float(zh @ K @ zh), 0.0)                              # K is PSD (a Gaussian kernel)
            if qh > 0:
                log_q = np.log(c) + 2 * top + np.log(qh)
                if log_q > _LOG_MAX - 1:
                    raise ValueError(f"mu, omega: {hint}")
                quad = float(np.exp(log_q))
    out = sigma2 + fit + quad
    if not np.isfinite(out):
        raise ValueError(f"mu, omega: {hint}")
    return float(out)


#: The name the paper's loss had before it was named for what it is; the same function object (public API).
approx_loss = mean_field_loss


def optimal_mu(omega, *, d: int, L: int, sigma2: float) -> np.ndarray:
    r""":math:`\mu^*(\omega) = (\omega\omega^\top + cE)^{-1}\omega`, the minimiser of :math:`\tilde{\mathcal L}` in :math:`\mu`.

    The matrix is positive definite when the :math:`\omega_h` are distinct; as two of them merge it becomes
    singular and :math:`\mu^*` grows like the inverse of their gap. For an exactly singular matrix (equal
    :math:`\omega_h`) the minimum-norm minimiser is returned (equal heads share their total :math:`\mu` equally).

    Domain: any finite ``omega``, ``d, L, sigma2`` of :func:`theory.validate.check_problem`. Solved in the scaled
    form of :func:`scaled_quadratic_form` where :math:`d\omega^2` is large (no overflow: heads with
    :math:`e^{-d\omega_h^2/2}` below float64's range get :math:`\mu^*_h = 0`, its correctly rounded value). Where two
    distinct heads are so close that the (scaled, equal heads merged) system is ill conditioned in float64
    (condition number above 1e8), it is rebuilt from the exact float64 ``omega`` and solved with mpmath at rising
    precision (at most 64 distinct heads); where :math:`\mu^*` itself overflows float64 (:math:`|\mu^*|\sim1/` gap)
    a ``ValueError`` says so.
    """
    omega = check_vector("omega", omega)
    d, L, sigma2 = check_problem(d, L, sigma2)
    return _optimal(omega, d, L, sigma2)[0]


def _optimal(omega, d, L, sigma2) -> tuple[np.ndarray, float]:
    """``(mu*, b^T mu*)``: float64 where the scaled system is well conditioned, else extended precision."""
    uniq, inverse, counts = np.unique(omega, return_inverse=True, return_counts=True)
    B, s, v = _scaled(uniq, d, L, sigma2)
    if float(np.linalg.cond(B)) <= _FLOAT_CONDITION:
        if _dw2(omega, d) <= _DIRECT_DW2 and uniq.size == omega.size:
            A, b = _quadratic_form(omega, d, L, sigma2)
            mu = _solve(A, b)
            return mu, float(b @ mu)
        if _dw2(omega, d) <= _DIRECT_DW2:                       # equal heads: solve for the distinct ones and split
            A, b = _quadratic_form(uniq, d, L, sigma2)          # (least squares' cutoff is relative to the largest
            y = np.linalg.solve(A, b)                           # singular value: wrong when e^(d omega^2) is large)
            return (y / counts)[inverse], float(b @ y)
        y = np.linalg.solve(B, v)                                          # (H_unique,)
        with np.errstate(under="ignore"):
            mu_u = s * y
        return (mu_u / counts)[inverse], float(v @ y)
    mu_u, fit = _optimal_extended(uniq, d, L, sigma2)
    return (mu_u / counts)[inverse], fit


def _optimal_extended(uniq, d, L, sigma2) -> tuple[np.ndarray, float]:
    """Nearly coincident heads: B = c K + v v^T is ill conditioned in float64 only because rounding its entries
    (K_hh' = e^(-d gap^2/2) ~ 1) loses the gaps; the float64 omega are exact binary numbers, so B is rebuilt and
    solved with mpmath at increasing precision until two precisions agree to 1e-17 (mu* itself is a well-defined,
    finite function of distinct omega)."""
    import mpmath

    if uniq.size > _MAX_EXTENDED_HEADS:
        raise ValueError(f"omega: two distinct heads are too close for mu* to be determined in float64, and "
                         f"{uniq.size} > {_MAX_EXTENDED_HEADS} distinct heads is too many for the extended-precision "
                         f"solve; make equal heads exactly equal or separate them")
    prev = None
    for dps in (40, 80, 160, 320, 640, 1280):
        with mpmath.workdps(dps):
            om = [mpmath.mpf(float(x)) for x in uniq]
            c = (1 + mpmath.mpf(sigma2)) / L
            sv = [mpmath.exp(-d * x * x / 2) for x in om]
            vv = [si * x for si, x in zip(sv, om)]
            B = mpmath.matrix([[vv[i] * vv[j] + c * mpmath.exp(-d * (om[i] - om[j]) ** 2 / 2)
                                for j in range(len(om))] for i in range(len(om))])
            try:
                y = mpmath.lu_solve(B, mpmath.matrix(vv))
            except (ZeroDivisionError, TypeError, ValueError):    # singular even at this precision (mpmath's
                continue                                          # pivot search fails with a TypeError then)
            mu = [sv[i] * y[i] for i in range(len(om))]
            fit = mpmath.fsum(vv[i] * y[i] for i in range(len(om)))
            if prev is not None and all(abs(a - b) <= mpmath.mpf("1e-17") * (abs(a) + mpmath.mpf("1e-300"))
                                        for a, b in zip(prev, mu)):
                out = np.array([float(x) for x in mu])
                if not np.all(np.isfinite(out)):
                    raise ValueError(f"omega: two distinct heads are so close that mu* overflows float64 "
                                     f"(|mu*| ~ 1/gap; smallest gap {float(np.min(np.diff(uniq))):.3g}); make equal "
                                     f"heads exactly equal or separate them")
                return out, float(fit)
            prev = mu
    raise ValueError(f"omega: two distinct heads are too close for mu* = (omega omega^T + cE)^(-1) omega to be "
                     f"determined even in extended precision (smallest gap {float(np.min(np.diff(uniq))):.3g}); "
                     f"make equal heads exactly equal or separate them")


def _solve(A: np.ndarray, b: np.ndarray) -> np.ndarray:
    try:
        return np.linalg.solve(A, b)
    except np.linalg.LinAlgError:
        return np.linalg.lstsq(A, b, rcond=None)[0]


def profile_loss(omega, *, d: int, L: int, sigma2: float) -> float:
    r""":math:`\tilde{\mathcal L}(\omega,\mu^*) = 1+\sigma^2-\omega^\top(\omega\omega^\top+cE)^{-1}\omega`, in
    :math:`[\sigma^2, 1+\sigma^2]`. Same domain and errors as :func:`optimal_mu` (scaled form:
    :math:`\omega^\top A^{-1}\omega = v^\top B^{-1}v`)."""
    omega = check_vector("omega", omega)
    d, L, sigma2 = check_problem(d, L, sigma2)
    return float(1 + sigma2 - _optimal(omega, d, L, sigma2)[1])


# ---------------------------------------------------------------- consequences (SPEC 3.1)
@lru_cache(maxsize=None)
def optimal_mu_expr(n_head: int) -> sp.Matrix:
    r""":math:`\mu^*` solving :math:`\nabla_\mu\tilde{\mathcal L}=0` symbolically (small ``n_head`` only)."""
    _, mu_h = head_symbols(n_head)
    loss = approx_loss_matrix_expr(n_head)
    sol = sp.solve([sp.diff(loss, x) for x in mu_h], mu_h, dict=True)[0]
    return sp.Matrix([sol[x] for x in mu_h])


@lru_cache(maxsize=None)
def small_omega_loss_expr(n_head: int) -> sp.Expr:
    r"""Second-order form of :math:`\tilde{\mathcal L}` for small :math:`\omega` (SPEC 3.1):
    expand :math:`E_{hh'} = 1 + d\omega_h\omega_{h'} + O(\omega^4)`, giving
    :math:`1+\sigma^2-2\mu^\top\omega+(1+cd)(\mu^\top\omega)^2+c(\mathbf 1^\top\mu)^2`."""
    om_h, mu_h = head_symbols(n_head)
    e = e_scale
    scaled = approx_loss_matrix_expr(n_head).subs({o: e * o for o in om_h}, simultaneous=True)
    scaled = scaled.subs({x: x / e for x in mu_h}, simultaneous=True)  # mu omega held fixed
    # omega -> e*omega, mu -> mu/e keeps mu_h*omega_h fixed; truncating at O(e^2) keeps exactly the
    # terms up to E = 1 + d*omega*omega' (c*(1^T mu)^2 appears at order e^-2, the rest at e^0).
    series = sp.series(scaled, e, 0, 1).removeO()
    return sp.expand(sp.simplify(series.subs(e, 1)))


@lru_cache(maxsize=None)
def small_omega_optimum_expr() -> dict[str, sp.Expr]:
    r"""Minimise the small-:math:`\omega` form over :math:`u=\mu^\top\omega` and :math:`v=\mathbf 1^\top\mu`.

    Returns ``{"u": eta*, "v": 0, "loss": infimum}``: zero-sum :math:`v=0`, :math:`\eta^*=1/(1+cd)`,
    infimum :math:`1+\sigma^2-1/(1+cd)`.
    """
    loss = 1 + sigma2 - 2 * u + (1 + c * d) * u**2 + c * v**2
    sol = sp.solve([sp.diff(loss, u), sp.diff(loss, v)], [u, v], dict=True)[0]
    return {"u": sol[u], "v": sol[v], "loss": sp.simplify(loss.subs(sol))}


def eta_star(*, d: int, L: int, sigma2: float) -> float:
    r""":math:`\eta^* = 1/(1+cd)`, the effective step :math:`\sum_h\mu_h\omega_h` at the small-:math:`\omega` optimum."""
    d, L, sigma2 = check_problem(d, L, sigma2)
    return float(_numeric()["eta_star"](d, L, sigma2))


@lru_cache(maxsize=None)
def pair_loss_expr() -> dict[str, sp.Expr]:
    r"""Symmetric pair :math:`\omega=(w,-w)`, :math:`\mu=(m,-m)` (SPEC 3.1).

    Returns ``loss`` (in w, m), ``m_star``, ``profile`` :math:`=1+\sigma^2-\frac{w^2}{w^2+c\sinh(dw^2)}`,
    ``eta`` :math:`=2m^*w` and ``eta_limit`` :math:`=\lim_{w\to0}2m^*w = 1/(1+cd)=\eta^*`. The sinh forms are
    assembled by hand and proved equal to what ``solve`` returns (raises if not).
    """
    om_h, mu_h = head_symbols(2)
    loss = approx_loss_matrix_expr(2).subs({om_h[0]: w, om_h[1]: -w, mu_h[0]: m, mu_h[1]: -m}, simultaneous=True)
    m_raw = sp.solve(sp.diff(loss, m), m)[0]
    profile_raw = loss.subs(m, m_raw)
    sh = sp.sinh(d * w**2)
    m_star = w / (2 * (w**2 + c * sh))
    profile = 1 + sigma2 - w**2 / (w**2 + c * sh)
    stable_loss = 1 + sigma2 - 4 * m * w + 4 * m**2 * (w**2 + c * sh)
    for raw, nice in ((loss, stable_loss), (m_raw, m_star), (profile_raw, profile)):
        if sp.simplify((raw - nice).rewrite(sp.exp)) != 0:
            raise ArithmeticError(f"pair form {nice} does not equal the derived {raw}")
    eta_pair = sp.simplify(2 * m_star * w)
    return {"loss": stable_loss, "m_star": m_star, "profile": profile, "eta": eta_pair,
            "eta_limit": sp.limit(eta_pair, w, 0)}


@lru_cache(maxsize=None)
def pair_monotonicity_expr() -> dict[str, sp.Expr]:
    r"""Why the pair profile decreases as :math:`w\downarrow0`: with :math:`x=dw^2`,
    :math:`\frac{w^2}{w^2+c\sinh(dw^2)} = \frac{1}{1+cd\,\sinh(x)/x}` and
    :math:`\frac{d}{dx}\frac{\sinh x}{x} = \frac{g(x)}{x^2}`, :math:`g(x)=x\cosh x-\sinh x`,
    :math:`g(0)=0`, :math:`g'(x)=x\sinh x>0`. So the profile is strictly increasing in :math:`w>0`."""
    x = x_pos
    ratio = sp.sinh(x) / x
    g = x * sp.cosh(x) - sp.sinh(x)
    return {"ratio": ratio, "ratio_derivative": sp.diff(ratio, x), "g": g, "g0": g.subs(x, 0),
            "g_derivative": sp.simplify(sp.diff(g, x))}


@lru_cache(maxsize=None)
def single_head_optimum_expr() -> dict[str, sp.Expr]:
    r"""Single head (SPEC 3.1): maximise :math:`\omega^2/(\omega^2+c\,e^{d\omega^2})` over :math:`x=\omega^2`.

    Returns ``omega2`` :math:`=1/d`, ``mu`` :math:`=\sqrt d/(1+e\,c\,d)`, ``loss`` :math:`=1+\sigma^2-1/(1+e\,cd)`.
    """
    x, om = x_pos, omega_pos
    profile = 1 + sigma2 - om**2 / (om**2 + c * sp.exp(d * om**2))
    x_star = sp.solve(sp.diff(profile.subs(om, sp.sqrt(x)), x), x)[0]
    om_star = sp.sqrt(x_star)
    mu_star = sp.simplify(om_star / (om_star**2 + c * sp.exp(d * om_star**2)))
    return {"omega2": x_star, "mu": mu_star, "loss": sp.simplify(profile.subs(om, om_star))}


def single_head_optimum(*, d: int, L: int, sigma2: float) -> tuple[float, float, float]:
    r"""``(omega, mu, loss)`` of the best single head under :math:`\tilde{\mathcal L}`:
    :math:`\omega=1/\sqrt d`, :math:`\mu=\sqrt d/(1+e\,d(1+\sigma^2)/L)`, loss
    :math:`\sigma^2+\frac{e\xi(1+\sigma^2)}{1+e\xi(1+\sigma^2)}` — one head acts like GD with
    :math:`L/e` samples. The sign-flipped ``(-omega, -mu)`` is equally optimal."""
    d, L, sigma2 = check_problem(d, L, sigma2)
    f = _numeric()
    return (float(f["single_omega"](d, L, sigma2)), float(f["single_mu"](d, L, sigma2)),
            float(f["single_loss"](d, L, sigma2)))


def small_omega_infimum(*, d: int, L: int, sigma2: float) -> float:
    r"""Infimum of :math:`\tilde{\mathcal L}` (reached only as :math:`\omega\to0`):
    :math:`\sigma^2 + \frac{\xi(1+\sigma^2)}{1+\xi(1+\sigma^2)}`, :math:`\xi=d/L`."""
    d, L, sigma2 = check_problem(d, L, sigma2)
    return float(_numeric()["infimum"](d, L, sigma2))


@lru_cache(maxsize=None)
def _numeric() -> dict:
    """The closed forms of SPEC 3.1 in ``(d, L, sigma2)``, lambdified once (``c = (1 + sigma2) / L`` substituted)."""
    c_of = {c: (1 + sigma2) / L}
    opt, single = small_omega_optimum_expr(), single_head_optimum_expr()
    exprs = {"eta_star": opt["u"], "infimum": opt["loss"], "single_omega": sp.sqrt(single["omega2"]),
             "single_mu": single["mu"], "single_loss": single["loss"]}
    return {k: sp.lambdify((d, L, sigma2), e.subs(c_of), "math") for k, e in exprs.items()}


# ---------------------------------------------------------------- the statements of SPEC 3.1
@lru_cache(maxsize=None)
def identities(n_heads: tuple[int, ...] = (1, 2, 3)) -> dict[str, sp.Expr]:
    r"""SPEC 3.1's statements as expressions that are identically 0 (check with ``simplify(e) == 0``).

    The SPEC forms are typed here once (they are *given*; the derived ones come from Gaussian integrals):

    * ``derived_is_matrix_form_H{h}``: :func:`approx_loss_expr` (integrals) = SPEC 3.1's matrix form;
    * ``small_omega_form_H{h}``: :math:`1+\sigma^2-2\mu^\top\omega+(1+cd)(\mu^\top\omega)^2+c(\mathbf 1^\top\mu)^2`;
    * ``eta_star``, ``zero_sum``, ``infimum``: :math:`\eta^*=1/(1+cd)`, :math:`\mathbf 1^\top\mu=0`, infimum
      :math:`\sigma^2+\frac{\xi(1+\sigma^2)}{1+\xi(1+\sigma^2)}` at :math:`\xi=d/L`;
    * ``pair_profile`` (the sinh form), ``pair_eta_limit`` (:math:`2m^*w\to\eta^*`), ``pair_monotone_g0``,
      ``pair_monotone_g_derivative``, ``pair_monotone_ratio_derivative``;
    * ``single_head_omega2``, ``single_head_mu``, ``single_head_loss`` (one head = GD with :math:`L/e` samples), and
      ``single_head_factor_e``: the single-head optimum at :math:`L` minus the proportional-limit optimal GD risk
      (:func:`theory.risks.gd_optimal_risk_proportional_expr`, the Wick route) at :math:`\xi = e\,d/L` (H6).
    """
    from .risks import gd_optimal_risk_proportional_expr  # the Wick route (no cycle: risks does not need mean_field)

    c_of = {c: (1 + sigma2) / L}
    at_xi = {xi: d / L}
    out: dict[str, sp.Expr] = {}
    for h in n_heads:
        out[f"derived_is_matrix_form_H{h}"] = sp.expand(approx_loss_expr(h) - approx_loss_matrix_expr(h).subs(c_of))
        om_h, mu_h = head_symbols(h)
        eff = sum(a * b for a, b in zip(om_h, mu_h))
        spec = 1 + sigma2 - 2 * eff + (1 + c * d) * eff**2 + c * sum(mu_h) ** 2
        out[f"small_omega_form_H{h}"] = small_omega_loss_expr(h) - sp.expand(spec)
    opt = small_omega_optimum_expr()
    infimum = sigma2 + xi * (1 + sigma2) / (1 + xi * (1 + sigma2))
    out["eta_star"] = opt["u"] - 1 / (1 + c * d)
    out["zero_sum"] = opt["v"]
    out["infimum"] = opt["loss"].subs(c_of) - infimum.subs(at_xi)
    pair, mono = pair_loss_expr(), pair_monotonicity_expr()
    out["pair_profile"] = pair["profile"] - (1 + sigma2 - w**2 / (w**2 + c * sp.sinh(d * w**2)))
    out["pair_eta_limit"] = pair["eta_limit"] - 1 / (1 + c * d)
    out["pair_monotone_g0"] = mono["g0"]
    out["pair_monotone_g_derivative"] = mono["g_derivative"] - x_pos * sp.sinh(x_pos)
    out["pair_monotone_ratio_derivative"] = mono["ratio_derivative"] - mono["g"] / x_pos**2
    single = single_head_optimum_expr()
    single_spec = sigma2 + sp.E * xi * (1 + sigma2) / (1 + sp.E * xi * (1 + sigma2))
    out["single_head_omega2"] = single["omega2"] - 1 / d
    out["single_head_mu"] = single["mu"] - sp.sqrt(d) / (1 + sp.E * c * d)
    out["single_head_loss"] = single["loss"].subs(c_of) - single_spec.subs(at_xi)
    out["single_head_factor_e"] = (single["loss"].subs(c_of)
                                   - gd_optimal_risk_proportional_expr().subs(xi, d * sp.E / L))
    return out


__all__ = ["approx_loss", "approx_loss_expr", "approx_loss_matrix_expr", "cross_term_expr", "eta_star",
           "gaussian_moment_expr", "identities", "mean_field_loss", "optimal_mu", "optimal_mu_expr", "pair_loss_expr", "pair_monotonicity_expr", "pair_term_expr",
           "profile_loss", "quadratic_form", "scaled_quadratic_form", "single_head_optimum", "single_head_optimum_expr",
           "small_omega_infimum", "small_omega_loss_expr", "small_omega_optimum_expr"]
