r"""Numeric evaluation of the refined loss (SPEC 3.5; derived in :mod:`theory.refined`): the loss and its
gradient with their regime checks, the expansion parameter and truncation estimate, the exact risk of the
linearised predictor. Re-exported by :mod:`theory.refined`.
"""
from __future__ import annotations

import math

import numpy as np

from .validate import check_finite_result, check_heads, check_int, check_problem, check_vector

_LOG_MAX = math.log(np.finfo(np.float64).max)
ORDERS = (1, 2, 3)
DEFAULT_ORDER = 2


def _kernel_fns(order: int):
    from .refined import _kernel_fns as fns   # lambdified once there (sympy lives in that module)

    return fns(order)


def _kernel_grad_fns(order: int):
    from .refined import _kernel_grad_fns as fns

    return fns(order)


def residual_variance(d: int, sigma2: float) -> float:
    r""":math:`\bar\tau^2 = (d-1)/d+\sigma^2`, the label variance the scores do not explain, evaluated from its one
    derivation (:func:`theory.refined.residual_variance_expr`). Every numeric refined kernel takes it from here."""
    from .refined import _residual_variance_fn

    d, _, sigma2 = check_problem(d, 2, sigma2)
    return float(_residual_variance_fn()(d, sigma2))


def _worst_coefficient(order: int) -> float:
    from .refined import _worst_coefficient as worst

    return worst(order)


def _linearized_fn():
    from .refined import _linearized_fn as fn

    return fn()


def _prepare(omega, mu, d, L, sigma2, order):
    omega, mu = check_heads(omega, mu)
    d, L, sigma2 = check_problem(d, L, sigma2)
    order = check_int("order", order, lo=min(ORDERS), hi=max(ORDERS))
    fns, exps = _kernel_fns(order)
    a_max = _max_exponent(omega, order)
    if not a_max < 0.5:
        bound = 1 / np.sqrt(2 * _worst_coefficient(order))
        raise ValueError(f"omega must have every chi^2 MGF exponent < 1/2 at order {order} "
                         f"(sufficient: max|omega_h| < {bound:.4f}), got exponent {a_max:.4g} "
                         f"for max|omega_h| = {np.max(np.abs(omega)):.4g}")
    return omega, mu, d, L, sigma2, fns


def max_mgf_exponent(omega, *, order: int = DEFAULT_ORDER) -> float:
    r"""Largest :math:`\alpha` over every pair of heads in :func:`mgf_exponents_expr`; the refined form needs it :math:`<1/2`."""
    omega = check_vector("omega", omega)
    return _max_exponent(omega, check_int("order", order, lo=min(ORDERS), hi=max(ORDERS)))


def _max_exponent(omega: np.ndarray, order: int) -> float:
    _, exps = _kernel_fns(order)
    a, b = omega[:, None], omega[None, :]
    with np.errstate(over="ignore", invalid="ignore"):
        out = float(max(np.max(np.broadcast_to(e, (omega.size, omega.size))) for e in exps(a, b)))
    return float(check_finite_result("omega: the largest chi^2 MGF exponent", out, "bound |omega_h| (< 1e150)"))


def expansion_parameter(omega, *, d: int, L: int) -> float:
    r""":math:`\epsilon = \big((1-2\omega_{\max}^2)^{-d/2}-1\big)/L = \mathbb E_q[e^{\omega_{\max}^2q}-1]/L`, the relative variance of the
    softmax normaliser averaged over the query; the :math:`1/L` series behind the refined form needs :math:`\epsilon\ll1`."""
    omega = check_vector("omega", omega)
    d, L, _ = check_problem(d, L, 0.0)
    with np.errstate(over="ignore"):
        w2 = float(np.max(omega**2))
    if not w2 < 0.5:
        raise ValueError(f"omega: the expansion parameter is infinite (E e^(omega^2 q) diverges) unless "
                         f"max|omega_h| < 1/sqrt(2) ~ 0.7071, got max|omega_h| = {np.sqrt(w2):.4g}")
    log_mgf = -0.5 * d * math.log1p(-2 * w2)                                # log (1 - 2 w2)^(-d/2), no overflow
    if log_mgf > _LOG_MAX - 1:
        raise ValueError(f"omega, d: the expansion parameter (1 - 2 max omega^2)^(-d/2) / L overflows float64 "
                         f"(needs -d/2 log(1 - 2 max omega^2) < {_LOG_MAX - 1:.0f}, got {log_mgf:.4g})")
    if log_mgf < 1e-3:                                                      # no cancellation for small omega
        return float(math.expm1(log_mgf) / L)
    return float(((1 - 2 * w2) ** (-d / 2) - 1) / L)


