r"""A refined closed form of the reduced model's population loss (SPEC 3.5, HPCY25 §3.1).

The paper's :math:`\tilde{\mathcal L}` (:mod:`theory.mean_field`) replaces every softmax denominator by
its mean and :math:`\|x_q\|^2` by :math:`d`. Here both are kept, to second order in :math:`1/L`.

**Exact reduction** (data SPEC 1.1, model SPEC 2.2). Condition on :math:`x_q`, :math:`q=\|x_q\|^2\sim\chi^2_d`.
Split :math:`x_\ell = (s_\ell/q)\,x_q + x_\ell^\perp` with scores :math:`s_\ell = x_\ell^\top x_q\sim\mathcal N(0,q)`
i.i.d.; then :math:`y_\ell = a\,s_\ell + r_\ell` with :math:`a=\beta^\top x_q/q`, :math:`\mathbb E[a^2\mid q]=1/(dq)`, and
:math:`r_\ell = \beta^\top x_\ell^\perp+\epsilon_\ell` independent of the scores and of :math:`a`, with
:math:`\mathbb E r^2 = \bar\tau^2 = (d-1)/d+\sigma^2`. With :math:`S_h = \sum_\ell w^h_\ell s_\ell` and
:math:`P_{hh'} = \sum_\ell w^h_\ell w^{h'}_\ell` (:math:`w^h = \operatorname{softmax}(\omega_h s)`):

.. math:: \mathcal L = \sigma^2 + \mathbb E_q\Big[\tfrac{1}{dq}\,\mathbb E\big[(q-\mu^\top S)^2\mid q\big]
          + \bar\tau^2\,\mu^\top\mathbb E[P\mid q]\,\mu\Big].

**Expansion.** :math:`S_h = N_h/D_h` and :math:`P_{hh'} = \frac1L M_{hh'}/(D_hD_{h'})` are smooth functions of
sample means of :math:`s e^{\omega s}`, :math:`e^{\omega s}`, :math:`e^{(\omega_h+\omega_{h'})s}` over the :math:`L`
i.i.d. scores. The delta method (Taylor expansion around the means, central moments of sample means
from joint cumulants, :math:`\kappa_r/L^{r-1}` per block) gives their conditional moments as series in
:math:`1/L`; every coefficient is a 1-d Gaussian integral :math:`\mathbb E[s^k e^{\lambda s}]` (sympy), i.e. a
polynomial in :math:`q` times :math:`e^{\alpha q}` with :math:`\alpha` quadratic in :math:`\omega`. The average over
:math:`q\sim\chi^2_d` is then exact: :math:`\mathbb E[q^k e^{\alpha q}] = \partial_\alpha^k (1-2\alpha)^{-d/2}`.
The loss is truncated at :math:`O(L^{-\text{order}})` (default ``order=2``), and it is assembled as

.. math:: \mathcal L_{\rm ref} = 1+\sigma^2 - 2\mu^\top b(\omega) + \mu^\top G(\omega)\mu,\qquad
          b_h = \beta(\omega_h),\ G_{hh'} = \Gamma(\omega_h,\omega_{h'}),

two kernels (:func:`refined_kernels_expr`); :func:`identities` proves it equal to the direct expansion with all
:math:`2H` sample means at once (:func:`refined_loss_raw_expr`).

**Regime of validity.** The :math:`\chi^2_d` average needs every exponent :math:`\alpha<1/2`
(:func:`mgf_exponents_expr`); at ``order=2`` the largest is :math:`3\max_h\omega_h^2`, so :math:`|\omega_h|<1/\sqrt6`.
As an approximation it needs :math:`\epsilon=\big((1-2\omega_{\max}^2)^{-d/2}-1\big)/L\ll1`
(:func:`expansion_parameter`): this is the relative size of the normalisation fluctuations; the
:math:`L^{-2}` terms grow like :math:`(1-6\omega^2)^{-d/2}/L^2`, so in practice :math:`\epsilon\lesssim0.01`. Where it
is not small (large :math:`d\omega^2`, small :math:`L`) the truncated series degrades and eventually diverges.
Measured (symmetric pair at :math:`d=5, L=40`, :math:`2\mu\omega\approx0.9`): relative error :math:`-0.3\%` at
:math:`|\omega|=0.2`, :math:`-10\%` at 0.3, meaningless at 0.4 (order 1: :math:`+2\%, +7\%, +24\%`), while
:math:`\tilde{\mathcal L}` stays within about 10% up to :math:`|\omega|\approx0.6`. So the refinement is for the late,
small-:math:`\omega` regime of the dynamics, not for the transient where :math:`\omega` peaks near 0.58 (SPEC 3.2);
:func:`truncation_error_estimate` flags where it fails. At :math:`\omega=0` the form is exact, and for a pair
:math:`\omega=(w,-w)` with :math:`\mu^\top\omega` and :math:`\mathbf 1^\top\mu` fixed it tends, as :math:`w\to0`, to the exact
risk of mean plus debiased GD (SPEC 3.3-3.4), exactly in :math:`L` (:func:`linearized_loss_expr`).
"""
from __future__ import annotations

