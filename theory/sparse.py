r"""Predicted risk orders for sparse in-context regression (SPEC 7, claim C6), and PtO's first step (sympy + numpy).

[CZZ24]'s full text is not available to us: the orders below are the package's own statement of the public claim
("PtO and Lasso: :math:`s\sigma^2\log d/n`-type; ridge and GD: :math:`d\sigma^2/n`-type when :math:`n\gtrsim d`").
**Constants are unknown**, so only *exponents* are checked: the slope of :math:`\log R` in :math:`\log n` and the
exponent of :math:`R` in :math:`d` at fixed :math:`n` and :math:`s`.

Assumptions (stated once): :math:`x\sim\mathcal N(0,I_d)`, SPEC 7.1 data, :math:`n\gtrsim d` (for ridge/GD; the
number of GD steps large enough that T-step GD is near its limit), :math:`n\gtrsim s\log d` (for Lasso/PtO), tuned
parameters. The finite-``n`` shape of each order is taken from an **exact** least-squares form with the same
leading term: ordinary least squares on all ``d`` coordinates, :math:`\mathbb E\|\hat\beta-\beta\|^2 =
\sigma^2 d/(n-d-1)` (Gaussian design, ``n >= d + 2``), for the ``d``-type methods, and least squares on the true
support, :math:`\sigma^2 s/(n-s-1)`, for the ``s``-type. The gap between the exact form's slope and the
asymptotic exponent is the *truncation allowance* of a check.
"""
from __future__ import annotations

import math

import numpy as np
import sympy as sp

from .validate import check_float, check_int

D_TYPE = ("ridge", "gd", "ols")
S_TYPE = ("pto", "lasso")

n_, d_, s_, sig2_ = sp.symbols("n d s sigma2", positive=True)


def ols_excess_risk_expr():
    r""":math:`\sigma^2 d/(n-d-1)`: exact excess risk of least squares with Gaussian design (``n >= d + 2``)."""
    return sig2_ * d_ / (n_ - d_ - 1)


def ols_excess_risk(*, d: int, n: int, sigma2: float) -> float:
    """Exact OLS excess risk :math:`\\sigma^2 d/(n-d-1)` (``n >= d + 2``; the mean of an inverse Wishart trace)."""
    d = check_int("d", d, lo=1)
    n = check_int("n", n, lo=d + 2)
    sigma2 = check_float("sigma2", sigma2, lo=0.0)
    return sigma2 * d / (n - d - 1)


def order(method: str, *, d: int, s: int, n: int, sigma2: float) -> float:
    r"""The predicted order (constant 1): :math:`d\sigma^2/n` (ridge, GD, OLS) or :math:`s\sigma^2\log d/n`
    (PtO, Lasso). Only ratios and exponents of it are meaningful."""
    if method in D_TYPE:
        return d * sigma2 / n
    if method in S_TYPE:
        return s * sigma2 * math.log(d) / n
    raise ValueError(f"method must be one of {D_TYPE + S_TYPE}, got {method!r}")


def _exact_form(method: str, *, d: int, s: int, n: int) -> float:
    k = d if method in D_TYPE else s
    return k / (n - k - 1)


def predicted_n_slope(method: str, ns, *, d: int, s: int) -> tuple[float, float]:
    r"""``(slope, allowance)``: the least-squares slope of :math:`\log R` against :math:`\log n` over ``ns`` from the
    exact least-squares form of the method's order (:math:`d/(n-d-1)` or :math:`s/(n-s-1)`), and the truncation
    allowance :math:`|{\rm slope} - (-1)|` (the asymptotic order's slope is :math:`-1`; which finite-``n`` shape
    the tuned method follows is not known)."""
    ns = np.asarray(ns, dtype=np.float64)
    k = d if method in D_TYPE else s
    if method not in D_TYPE + S_TYPE:
        raise ValueError(f"method must be one of {D_TYPE + S_TYPE}, got {method!r}")
    if ns.size < 2 or np.any(ns < k + 2):
        raise ValueError(f"ns must hold >= 2 sample sizes, each >= {k + 2}, got {ns.tolist()}")
    y = np.log([_exact_form(method, d=d, s=s, n=int(n)) for n in ns])
    slope = float(np.polyfit(np.log(ns), y, 1)[0])
    return slope, abs(slope + 1.0)


def predicted_d_exponent(method: str, *, n: int, d1: int, d2: int, s: int) -> tuple[float, float]:
    r"""``(exponent, allowance)`` of :math:`R` in :math:`d` between ``d1`` and ``d2`` at fixed ``n``, ``s``:
    the centre and half-width of the band spanned by the forms of the method's type.

    * ``d``-type (ridge, GD): between the asymptotic 1 (:math:`d\sigma^2/n`) and the exact OLS form
      :math:`d/(n-d-1)`'s exponent (ridge shrinks, so it sits between).
    * ``s``-type (PtO, Lasso): between 0 (the oracle :math:`s\sigma^2/n`) and the exponent of
      :math:`s\log(d/s)`, the largest of the usual log factors (:math:`\log d`, :math:`\log(d/s)`) over this range.
    """
    if method in D_TYPE:
        lo = 1.0
        hi = math.log(_exact_form(method, d=d2, s=s, n=n) / _exact_form(method, d=d1, s=s, n=n)) / math.log(d2 / d1)
    elif method in S_TYPE:
        lo = 0.0
        hi = max(math.log(math.log(d2 / s) / math.log(d1 / s)), math.log(math.log(d2) / math.log(d1))) / math.log(
            d2 / d1)
    else:
        raise ValueError(f"method must be one of {D_TYPE + S_TYPE}, got {method!r}")
    return (lo + hi) / 2, abs(hi - lo) / 2


# ------------------------------------------------------------------------------- PtO's first step, symbolically
def pto_first_step_identity(d: int = 3):
    r"""PtO's first step in closed form: from :math:`\tilde w_0 = 0`, :math:`\tilde w_1 = \eta D\hat r`, so
    :math:`\hat y_1 = \eta\sum_j \hat r_j^3 x_{q,j}/\|\hat r\|_\infty^2` — a *cubic* reweighting of the one-step-GD
    direction :math:`\hat r` (one-step GD predicts :math:`\eta\sum_j\hat r_jx_{q,j}`). Returns the difference
    between the matrix computation and the closed form (simplifies to 0), with symbols for ``r``, ``x_q`` and the
    normaliser ``m`` (:math:`=\|\hat r\|_\infty`)."""
    r = sp.Matrix(sp.symbols(f"r1:{d + 1}", real=True))
    q = sp.Matrix(sp.symbols(f"q1:{d + 1}", real=True))
    eta, m = sp.symbols("eta m", positive=True)
    D = sp.diag(*r) / m
    w1 = eta * D * r  # gradient at 0 of (1/2n)||y - X D w||^2 is -D X^T y / n = -D r
    yhat = (w1.T * D * q)[0]
    closed = eta * sum(r[j] ** 3 * q[j] for j in range(d)) / m ** 2
    return sp.simplify(yhat - closed)