def truncation_error_estimate(omega, mu, *, d: int, L: int, sigma2: float) -> float:
    r""":math:`|\mathcal L_{\rm ref}^{(2)} - \mathcal L_{\rm ref}^{(1)}|`, the size of the last kept (:math:`L^{-2}`) term: the usual
    estimate of an asymptotic series' error. Measured in H3 it bounds the actual error at most points and
    grows fast where the series breaks down (e.g. :math:`|\omega|\gtrsim0.25` at :math:`d=5, L=40`). A diagnostic
    of breakdown, so it is defined where :func:`refined_loss` refuses a broken series (``check_regime=False``);
    domain and overflow errors as :func:`refined_loss`."""
    kw = {"d": d, "L": L, "sigma2": sigma2, "check_regime": False}
    return abs(refined_loss(omega, mu, order=2, **kw) - refined_loss(omega, mu, order=1, **kw))


def truncation_allowance(omega, mu, *, d: int, L: int, sigma2: float, order: int = DEFAULT_ORDER) -> float:
    r"""An allowance for the error of the refined form truncated at :math:`O(L^{-\text{order}})` (``order`` 1 or 2),
    from the series itself: with :math:`t_k = \mathcal L^{(k)}_{\rm ref}-\mathcal L^{(k-1)}_{\rm ref}` the
    :math:`L^{-k}` term, the first dropped term :math:`t_{\rm order+1}` is computed and the rest bounded as a
    geometric tail with the observed ratio :math:`\rho = |t_{\rm order+1}/t_{\rm order}|`:

    .. math:: |\mathcal L - \mathcal L^{(\rm order)}_{\rm ref}| \lesssim |t_{\rm order+1}|/(1-\rho),\qquad \rho<1.

    Returns ``inf`` where the series gives no such bound (:math:`\rho\ge1`: the terms do not decrease, the series has
    broken down; or the next order's :math:`\chi^2` average diverges, every MGF exponent must be < 1/2). For a 1/L
    series :math:`\rho = O(\epsilon)` (:func:`expansion_parameter`), so the allowance is :math:`O(L^{-\text{order}-1})`.
    Domain as :func:`refined_loss`; ``order`` in (1, 2) (the next order must exist in ``ORDERS``)."""
    order = check_int("order", order, lo=1, hi=max(ORDERS) - 1)
    kw = {"d": d, "L": L, "sigma2": sigma2, "check_regime": False}
    this = refined_loss(omega, mu, order=order, **kw)
    prev = refined_loss(omega, mu, order=order - 1, **kw) if order > 1 else _order0_loss(omega, mu, sigma2)
    try:
        nxt = refined_loss(omega, mu, order=order + 1, **kw)
    except ValueError:                    # next order's chi^2 average diverges (or overflows): no bound
        return math.inf
    last, dropped = abs(this - prev), abs(nxt - this)
    if not dropped < last:
        return math.inf
    return float(dropped / (1 - dropped / last))


def _order0_loss(omega, mu, sigma2) -> float:
    r"""The L -> infinity limit of the refined form: :math:`1+\sigma^2-2\mu^\top\omega+(\mu^\top\omega)^2`."""
    omega, mu = check_heads(omega, mu)
    e = float(mu @ omega)
    return float(1 + sigma2 - 2 * e + e * e)