from functools import lru_cache

import sympy as sp

from .validate import check_int
from .delta_method import (Feature, chi2_average, chi2_mgf_expr, chi2_moment_expr,  # noqa: F401  (re-exported)
                           delta_expectation, exp_poly_terms, sample_mean_central_moment, score_mgf_expr,
                           score_moment_expr)
# the numeric evaluation lives in its own module; re-exported here (public API: theory.refined.<name>)
from .refined_eval import (DEFAULT_ORDER, ORDERS, exact_loss_interval, expansion_parameter,  # noqa: F401
                           linearized_loss, max_mgf_exponent, refined_loss, refined_loss_grad, residual_variance,
                           truncation_allowance, truncation_error_estimate)
from .symbols import (D, D_a, D_b, L, M, N, N_a, N_b, alpha, d, eta, head_mean_symbols, head_symbols, lam, m_1,
                      m_2, omega_a, omega_b, overlap_symbol, q, sigma2, tau2, w_pos)

eta_sym = eta  # the linearised predictor's step mu^T omega (the name this module used before)


@lru_cache(maxsize=None)
def residual_variance_expr() -> sp.Expr:
    r""":math:`\bar\tau^2 = \mathbb E r_\ell^2`, the variance of the part of a label the scores do not explain, derived
    once from the data model (SPEC 1.1) and used by every formula of this module (symbol ``tau2`` of
    :mod:`theory.symbols` until assembled).

    :math:`r_\ell = \beta^\top x_\ell^\perp + \epsilon_\ell` with :math:`x_\ell^\perp = x_\ell - (s_\ell/q)x_q`; given the
    covariates :math:`\mathbb E_\beta(\beta^\top x^\perp)^2 = \|x^\perp\|^2/d` and
    :math:`\|x^\perp\|^2 = \|x\|^2 - s^2/q`, so :math:`\bar\tau^2 = (\mathbb E\|x\|^2 - \mathbb E[s^2\mid q]/q)/d + \sigma^2`
    with :math:`\mathbb E\|x\|^2 = d` (identity covariance) and :math:`\mathbb E[s^2\mid q]` the Gaussian integral of
    :func:`score_moment_expr` at :math:`\lambda=0`. Result: :math:`(d-1)/d+\sigma^2`."""
    second = score_moment_expr(2).subs(lam, 0)          # E[s^2 | q] = q
    return sp.simplify((d - second / q) / d + sigma2)


def _head_features(om) -> list[Feature]:
    # N_h/delta_h and D_h/delta_h with delta_h = E e^{om s} = e^{om^2 q/2}: means om*q and 1
    return [(1, om, om**2 / 2), (0, om, om**2 / 2)]


# ---------------------------------------------------------------- conditional-on-q pieces
@lru_cache(maxsize=None)
def softmax_mean_expr(order: int = DEFAULT_ORDER) -> sp.Expr:
    r""":math:`\mathbb E[S_a\mid q]`, :math:`S_a = \sum_\ell s_\ell e^{\omega_a s_\ell}/\sum_j e^{\omega_a s_j}`, to :math:`O(L^{-\text{order}})`."""
    return delta_expectation(N / D, [N, D], _head_features(omega_a), order=order)


