r"""The proportional-limit Bayes risk (Marchenko–Pastur) and the excess-risk ratio of GD over Bayes (SPEC 3.4, H7).

With prior :math:`\mathcal N(0,I/d)` the posterior mean is ridge at :math:`\lambda = d\sigma^2` and the posterior
covariance :math:`\sigma^2(X^\top X+d\sigma^2 I)^{-1}`, so the Bayes risk is
:math:`\sigma^2 + \sigma^2\,\mathbb E\operatorname{tr}(X^\top X + d\sigma^2 I)^{-1} = \sigma^2 + \sigma^2\xi\,\frac1d\mathbb E\operatorname{tr}(S+\xi\sigma^2 I)^{-1}`
with :math:`S = X^\top X/L`. As :math:`d,L\to\infty`, :math:`d/L\to\xi`, the normalised trace tends to the
Marchenko–Pastur Stieltjes transform :math:`m(z)` at :math:`z=-\xi\sigma^2`, the positive root of the MP
self-consistency :math:`m = 1/(1-\xi-z-\xi z m)` (Silverstein–Bai; taken as the starting point, not re-derived).
sympy solves the quadratic and picks the root that is positive (a Stieltjes transform at a negative
argument is positive; the two roots have product :math:`-1/(\xi\lambda) < 0`, so exactly one is).
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import sympy as sp

from .validate import MAX_SIGMA2, check_array, check_float

#: The proportional-limit functions accept xi = d/L in [MIN_XI, MAX_XI] (and sigma2 >= MIN_SIGMA2 > 0 where the
#: ratio or the Stieltjes transform needs sigma2 > 0): there every product and square below stays inside float64.
MIN_XI, MAX_XI = 1e-12, 1e12
MIN_SIGMA2 = 1e-12
from .symbols import m_pos, sigma2, xi, z
from .risks import dgd_optimal_risk_proportional_expr, gd_optimal_risk_proportional_expr

__all__ = ["mp_stieltjes_expr", "mp_stieltjes", "bayes_risk_proportional_expr", "bayes_excess_stable_expr",
           "bayes_risk_proportional", "excess_ratio_proportional_expr", "excess_ratio_proportional", "identities"]


@lru_cache(maxsize=None)
def mp_stieltjes_expr() -> sp.Expr:
    r"""Marchenko–Pastur Stieltjes transform :math:`m(-\lambda)` (ratio :math:`\xi`, unit variance) at
    :math:`\lambda = \xi\sigma^2`: the positive root of :math:`m(1-\xi-z-\xi z m) = 1`, :math:`z=-\lambda`."""
    lam = xi * sigma2
    roots = sp.solve(sp.Eq(m_pos * (1 - xi - z - xi * z * m_pos), 1).subs(z, -lam), m_pos)
    probe = {xi: sp.Rational(1, 2), sigma2: 1}          # roots have product -1/(xi*lam) < 0: one is positive
    (root,) = [r for r in roots if r.subs(probe).evalf() > 0]
    return root


@lru_cache(maxsize=None)
def bayes_risk_proportional_expr() -> sp.Expr:
    r"""Bayes risk :math:`\sigma^2+\sigma^2\xi\,m(-\xi\sigma^2)` as :math:`d,L\to\infty`, :math:`d/L\to\xi`; equals
    :math:`\tfrac12\big[\sigma^2+\frac{\xi-1}\xi+\sqrt{4\sigma^2+(\sigma^2+\frac{1-\xi}\xi)^2}\big]` (SPEC 3.4)."""
    return sp.simplify(sigma2 + sigma2 * xi * mp_stieltjes_expr())


def _stable_parts() -> tuple[sp.Expr, sp.Expr]:
    b = 1 - xi + xi * sigma2
    return b, b**2 + 4 * xi**2 * sigma2


@lru_cache(maxsize=None)
def bayes_excess_stable_expr() -> sp.Piecewise:
    r"""Cancellation-free form of the proportional Bayes *excess* risk.

    With :math:`b = 1-\xi+\xi\sigma^2` and :math:`D = b^2+4\xi^2\sigma^2`, the excess is
    :math:`(\sqrt D-b)/(2\xi)`, which cancels catastrophically for :math:`b\gg0` (small :math:`\xi`); there
    it is evaluated as :math:`2\xi\sigma^2/(\sqrt D+b)`, the same number since :math:`D-b^2=4\xi^2\sigma^2`
    (:func:`identities`, ``stable_branches_agree``).
    """
    b, D = _stable_parts()
    return sp.Piecewise((2 * xi * sigma2 / (sp.sqrt(D) + b), b > 0), ((sp.sqrt(D) - b) / (2 * xi), True))


@lru_cache(maxsize=None)
def _bayes_numeric(module: str = "math"):
    """The stable excess, lambdified once: ``"math"`` (a Python conditional, scalars) or ``"numpy"``
    (``numpy.select`` evaluates both branches, so callers silence the unused branch's warnings)."""
    return sp.lambdify((xi, sigma2), bayes_excess_stable_expr(), module)


def bayes_risk_proportional(*, xi: float, sigma2: float) -> float:
    r"""Bayes (ridge at :math:`\lambda=d\sigma^2`) risk of data 1.1 in the limit :math:`d,L\to\infty`, :math:`d/L\to\xi`:

    .. math:: \tfrac12\Big[\sigma^2 + \frac{\xi-1}{\xi} + \sqrt{4\sigma^2 + \big(\sigma^2+\tfrac{1-\xi}{\xi}\big)^2}\Big].

    Domain: ``MIN_XI <= xi <= MAX_XI`` (1e-12, 1e12), ``0 <= sigma2 <= 1e12`` (at ``sigma2 = 0`` it is
    :math:`\max(0, 1-1/\xi)`); else ``ValueError``. Evaluated in a cancellation-free form
    (:func:`bayes_excess_stable_expr`). At finite ``d, L`` use Monte Carlo of ridge.
    """
    xi_ = check_float("xi", xi, lo=MIN_XI, hi=MAX_XI)
    s2 = check_float("sigma2", sigma2, lo=0.0, hi=MAX_SIGMA2)
    return float(s2 + _bayes_numeric()(xi_, s2))


@lru_cache(maxsize=None)
def _mp_numeric():
    return sp.lambdify((xi, sigma2), mp_stieltjes_expr(), "numpy")


def _positive_arrays(xi, sigma2) -> tuple[np.ndarray, np.ndarray]:
    x = check_array("xi", xi, lo=MIN_XI, hi=MAX_XI)
    s = check_array("sigma2", sigma2, lo=MIN_SIGMA2, hi=MAX_SIGMA2)
    try:
        np.broadcast_shapes(x.shape, s.shape)
    except ValueError:
        raise ValueError(f"xi and sigma2 must broadcast together, got shapes {x.shape} and {s.shape}") from None
    return x, s


def _bayes_excess(x: np.ndarray, s: np.ndarray) -> np.ndarray:
    r"""The stable Bayes excess :math:`\sigma^2\xi m` (both branches evaluated by ``numpy.select``)."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return np.asarray(_bayes_numeric("numpy")(x, s), dtype=float)


def mp_stieltjes(*, xi, sigma2) -> np.ndarray | float:
    r"""Vectorised :math:`m(-\xi\sigma^2)`, the Marchenko–Pastur Stieltjes transform of :func:`mp_stieltjes_expr`
    (lambdified once). Broadcasts ``xi`` (> 0) against ``sigma2`` (> 0). Property used by H7:
    :math:`\xi\sigma^2 m(-\xi\sigma^2) < 1` (:math:`m(-\lambda)<1/\lambda` since the MP law lives on :math:`[0,\infty)`).

    Domain: ``xi`` in [1e-12, 1e12], ``sigma2`` in [1e-12, 1e12] (else ``ValueError``). Evaluated as the stable
    Bayes excess (:func:`bayes_excess_stable_expr`) over :math:`\xi\sigma^2`, the same number
    (:func:`bayes_risk_proportional_expr` is :math:`\sigma^2+\sigma^2\xi m`): the root formula of
    :func:`mp_stieltjes_expr` cancels catastrophically for small :math:`\xi\sigma^2`."""
    x, s = _positive_arrays(xi, sigma2)
    out = _bayes_excess(x, s) / (x * s)
    return float(out) if np.ndim(out) == 0 else out


@lru_cache(maxsize=None)
def excess_ratio_proportional_expr() -> sp.Expr:
    r"""Excess-risk ratio :math:`r(\xi,\sigma^2) = \frac{R_{\rm GD}^\infty-\sigma^2}{R_{\rm Bayes}^\infty-\sigma^2}` (SPEC 3.4).

    It equals :math:`\frac{1+\sigma^2}{\sigma^2\,m\,(1+\xi(1+\sigma^2))}` with :math:`m = m_{\rm MP}(-\xi\sigma^2)`.
    """
    gd_excess = sp.factor(sp.simplify(gd_optimal_risk_proportional_expr() - sigma2))
    return gd_excess / (sigma2 * xi * mp_stieltjes_expr())


@lru_cache(maxsize=None)
def _ratio_numeric():
    # the factored excess xi(1+sigma2)/(1+xi(1+sigma2)): (sigma2 + excess) - sigma2 would cancel for small xi
    gd_excess = sp.factor(sp.simplify(gd_optimal_risk_proportional_expr() - sigma2))
    return sp.lambdify((xi, sigma2), gd_excess, "numpy")


def excess_ratio_proportional(*, xi, sigma2) -> np.ndarray | float:
    r"""Vectorised :math:`r(\xi,\sigma^2)` = (optimal-step GD or DGD excess risk) / (Bayes excess risk), both in
    the proportional limit. Broadcasts ``xi`` (> 0) against ``sigma2`` (> 0); returns a float for scalars.

    Properties (:func:`identities`): :math:`1\le r<1+1/\sigma^2`, :math:`r\to1+1/\sigma^2` as
    :math:`\xi\to0`, :math:`r\to1` as :math:`\xi\to\infty` or :math:`\sigma^2\to\infty`.

    Domain: ``xi`` in [1e-12, 1e12], ``sigma2`` in [1e-12, 1e12] (else ``ValueError``). Both excesses are
    evaluated cancellation-free (relative error ~1e-15); the result is clipped to the proved interval
    :math:`[1, 1+1/\sigma^2]`, which only removes rounding at the two limits.
    """
    x, s = _positive_arrays(xi, sigma2)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.asarray(_ratio_numeric()(x, s), dtype=float) / _bayes_excess(x, s)
    out = np.clip(out, 1.0, 1.0 + 1.0 / s)
    return float(out) if np.ndim(out) == 0 else out


def _factor_radicands(expr: sp.Expr) -> sp.Expr:
    """Factor under every square root, so sqrt(s2^2 + 2 s2 + 1) becomes s2 + 1 (sigma2 >= 0)."""
    return expr.replace(lambda a: a.is_Pow and a.exp == sp.S.Half, lambda a: sp.sqrt(sp.factor(a.base)))


@lru_cache(maxsize=None)
def identities() -> dict[str, sp.Expr]:
    r"""SPEC 3.4's Bayes statements and H7's properties of the ratio, each identically 0 (``simplify(e) == 0``).

    * ``bayes_is_spec_form``: the MP-derived Bayes risk equals SPEC 3.4's closed form (typed here once);
    * ``stable_branches_agree``: :math:`(\sqrt D-b)(\sqrt D+b) = 4\xi^2\sigma^2` (the stable evaluation);
    * ``ratio_closed_form``: :math:`r = (1+\sigma^2)/(\sigma^2 m(1+\xi(1+\sigma^2)))`;
    * ``ratio_limit_xi_0`` (:math:`1+1/\sigma^2`), ``ratio_limit_xi_inf`` and ``ratio_limit_sigma2_inf`` (1);
    * ``bound_identity``: :math:`(1+\xi(1+\sigma^2)) - 1/m = \xi(2-\xi\sigma^2 m)`, so :math:`r<1+1/\sigma^2` iff
      :math:`\xi\sigma^2 m<2`;
    * ``gd_limit_is_infimum`` and ``dgd_limit_is_gd``: the proportional limits of the optimal GD / DGD risks
      are SPEC 3.1's multi-head infimum, and equal (so one ratio serves both).
    The limits are taken here (sympy ``limit``), so building the dict takes a few seconds.
    """
    spec = sp.Rational(1, 2) * (sigma2 + (xi - 1) / xi + sp.sqrt(4 * sigma2 + (sigma2 + (1 - xi) / xi) ** 2))
    infimum = sigma2 + xi * (1 + sigma2) / (1 + xi * (1 + sigma2))
    r, m = excess_ratio_proportional_expr(), mp_stieltjes_expr()
    b, D = _stable_parts()
    return {
        "bayes_is_spec_form": bayes_risk_proportional_expr() - spec,
        "stable_branches_agree": sp.expand((sp.sqrt(D) - b) * (sp.sqrt(D) + b) - 4 * xi**2 * sigma2),
        "ratio_closed_form": r - (1 + sigma2) / (sigma2 * m * (1 + xi * (1 + sigma2))),
        "ratio_limit_xi_0": sp.limit(r, xi, 0) - (1 + 1 / sigma2),
        "ratio_limit_xi_inf": _factor_radicands(sp.limit(r, xi, sp.oo)) - 1,
        "ratio_limit_sigma2_inf": sp.limit(r, sigma2, sp.oo) - 1,
        "bound_identity": (1 + xi * (1 + sigma2)) - 1 / m - xi * (2 - xi * sigma2 * m),
        "gd_limit_is_infimum": gd_optimal_risk_proportional_expr() - infimum,
        "dgd_limit_is_gd": dgd_optimal_risk_proportional_expr() - gd_optimal_risk_proportional_expr(),
    }