def refined_loss(omega, mu, *, d: int, L: int, sigma2: float, order: int = DEFAULT_ORDER,
                 check_regime: bool = True) -> float:
    r"""Refined population loss of the reduced model (SPEC 3.5), kept to :math:`O(L^{-\text{order}})`:

    .. math:: \mathcal L_{\rm ref} = 1+\sigma^2 - 2\sum_h\mu_h\beta(\omega_h) + \sum_{h,h'}\mu_h\mu_{h'}\Gamma(\omega_h,\omega_{h'}),

    with the kernels of :func:`refined_kernels_expr` (softmax normalisation fluctuations to second order in
    :math:`1/L`, :math:`\|x_q\|^2\sim\chi^2_d` averaged exactly). For example
    :math:`\beta(\omega) = \omega\big[1 - \tfrac1L(1-2\omega^2)^{-d/2-1} + O(L^{-2})\big]`, where :math:`\tilde{\mathcal L}` has :math:`\omega`.

    Domain: ``d, L, sigma2`` of :func:`theory.validate.check_problem`, finite ``omega``, ``mu`` with every
    exponent :math:`<1/2` (``order=2``: :math:`|\omega_h|<1/\sqrt6`; else ``ValueError``), and the terms of the
    series inside float64 (:math:`(1-2\alpha)^{-d/2-k}` overflows for large :math:`d`: ``ValueError``). Accurate when
    :func:`expansion_parameter` is small. **Regime bound**: the exact loss is :math:`\ge\sigma^2`; where the truncated
    series leaves the interval :math:`[\sigma^2, (1+\sigma^2)(1+\sqrt L\|\mu\|_1)^2]` that holds the exact loss
    (:math:`|\hat y|\le\|\mu\|_1\max_\ell|y_\ell|`, :math:`\mathbb E\max_\ell y_\ell^2\le L(1+\sigma^2)`) it has broken down (large :math:`(1-6\omega^2)^{-d/2}/L^2`) and a ``ValueError``
    says so, unless ``check_regime=False`` (then the raw truncated series is returned, e.g. to measure how far
    off it is, as H3 does; still never NaN or inf). Reference: SPEC 3.5, HPCY25 §3.1.
    """
    omega, mu, d, L, sigma2, fns = _prepare(omega, mu, d, L, sigma2, order)
    beta, gamma = _kernel_values(fns, omega, d, L, sigma2)
    with np.errstate(over="ignore", invalid="ignore"):
        loss = float(1 + sigma2 - 2 * mu @ beta + mu @ gamma @ mu)
    check_finite_result("omega, mu, d: the refined loss", loss, _OVERFLOW_HINT)
    if check_regime:
        _check_regime(loss, omega, mu, d, L, sigma2, order)
    return loss


_OVERFLOW_HINT = ("bound d * max(omega_h^2) (the chi^2 averages (1 - 2 alpha)^(-d/2 - k) explode as 6 omega^2 -> 1) "
                  "and |mu_h|")


def exact_loss_interval(mu, *, L: int, sigma2: float) -> tuple[float, float]:
    r"""An interval that provably holds the reduced model's exact loss: :math:`[\sigma^2,
    (1+\sigma^2)(1+\sqrt L\,\|\mu\|_1)^2]`.

    :math:`|\hat y|\le\|\mu\|_1\max_\ell|y_\ell|` and :math:`\mathbb E\max_\ell y_\ell^2\le\mathbb E\sum_\ell y_\ell^2
    = L(1+\sigma^2)`, so :math:`\|y_q-\hat y\|_{L^2}\le\sqrt{1+\sigma^2}\,(1+\sqrt L\|\mu\|_1)`; the noise of
    :math:`y_q` alone gives the lower end. A refined value outside it means the 1/L series has broken down.
    """
    mu = np.asarray(mu, dtype=np.float64)
    return float(sigma2), float((1 + sigma2) * (1 + math.sqrt(L) * float(np.sum(np.abs(mu)))) ** 2)


def _check_regime(loss: float, omega, mu, d, L, sigma2, order) -> None:
    _, upper = exact_loss_interval(mu, L=L, sigma2=sigma2)
    if not sigma2 <= loss <= upper:
        w2 = float(np.max(omega**2))
        log_size = -0.5 * d * math.log1p(-6 * w2) - 2 * math.log(L) if 6 * w2 < 1 else float("inf")
        size = math.exp(log_size) if log_size < _LOG_MAX else float("inf")
        raise ValueError(f"omega, d, L: the 1/L series of the refined loss (order {order}) has broken down here: it "
                         f"gives {loss:.4g}, outside [sigma2, (1+sigma2)(1+sqrt(L)|mu|_1)^2] = [{sigma2:.4g}, {upper:.4g}] "
                         f"where the exact loss lies "
                         f"((1 - 6 max omega^2)^(-d/2) / L^2 = {size:.3g} is not small); reduce d*omega^2 or "
                         f"raise L (check_regime=False returns the raw series)")