@lru_cache(maxsize=None)
def softmax_product_expr(order: int = DEFAULT_ORDER) -> sp.Expr:
    r""":math:`\mathbb E[S_aS_b\mid q]` to :math:`O(L^{-\text{order}})`."""
    feats = _head_features(omega_a) + _head_features(omega_b)
    return delta_expectation(N_a * N_b / (D_a * D_b), [N_a, D_a, N_b, D_b], feats, order=order)


@lru_cache(maxsize=None)
def weight_overlap_expr(order: int = DEFAULT_ORDER) -> sp.Expr:
    r""":math:`L\,\mathbb E[P_{ab}\mid q] = \mathbb E[\bar M/(\bar D_a\bar D_b)\mid q]` to :math:`O(L^{1-\text{order}})`,
    so that the loss term :math:`\bar\tau^2\mu^\top\mathbb E P\mu` is kept to :math:`O(L^{-\text{order}})`."""
    feats = [(0, omega_a + omega_b, (omega_a**2 + omega_b**2) / 2), _head_features(omega_a)[1],
             _head_features(omega_b)[1]]
    return delta_expectation(M / (D_a * D_b), [M, D_a, D_b], feats, order=order - 1)


@lru_cache(maxsize=None)
def conditional_loss_expr(n_head: int, order: int = DEFAULT_ORDER) -> sp.Expr:
    r""":math:`\mathbb E[\,(y_q-\hat y)^2 \mid q\,] - \sigma^2` to :math:`O(L^{-\text{order}})`, before the average over
    :math:`q\sim\chi^2_d` (the exact reduction of the module docstring, pieces expanded by the delta method)."""
    omega, mu = head_symbols(check_int("n_head", n_head, lo=1))
    m1, m2, ov = softmax_mean_expr(order), softmax_product_expr(order), weight_overlap_expr(order)
    t2 = residual_variance_expr()
    out = q / d
    for h in range(n_head):
        out -= 2 * mu[h] * m1.subs(omega_a, omega[h]) / d
        for k in range(n_head):
            sub = {omega_a: omega[h], omega_b: omega[k]}
            out += mu[h] * mu[k] * (m2.subs(sub, simultaneous=True) / (d * q)
                                    + t2 / L * ov.subs(sub, simultaneous=True))
    return out


@lru_cache(maxsize=None)
def mgf_exponents_expr(order: int = DEFAULT_ORDER) -> tuple[sp.Expr, ...]:
    r"""Every exponent :math:`\alpha(\omega_a,\omega_b)` whose :math:`\chi^2_d` MGF the refined form uses;
    the form is defined where all are :math:`<1/2` for every pair of heads."""
    pieces = (softmax_mean_expr(order), softmax_product_expr(order), weight_overlap_expr(order))
    exps = set()
    for p in pieces:
        exps |= set(exp_poly_terms(p))
    return tuple(sorted(exps, key=sp.default_sort_key))


# ---------------------------------------------------------------- kernels and the loss
@lru_cache(maxsize=None)
def refined_kernels_expr(order: int = DEFAULT_ORDER) -> tuple[sp.Expr, sp.Expr]:
    r"""``(beta(omega_a), Gamma(omega_a, omega_b))`` with :math:`\mathcal L_{\rm ref}=1+\sigma^2-2\sum_h\mu_h\beta(\omega_h)+\sum_{hh'}\mu_h\mu_{h'}\Gamma(\omega_h,\omega_{h'})`:

    :math:`\beta = \mathbb E_q[\mathbb E(S_a\mid q)]/d`,
    :math:`\Gamma = \mathbb E_q\big[\mathbb E(S_aS_b\mid q)/(dq) + \bar\tau^2\,\mathbb E(\bar M/\bar D_a\bar D_b\mid q)/L\big]`
    (the ``q**2/(dq)`` term averages to the ``1``). ``order`` in (1, 2, 3) is the kept power of :math:`1/L`.
    """
    order = check_int("order", order, lo=1, hi=max(ORDERS))
    beta, gamma = _kernels_in_tau2(order)
    return beta, gamma.subs(tau2, residual_variance_expr())


