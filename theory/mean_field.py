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

import sympy as sp

from .validate import check_problem
# the numeric evaluation lives in its own module; re-exported here (public API: theory.mean_field.<name>)
from .mean_field_eval import (approx_loss, mean_field_loss, optimal_mu, profile_loss,  # noqa: F401
                              quadratic_form, scaled_quadratic_form)
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
def approx_loss_c_expr(n_head: int) -> sp.Expr:
    r"""The derived :func:`approx_loss_expr` with its :math:`1/L` part written in :math:`c=(1+\sigma^2)/L` (SPEC 3):
    :math:`1+\sigma^2` plus the rest with :math:`\sigma^2=cL-1`. Every consequence below (:math:`\mu^*`, small-:math:`\omega`
    form, pair form, single head) and the flow (:mod:`theory.flow`) start from it, not from the typed matrix form
    :func:`approx_loss_matrix_expr` (which :func:`identities` proves equal)."""
    rest = sp.expand((approx_loss_expr(n_head) - 1 - sigma2).subs(sigma2, c * L - 1))
    if rest.has(L):
        raise ArithmeticError(f"the derived loss for {n_head} heads is not a function of c = (1+sigma2)/L: {rest}")
    return 1 + sigma2 + rest


def _linear_solution(eqs, unknowns) -> dict:
    """The unique solution of equations linear in ``unknowns`` (Gaussian elimination; no ``sympy.solve``)."""
    A, b = sp.linear_eq_to_matrix([sp.expand(e) for e in eqs], list(unknowns))
    sol = A.LUsolve(b)
    return {x: sp.simplify(sol[i]) for i, x in enumerate(unknowns)}


@lru_cache(maxsize=None)
def _kernels():
    b = sp.lambdify((omega, d), cross_term_expr(), "numpy")
    a = sp.lambdify((omega, omega_p, d, L, sigma2), pair_term_expr(), "numpy")
    return b, a


# ---------------------------------------------------------------- consequences (SPEC 3.1)
@lru_cache(maxsize=None)
def optimal_mu_expr(n_head: int) -> sp.Matrix:
    r""":math:`\mu^*` solving :math:`\nabla_\mu\tilde{\mathcal L}=0` symbolically (small ``n_head`` only)."""
    _, mu_h = head_symbols(n_head)
    loss = approx_loss_c_expr(n_head)
    sol = _linear_solution([sp.diff(loss, x) for x in mu_h], mu_h)
    return sp.Matrix([sol[x] for x in mu_h])


@lru_cache(maxsize=None)
def small_omega_loss_expr(n_head: int) -> sp.Expr:
    r"""Second-order form of :math:`\tilde{\mathcal L}` for small :math:`\omega` (SPEC 3.1):
    expand :math:`E_{hh'} = 1 + d\omega_h\omega_{h'} + O(\omega^4)`, giving
    :math:`1+\sigma^2-2\mu^\top\omega+(1+cd)(\mu^\top\omega)^2+c(\mathbf 1^\top\mu)^2`."""
    om_h, mu_h = head_symbols(n_head)
    e = e_scale
    scaled = approx_loss_c_expr(n_head).subs({o: e * o for o in om_h}, simultaneous=True)
    scaled = scaled.subs({x: x / e for x in mu_h}, simultaneous=True)  # mu omega held fixed
    # omega -> e*omega, mu -> mu/e keeps mu_h*omega_h fixed; truncating at O(e^2) keeps exactly the
    # terms up to E = 1 + d*omega*omega' (c*(1^T mu)^2 appears at order e^-2, the rest at e^0).
    series = sp.series(scaled, e, 0, 1).removeO()
    return sp.expand(sp.simplify(series.subs(e, 1)))


@lru_cache(maxsize=None)
def small_omega_optimum_expr() -> dict[str, sp.Expr]:
    r"""Minimise the small-:math:`\omega` form over :math:`u=\mu^\top\omega` and :math:`v=\mathbf 1^\top\mu`: the derived
    form (:func:`small_omega_loss_expr` of two heads) is rewritten in :math:`(u, v)` (it must not depend on anything
    else) and its stationary point solved as a linear system.

    Returns ``{"u": eta*, "v": 0, "loss": infimum}``: zero-sum :math:`v=0`, :math:`\eta^*=1/(1+cd)`,
    infimum :math:`1+\sigma^2-1/(1+cd)`.
    """
    om_h, mu_h = head_symbols(2)
    form = small_omega_loss_expr(2)
    # the derived form depends on (omega, mu) only through u = mu^T omega and v = 1^T mu: rewrite it so
    loss = sp.expand(form.subs({mu_h[0]: (u - v * om_h[1]) / (om_h[0] - om_h[1]),
                                mu_h[1]: (v * om_h[0] - u) / (om_h[0] - om_h[1])}, simultaneous=True))
    loss = sp.simplify(loss)
    if loss.has(*om_h):
        raise ArithmeticError(f"the small-omega form is not a function of u = mu^T omega, v = 1^T mu: {loss}")
    sol = _linear_solution([sp.diff(loss, u), sp.diff(loss, v)], [u, v])
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
    loss = approx_loss_c_expr(2).subs({om_h[0]: w, om_h[1]: -w, mu_h[0]: m, mu_h[1]: -m}, simultaneous=True)
    m_raw = _linear_solution([sp.diff(loss, m)], [m])[m]
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
    (om1,), (mu1,) = head_symbols(1)
    loss = approx_loss_c_expr(1)
    mu_star = _linear_solution([sp.diff(loss, mu1)], [mu1])[mu1]
    profile = sp.simplify(loss.subs(mu1, mu_star).subs(om1, om))          # derived: 1+s2 - om^2/(om^2 + c e^(d om^2))
    # stationary point in x = omega^2: the numerator of d profile/dx is e^(dx) times a polynomial in x
    numer = sp.numer(sp.together(sp.diff(profile.subs(om, sp.sqrt(x)), x)))
    poly = sp.Poly(sp.simplify(sp.powsimp(sp.expand(numer) * sp.exp(-d * x))), x)
    roots = [r for r in sp.roots(poly, x) if r != 0]
    if len(roots) != 1:
        raise ArithmeticError(f"single head: expected one stationary omega^2, got {roots}")
    x_star = roots[0]
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