def refined_loss_grad(omega, mu, *, d: int, L: int, sigma2: float, order: int = DEFAULT_ORDER,
                      check_regime: bool = True) -> tuple[np.ndarray, np.ndarray]:
    r"""``(dL/domega, dL/dmu)`` of :func:`refined_loss`, from the sympy derivatives of the kernels:
    :math:`\partial_{\mu}\mathcal L = -2\beta + 2G\mu`,
    :math:`\partial_{\omega_h}\mathcal L = -2\mu_h\beta'(\omega_h) + 2\mu_h\sum_{h'}\mu_{h'}\partial_1\Gamma(\omega_h,\omega_{h'})`
    (:math:`\Gamma` is symmetric). Same domain, regime bound (``check_regime``) and errors as :func:`refined_loss`."""
    omega, mu, d, L, sigma2, fns = _prepare(omega, mu, d, L, sigma2, order)
    beta, gamma = _kernel_values(fns, omega, d, L, sigma2)
    h = omega.size
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        gfns, t2 = _kernel_grad_fns(order), residual_variance(d, sigma2)
        dbeta = np.broadcast_to(np.asarray(gfns[0](omega, d, L, sigma2, t2), dtype=float), (h,))
        dgamma = np.broadcast_to(np.asarray(gfns[1](omega[:, None], omega[None, :], d, L, sigma2, t2), dtype=float),
                                 (h, h))
        g_mu = -2 * beta + 2 * gamma @ mu
        g_omega = -2 * mu * dbeta + 2 * mu * (dgamma @ mu)
        loss = float(1 + sigma2 - 2 * mu @ beta + mu @ gamma @ mu)
    check_finite_result("omega, mu, d: the refined loss gradient", np.concatenate([g_omega, g_mu, [loss]]), _OVERFLOW_HINT)
    if check_regime:
        _check_regime(loss, omega, mu, d, L, sigma2, order)
    return g_omega, g_mu


def _kernel_values(fns, omega, d, L, sigma2):
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        beta, gamma = _raw_kernel_values(fns, omega, d, L, sigma2)
    check_finite_result("omega, d: the refined kernels", np.concatenate([beta, gamma.ravel()]), _OVERFLOW_HINT)
    return beta, gamma


def _raw_kernel_values(fns, omega, d, L, sigma2):
    h, t2 = omega.size, residual_variance(d, sigma2)
    beta = np.broadcast_to(np.asarray(fns[0](omega, d, L, sigma2, t2), dtype=float), (h,))
    gamma = np.broadcast_to(np.asarray(fns[1](omega[:, None], omega[None, :], d, L, sigma2, t2), dtype=float), (h, h))
    return beta, gamma  # (H,), (H, H)


def linearized_loss(omega, mu, *, d: int, L: int, sigma2: float) -> float:
    r"""Exact risk of the first-order (mean plus debiased-GD) predictor of SPEC 3.3 with
    :math:`\alpha=\mathbf 1^\top\mu`, :math:`\eta=\mu^\top\omega` (:func:`linearized_loss_expr`); any finite :math:`\omega,\mu`
    and ``d, L, sigma2`` of :func:`theory.validate.check_problem` for which the risk is below float64's maximum
    (about :math:`|\mu^\top\omega|, |\mathbf 1^\top\mu| < 10^{140}`; else ``ValueError``). Always :math:`\ge\sigma^2`."""
    omega, mu = check_heads(omega, mu)
    d, L, sigma2 = check_problem(d, L, sigma2)
    with np.errstate(over="ignore", invalid="ignore"):
        alpha_, eta_ = float(np.sum(mu)), float(mu @ omega)
    if not (abs(alpha_) < 1e140 and abs(eta_) < 1e140):
        raise ValueError(f"mu, omega: the linearised risk overflows float64 unless |sum(mu)| and |mu . omega| < 1e140, "
                         f"got {alpha_:.3g} and {eta_:.3g}")
    return float(_linearized_fn()(alpha_, eta_, d, L, sigma2))