@lru_cache(maxsize=None)
def _kernels_in_tau2(order: int) -> tuple[sp.Expr, sp.Expr]:
    """:func:`refined_kernels_expr` with :math:`\bar\tau^2` left as the symbol ``tau2`` (the numeric kernels take
    it as an argument, evaluated from :func:`residual_variance_expr`)."""
    beta = chi2_average(softmax_mean_expr(order) / d)
    gamma = chi2_average(sp.expand(softmax_product_expr(order) / (d * q))) \
        + tau2 / L * chi2_average(weight_overlap_expr(order))
    return beta, gamma


@lru_cache(maxsize=None)
def refined_loss_expr(n_head: int, order: int = DEFAULT_ORDER) -> sp.Expr:
    r""":math:`\mathcal L_{\rm ref}(\omega_{1..H},\mu_{1..H})` in ``d, L, sigma2`` (head symbols of :mod:`theory.symbols`)."""
    omega, mu = head_symbols(check_int("n_head", n_head, lo=1))
    beta, gamma = refined_kernels_expr(order)
    loss = 1 + sigma2 - 2 * sum(mu[h] * beta.subs(omega_a, omega[h]) for h in range(n_head))
    for h in range(n_head):
        for k in range(n_head):
            loss += mu[h] * mu[k] * gamma.subs({omega_a: omega[h], omega_b: omega[k]}, simultaneous=True)
    return loss


@lru_cache(maxsize=None)
def refined_loss_raw_expr(n_head: int, order: int = DEFAULT_ORDER) -> sp.Expr:
    r"""Second route: expand :math:`\mathbb E[(q-\mu^\top S)^2\mid q]` with all :math:`2H` sample means at once
    and :math:`\mu^\top\mathbb E[P\mid q]\mu` with all :math:`M_{hh'}, D_h`, then average over :math:`q`.
    Slow beyond ``n_head=2``; used by the tests to prove :func:`refined_loss_expr` right."""
    omega, mu = head_symbols(check_int("n_head", n_head, lo=1))
    ns, ds = head_mean_symbols(n_head)
    feats, variables = [], []
    for h in range(n_head):
        feats += _head_features(omega[h])
        variables += [ns[h], ds[h]]
    pred = sum(mu[h] * ns[h] / ds[h] for h in range(n_head))
    fit = delta_expectation(sp.expand((q - pred)**2), variables, feats, order=order)
    pairs = [(h, k) for h in range(n_head) for k in range(h, n_head)]
    ms = {hk: overlap_symbol(*hk) for hk in pairs}
    mfeats = [(0, omega[h] + omega[k], (omega[h]**2 + omega[k]**2) / 2) for h, k in pairs]
    dfeats = [_head_features(omega[h])[1] for h in range(n_head)]
    overlap = sum((1 if h == k else 2) * mu[h] * mu[k] * ms[(h, k)] / (ds[h] * ds[k]) for h, k in pairs)
    over = delta_expectation(overlap, [ms[p] for p in pairs] + list(ds), mfeats + dfeats, order=order - 1)
    return sigma2 + chi2_average(sp.expand(fit / (d * q))) + residual_variance_expr() / L * chi2_average(over)


# ---------------------------------------------------------------- a second exact route: the linearised predictor
@lru_cache(maxsize=None)
def linearized_loss_expr() -> sp.Expr:
    r"""Exact risk of the first-order predictor of SPEC 3.3,
    :math:`\hat y = \frac{\mathbf 1^\top\mu}{L}\sum_\ell y_\ell + \frac{\eta}{L}\sum_\ell y_\ell(s_\ell-\bar s)`, :math:`\eta = \mu^\top\omega`,
    in the symbols ``alpha`` (:math:`=\mathbf 1^\top\mu`), ``eta``, ``d, L, sigma2``.

    Same reduction as the softmax model, with :math:`\sum_\ell c_\ell s_\ell = \alpha\bar s + \eta\,\overline{s^2} - \eta\bar s^2`
    (a polynomial of degree 4 in sample means, so the order-3 delta expansion is exact) and
    :math:`\sum_\ell c_\ell^2 = \alpha^2/L + \eta^2(\overline{s^2}-\bar s^2)/L`. Result:
    :math:`1+\sigma^2-2\eta(1-\tfrac1L)+\eta^2(1-\tfrac1L)\tfrac{L+d+d\sigma^2}{L}+\alpha^2\tfrac{1+\sigma^2}{L}`
    (debiased GD of SPEC 3.4 plus the mean term).
    """
    m1, m2 = m_1, m_2
    feats = [(1, 0, 0), (2, 0, 0)]
    pred = alpha * m1 + eta * (m2 - m1**2)
    fit = delta_expectation(sp.expand((q - pred)**2), [m1, m2], feats, order=3)
    sq = delta_expectation(alpha**2 / L + eta**2 * (m2 - m1**2) / L, [m1, m2], feats, order=3)
    return sp.factor(sp.expand(sigma2 + chi2_average(sp.expand(fit / (d * q)))
                               + residual_variance_expr() * chi2_average(sq)), eta)


# ---------------------------------------------------------------- lambdified once (used by theory.refined_eval)
@lru_cache(maxsize=None)
def _kernel_fns(order: int):
    """``[beta, Gamma]`` lambdified in ``(omega.., d, L, sigma2, tau2)`` (tau2 = :func:`residual_variance_expr`,
    evaluated by the caller) and the MGF exponents."""
    beta, gamma = _kernels_in_tau2(order)
    fns = [sp.lambdify((omega_a, d, L, sigma2, tau2), beta, "numpy", cse=True),
           sp.lambdify((omega_a, omega_b, d, L, sigma2, tau2), gamma, "numpy", cse=True)]
    exps = sp.lambdify((omega_a, omega_b), list(mgf_exponents_expr(order)), "numpy")
    return fns, exps


@lru_cache(maxsize=None)
def _kernel_grad_fns(order: int):
    """``[dbeta/domega_a, dGamma/domega_a]``, same arguments as :func:`_kernel_fns` (built only when a gradient is
    asked for)."""
    beta, gamma = _kernels_in_tau2(order)
    return [sp.lambdify((omega_a, d, L, sigma2, tau2), sp.diff(beta, omega_a), "numpy", cse=True),
            sp.lambdify((omega_a, omega_b, d, L, sigma2, tau2), sp.diff(gamma, omega_a), "numpy", cse=True)]


@lru_cache(maxsize=None)
def _worst_coefficient(order: int) -> float:
    """:math:`k` with every exponent :math:`\\le k\\max_h\\omega_h^2` (attained at :math:`\\omega_a=\\omega_b`)."""
    return float(max(sp.Poly(e.subs(omega_b, omega_a), omega_a).coeff_monomial(omega_a**2)
                     for e in mgf_exponents_expr(order)))


@lru_cache(maxsize=None)
def _residual_variance_fn():
    return sp.lambdify((d, sigma2), residual_variance_expr(), "math")


@lru_cache(maxsize=None)
def _linearized_fn():
    return sp.lambdify((alpha, eta, d, L, sigma2), linearized_loss_expr(), "numpy")


# ---------------------------------------------------------------- the statements
@lru_cache(maxsize=None)
def identities() -> dict[str, sp.Expr]:
    r"""The refined form's exact properties, each identically 0 (``simplify(e) == 0``; ``expand`` suffices for most):

    * ``assembled_is_direct_H{h}_order{o}`` (h, o in 1, 2): pair-kernel assembly = one delta expansion over all
      :math:`2H` sample means (:func:`refined_loss_raw_expr`);
    * ``chi2_average_of_conditional_H{h}``: averaging :func:`conditional_loss_expr` over :math:`q` gives the form;
    * ``omega_zero_exact``: at :math:`\omega=0` the prediction is :math:`\mu\bar y`, risk :math:`1+\sigma^2+\mu^2(1+\sigma^2)/L`;
    * ``pair_limit_order2`` / ``pair_limit_order1``: for :math:`\omega=(w,-w)` with :math:`\mu^\top\omega=\eta`,
      :math:`\mathbf 1^\top\mu=\alpha` fixed, :math:`w\to0` gives :func:`linearized_loss_expr` exactly at order 2,
      and misses exactly :math:`d(1+\sigma^2)\eta^2/L^2` at order 1;
    * ``linearized_is_dgd_plus_mean``: :func:`linearized_loss_expr` = the Wick-derived debiased-GD risk
      (:func:`theory.risks.dgd_risk_expr`, a second route) plus :math:`\alpha^2(1+\sigma^2)/L`;
    * ``residual_variance``: the derived :math:`\bar\tau^2` (:func:`residual_variance_expr`) is :math:`(d-1)/d+\sigma^2`;
    * ``first_order_beta`` / ``first_order_gamma``: the order-1 kernels in closed form,
      :math:`\beta=\omega[1-(1-2\omega^2)^{-d/2-1}/L]` and :math:`\Gamma=\omega\omega'+\frac{1+\sigma^2}L(1-2\omega\omega')^{-d/2}+\frac{\omega\omega'}L(p(\omega\omega')-p(\omega^2)-p(\omega'^2))`,
      :math:`p(x)=(1-2x)^{-d/2-1}`.
    """
    from .risks import dgd_risk_expr  # the Wick route of SPEC 3.4 (no import cycle: risks does not need refined)
    out: dict[str, sp.Expr] = {}
    for h in (1, 2):
        for o in (1, 2):
            out[f"assembled_is_direct_H{h}_order{o}"] = refined_loss_raw_expr(h, o) - refined_loss_expr(h, o)
        out[f"chi2_average_of_conditional_H{h}"] = (chi2_average(sp.expand(conditional_loss_expr(h))) + sigma2
                                                    - refined_loss_expr(h))
    (om,), (mu1,) = head_symbols(1)
    out["omega_zero_exact"] = refined_loss_expr(1).subs(om, 0) - (1 + sigma2 + mu1**2 * (1 + sigma2) / L)
    wp = w_pos
    (o1, o2), (m1, m2) = head_symbols(2)
    sub = {o1: wp, o2: -wp, m1: eta / (2 * wp) + alpha / 2, m2: -eta / (2 * wp) + alpha / 2}
    for order, missing in ((2, 0), (1, d * eta**2 * (1 + sigma2) / L**2)):
        limit = sp.series(refined_loss_expr(2, order).subs(sub, simultaneous=True), wp, 0, 1).removeO()
        out[f"pair_limit_order{order}"] = limit - linearized_loss_expr() - missing
    out["linearized_is_dgd_plus_mean"] = linearized_loss_expr() - dgd_risk_expr() - alpha**2 * (1 + sigma2) / L
    beta, gamma = refined_kernels_expr(1)
    p = lambda x: (1 - 2 * x) ** (-d / 2 - 1)  # noqa: E731
    a, b = omega_a, omega_b
    out["first_order_beta"] = beta - a * (1 - p(a**2) / L)
    out["first_order_gamma"] = gamma - (a * b + (1 + sigma2) / L * (1 - 2 * a * b) ** (-d / 2)
                                        + a * b / L * (p(a * b) - p(a**2) - p(b**2)))
    out["residual_variance"] = residual_variance_expr() - ((d - 1) / d + sigma2)
    return out


__all__ = ["DEFAULT_ORDER", "ORDERS", "chi2_average", "chi2_mgf_expr", "chi2_moment_expr", "conditional_loss_expr",
           "delta_expectation", "identities",
           "expansion_parameter", "linearized_loss", "linearized_loss_expr", "max_mgf_exponent",
           "mgf_exponents_expr", "refined_kernels_expr", "refined_loss", "refined_loss_expr",
           "refined_loss_grad", "refined_loss_raw_expr", "residual_variance", "residual_variance_expr",
           "sample_mean_central_moment", "score_mgf_expr",
           "score_moment_expr", "softmax_mean_expr", "softmax_product_expr", "truncation_allowance",
           "truncation_error_estimate",
           "weight_overlap_expr"]
