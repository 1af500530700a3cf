r"""Exact finite-:math:`L` risks of one-step GD and debiased GD (SPEC 3.4), derived with :mod:`theory.wick`.

Data 1.1: :math:`x_\ell, x_q\sim\mathcal N(0,I_d)`, :math:`\beta\sim\mathcal N(0,I_d/d)`,
:math:`y = \beta^\top x + \epsilon`, :math:`\epsilon\sim\mathcal N(0,\sigma^2)`, the query label noisy too.
Every risk is :math:`\mathbb E(y_q-\hat y)^2` and so includes the irreducible :math:`\sigma^2`. The predictors are
written as index sums and their risk expanded by Wick contractions (nothing typed in); the optimal step solves
:math:`\partial_\eta R=0`; :func:`identities` proves the derived forms equal SPEC 3.4's.

The proportional-limit Bayes risk and the excess-risk ratio live in :mod:`theory.bayes` (also importable from
here, as before the split).
"""
from __future__ import annotations

import importlib
import math
from functools import lru_cache

import sympy as sp

from .validate import MAX_D, MAX_SIGMA2, check_finite_result, check_float, check_int, check_problem

#: Largest step size accepted by the risk functions: R(eta) ~ eta^2 (1 + (d+1+d sigma2)/L) stays far inside float64.
MAX_ETA = 1e100
from .symbols import BETA, EPS_Q, XQ, L, d, eta, risk, sigma2, wick_noise, wick_vector, xi
from .wick import IndexSum, dot, gaussian_expectation, index_sum_expectation  # noqa: F401  (re-exported)

__all__ = [
    "gaussian_expectation", "index_sum_expectation",
    "gd_risk_expr", "dgd_risk_expr", "centred_gd_risk_expr", "gd_optimal_step_expr", "dgd_optimal_step_expr",
    "gd_optimal_risk_expr", "dgd_optimal_risk_expr", "dgd_risk_curvature_expr", "dgd_effective_length_expr",
    "gd_risk", "dgd_risk", "gd_optimal_step", "dgd_optimal_step", "dgd_step_tolerance",
    "dgd_effective_length", "dgd_effective_length_slope",
    "gd_optimal_risk_proportional_expr", "dgd_optimal_risk_proportional_expr", "identities",
    # moved to theory.bayes, still importable from here
    "mp_stieltjes_expr", "bayes_risk_proportional_expr", "bayes_risk_proportional",
    "excess_ratio_proportional_expr", "excess_ratio_proportional",
]

#: Names that moved to :mod:`theory.bayes`; ``theory.risks.<name>`` still resolves them (PEP 562).
_MOVED_TO_BAYES = ("mp_stieltjes_expr", "bayes_risk_proportional_expr", "bayes_excess_stable_expr",
                   "bayes_risk_proportional", "excess_ratio_proportional_expr", "excess_ratio_proportional")


def __getattr__(name: str):
    if name in _MOVED_TO_BAYES:
        return getattr(importlib.import_module(".bayes", __package__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# ---------------------------------------------------------------- predictors as index sums (SPEC 2.4)
def _y(a) -> sp.Expr:
    return dot(BETA, wick_vector(a)) + wick_noise(a)


def _gd_prediction() -> IndexSum:
    # SPEC 2.4: eta/L sum_a y_a x_a^T x_q
    return IndexSum([(eta / L, 1, lambda a: _y(a) * dot(wick_vector(a), XQ))])


def _centred_prediction(centring: sp.Expr) -> IndexSum:
    # eta/L sum_a y_a x_a^T x_q - eta * centring * sum_{a,b} y_a x_b^T x_q
    return IndexSum([(eta / L, 1, lambda a: _y(a) * dot(wick_vector(a), XQ)),
                     (-eta * centring, 2, lambda a, b: _y(a) * dot(wick_vector(b), XQ))])


def _dgd_prediction() -> IndexSum:
    # SPEC 2.4: eta/L sum_a y_a (x_a - xbar)^T x_q, xbar = (1/L) sum_b x_b: centring 1/L^2
    return _centred_prediction(1 / L**2)


def _risk(pred: IndexSum) -> sp.Expr:
    yq = IndexSum.scalar(dot(BETA, XQ) + EPS_Q)
    err = yq - pred
    return sp.collect(sp.expand(index_sum_expectation(err * err)), eta, sp.factor)


@lru_cache(maxsize=None)
def gd_risk_expr() -> sp.Expr:
    r"""Risk of one-step GD, :math:`R(\eta) = 1+\sigma^2-2\eta+\eta^2\big(1+\frac{d+1+d\sigma^2}{L}\big)`, derived by Wick."""
    return _risk(_gd_prediction())


@lru_cache(maxsize=None)
def dgd_risk_expr() -> sp.Expr:
    r"""Risk of debiased GD, :math:`1+\sigma^2-2\eta(1-\frac1L)+\eta^2(1-\frac1L)\frac{L+d+d\sigma^2}{L}`, derived by Wick."""
    return _risk(_dgd_prediction())


def _argmin(r: sp.Expr) -> sp.Expr:
    (sol,) = sp.solve(sp.diff(r, eta), eta)     # R is a convex quadratic in eta (leading coeff > 0)
    return sp.factor(sol)


def centred_gd_risk_expr(centring: sp.Expr) -> sp.Expr:
    r"""Risk of :math:`\hat y = \frac\eta L\sum_a y_a x_a^\top x_q - \eta\,c\sum_{a,b} y_a x_b^\top x_q` for a centring
    coefficient :math:`c` (a sympy expression in ``L``), derived by Wick like :func:`dgd_risk_expr`.

    :math:`c = 1/L^2` is debiased GD (SPEC 2.4) and :math:`c = 0` plain GD; other values are the neighbouring
    (wrong) centrings a referee might try, e.g. :math:`1/(L(L-1))` (H6's and H8's power tables). Exact for every
    ``d >= 1``, ``L >= 2``; a fresh derivation (about a second), not cached.
    """
    return _risk(_centred_prediction(sp.sympify(centring)))


@lru_cache(maxsize=None)
def gd_optimal_step_expr() -> sp.Expr:
    r""":math:`\eta^*_{\rm GD} = L/(L+d+1+d\sigma^2)`, the root of :math:`\partial_\eta R`."""
    return _argmin(gd_risk_expr())


@lru_cache(maxsize=None)
def dgd_optimal_step_expr() -> sp.Expr:
    r""":math:`\eta^*_{\rm DGD} = L/(L+d+d\sigma^2)`."""
    return _argmin(dgd_risk_expr())


@lru_cache(maxsize=None)
def gd_optimal_risk_expr() -> sp.Expr:
    r""":math:`R_{\rm GD}(\eta^*) = \sigma^2+\frac{d+1+d\sigma^2}{L+d+1+d\sigma^2}`."""
    return sigma2 + sp.factor(sp.simplify(gd_risk_expr().subs(eta, gd_optimal_step_expr()) - sigma2))


@lru_cache(maxsize=None)
def dgd_optimal_risk_expr() -> sp.Expr:
    r""":math:`R_{\rm DGD}(\eta^*) = \sigma^2+\frac{d+1+d\sigma^2}{L+d+d\sigma^2}`."""
    return sigma2 + sp.factor(sp.simplify(dgd_risk_expr().subs(eta, dgd_optimal_step_expr()) - sigma2))


@lru_cache(maxsize=None)
def dgd_risk_curvature_expr() -> sp.Expr:
    r""":math:`\kappa = \tfrac12\partial_\eta^2 R_{\rm DGD} = (1-\frac1L)\frac{L+d+d\sigma^2}{L}`, read off the derived risk.

    :math:`R` is quadratic in :math:`\eta`, so :math:`R(\eta^*+\Delta) - R(\eta^*) = \kappa\Delta^2` exactly."""
    return sp.factor(sp.diff(dgd_risk_expr(), eta, 2) / 2)


@lru_cache(maxsize=None)
def dgd_effective_length_expr() -> sp.Expr:
    r""":math:`L_{\rm eff}(R)` solving :math:`R^*_{\rm DGD}(L_{\rm eff}) = R` (continuous :math:`L`), solved by sympy:
    :math:`L_{\rm eff} = \frac{d+1+d\sigma^2}{R-\sigma^2} - d - d\sigma^2`, in the symbol ``R`` (:data:`theory.symbols.risk`).

    Only :func:`identities` and the tests call this solve; the numeric :func:`dgd_effective_length` evaluates the
    cancellation-free form of :func:`_stable_effective_length`, proved to invert the derived optimal risk by
    substitution (``dgd_effective_length_inverts``), so no claim runs a sympy ``solve``."""
    (sol,) = sp.solve(sp.Eq(dgd_optimal_risk_expr(), risk), L)
    return sol


# ---------------------------------------------------------------- proportional limits of the optimal risks
def _proportional_limit(expr: sp.Expr) -> sp.Expr:
    return sp.simplify(sp.limit(expr.subs(d, xi * L), L, sp.oo))


@lru_cache(maxsize=None)
def gd_optimal_risk_proportional_expr() -> sp.Expr:
    r"""Limit of :math:`R_{\rm GD}(\eta^*)` as :math:`d=\xi L`, :math:`L\to\infty`:
    :math:`\sigma^2+\frac{\xi(1+\sigma^2)}{1+\xi(1+\sigma^2)}`."""
    return _proportional_limit(gd_optimal_risk_expr())


@lru_cache(maxsize=None)
def dgd_optimal_risk_proportional_expr() -> sp.Expr:
    r"""Limit of :math:`R_{\rm DGD}(\eta^*)` as :math:`d=\xi L`, :math:`L\to\infty` (the same as GD's)."""
    return _proportional_limit(dgd_optimal_risk_expr())


# ---------------------------------------------------------------- numeric (lambdified once, each on first use)
_ARGS = (d, L, sigma2, eta)


@lru_cache(maxsize=None)
def _fn(name: str):
    """The lambdified form ``name`` (each derived and lambdified on its first use only, so a claim that needs
    one closed form never pays for, or trips over, the others)."""
    exprs = {
        "gd": (_ARGS, gd_risk_expr), "dgd": (_ARGS, dgd_risk_expr),
        "gd_step": (_ARGS[:3], gd_optimal_step_expr), "dgd_step": (_ARGS[:3], dgd_optimal_step_expr),
        # at the optimum, the cancellation-free form sigma2 + k/(L + ...) (equal by substitution, tested)
        "gd_opt": (_ARGS[:3], gd_optimal_risk_expr), "dgd_opt": (_ARGS[:3], dgd_optimal_risk_expr),
        "dgd_kappa": (_ARGS[:3], dgd_risk_curvature_expr),
        "leff": ((risk, d, sigma2), lambda: _stable_effective_length()[0]),
        "leff_slope": ((risk, d, sigma2), lambda: _stable_effective_length()[1]),
    }
    args, build = exprs[name]
    return sp.lambdify(args, build(), "math")


def _stable_effective_length() -> tuple[sp.Expr, sp.Expr]:
    r""":math:`L_{\rm eff} = k/(R-\sigma^2) - d - d\sigma^2` and its slope :math:`-k/(R-\sigma^2)^2`, :math:`k=d+1+d\sigma^2`,
    assembled by hand because the solved form (:func:`dgd_effective_length_expr`) and its derivative cancel
    catastrophically for large ``R``. That it inverts the *derived* optimal risk, and that the slope is its
    derivative, are identities of :func:`identities` (substitution, no solve) checked by the tests."""
    k = d + 1 + d * sigma2
    return k / (risk - sigma2) - d - d * sigma2, -k / (risk - sigma2) ** 2


def _risk_numeric(kind: str, d, L, sigma2, eta) -> float:
    d, L, sigma2 = check_problem(d, L, sigma2)
    if eta is None:
        return float(_fn(kind + "_opt")(d, L, sigma2))
    return float(_fn(kind)(d, L, sigma2, check_float("eta", eta, lo=-MAX_ETA, hi=MAX_ETA)))


def gd_risk(*, d: int, L: int, sigma2: float, eta: float | None = None) -> float:
    r"""Exact risk of one-step GD (SPEC 2.4) on data 1.1, query noise included (SPEC 3.4):

    .. math:: R(\eta) = 1+\sigma^2-2\eta+\eta^2\Big(1+\frac{d+1+d\sigma^2}{L}\Big).

    ``eta=None`` uses the optimal step :func:`gd_optimal_step`, giving
    :math:`\sigma^2+\frac{d+1+d\sigma^2}{L+d+1+d\sigma^2}`. Exact for every ``d >= 1``, ``L >= 2``, ``sigma2 >= 0``;
    accepted domain: ``d, L, sigma2`` of :func:`theory.validate.check_problem` (``d <= 1e5``, ``L <= 1e7``,
    ``sigma2 <= 1e12``) and ``|eta| <= MAX_ETA = 1e100`` (else ``ValueError``). Always :math:`\ge\sigma^2`.
    """
    return _risk_numeric("gd", d, L, sigma2, eta)


def dgd_risk(*, d: int, L: int, sigma2: float, eta: float | None = None) -> float:
    r"""Exact risk of debiased one-step GD (SPEC 2.4) on data 1.1, query noise included (SPEC 3.4):

    .. math:: R(\eta) = 1+\sigma^2-2\eta\Big(1-\frac1L\Big)+\eta^2\Big(1-\frac1L\Big)\frac{L+d+d\sigma^2}{L}.

    ``eta=None`` uses the optimal step, giving :math:`\sigma^2+\frac{d+1+d\sigma^2}{L+d+d\sigma^2}`. Domain as
    :func:`gd_risk`.
    """
    return _risk_numeric("dgd", d, L, sigma2, eta)


def gd_optimal_step(*, d: int, L: int, sigma2: float) -> float:
    r""":math:`\eta^* = L/(L+d+1+d\sigma^2)`, the minimiser of :func:`gd_risk`."""
    d, L, sigma2 = check_problem(d, L, sigma2)
    return float(_fn("gd_step")(d, L, sigma2))


def dgd_optimal_step(*, d: int, L: int, sigma2: float) -> float:
    r""":math:`\eta^* = L/(L+d+d\sigma^2)`, the minimiser of :func:`dgd_risk`."""
    d, L, sigma2 = check_problem(d, L, sigma2)
    return float(_fn("dgd_step")(d, L, sigma2))


def dgd_step_tolerance(*, d: int, L: int, sigma2: float, excess: float) -> float:
    r"""The step error :math:`\Delta\eta=\sqrt{\delta/\kappa}` that costs debiased GD an excess risk :math:`\delta` = ``excess``.

    :math:`\kappa` = :func:`dgd_risk_curvature_expr` :math:`=(1-\frac1L)\frac{L+d+d\sigma^2}{L}` (SPEC 3.4); exact
    for every step, since the risk is quadratic in :math:`\eta`. ``excess > 0``. Used by H2 to turn a loss
    resolution into a tolerance on :math:`\sum_h\mu_h\omega_h`.
    """
    d, L, sigma2 = check_problem(d, L, sigma2)
    delta = check_float("excess", excess, lo=0.0, lo_open=True)
    return math.sqrt(delta) / math.sqrt(_fn("dgd_kappa")(d, L, sigma2))   # no underflow of delta/kappa


def _check_risk_level(r, sigma2) -> float:
    r = check_float("risk", r)
    if not r > sigma2:
        raise ValueError(f"risk must exceed sigma2 = {sigma2} (the irreducible noise), got {r}")
    if not 1e-100 <= r - sigma2 <= 1e100:
        raise ValueError(f"risk must exceed sigma2 = {sigma2} by an amount in [1e-100, 1e100], got {r}")
    return r


def dgd_effective_length(*, risk: float, d: int, sigma2: float) -> float:
    r"""Continuous :math:`L_{\rm eff}` at which optimally tuned debiased GD reaches risk ``risk`` (SPEC 3.4):
    :math:`L_{\rm eff} = \frac{d+1+d\sigma^2}{R-\sigma^2} - d - d\sigma^2` (:func:`dgd_effective_length_expr`,
    solved once). Domain: ``1e-100 <= risk - sigma2 <= 1e100``, ``1 <= d <= 1e5``, ``0 <= sigma2 <= 1e12`` (else
    ``ValueError``); :math:`L_{\rm eff}\le0` where ``risk`` is above the DGD risk at :math:`L\to0`. H6 compares a single head's risk at :math:`L` with DGD at :math:`L_{\rm eff}`."""
    d, sigma2 = check_int("d", d, lo=1, hi=MAX_D), check_float("sigma2", sigma2, lo=0.0, hi=MAX_SIGMA2)
    out = _fn("leff")(_check_risk_level(risk, sigma2), d, sigma2)
    return float(check_finite_result("risk: L_eff", out, "risk - sigma2 is too small (L_eff -> infinity)"))


def dgd_effective_length_slope(*, risk: float, d: int, sigma2: float) -> float:
    r""":math:`\mathrm dL_{\rm eff}/\mathrm dR = -\frac{d+1+d\sigma^2}{(R-\sigma^2)^2}` (delta-method error bars of
    :func:`dgd_effective_length`). Same domain as :func:`dgd_effective_length`; always :math:`<0`."""
    d, sigma2 = check_int("d", d, lo=1, hi=MAX_D), check_float("sigma2", sigma2, lo=0.0, hi=MAX_SIGMA2)
    try:
        out = _fn("leff_slope")(_check_risk_level(risk, sigma2), d, sigma2)
    except (OverflowError, ZeroDivisionError):
        out = float("inf")
    return float(check_finite_result("risk: dL_eff/dR", out, "risk - sigma2 is too small (the slope -> -infinity)"))


# ---------------------------------------------------------------- the statements of SPEC 3.4
@lru_cache(maxsize=None)
def identities() -> dict[str, sp.Expr]:
    r"""SPEC 3.4's GD / DGD statements as expressions that are identically 0 (``simplify(e) == 0``).

    The SPEC forms are typed here once (they are *given*; the derived ones come from the Wick engine):
    ``gd_risk_is_spec``, ``dgd_risk_is_spec``, the optimal steps and risks, stationarity of the optimal
    step, the curvature, the effective length (``R*(L_eff(R)) = R``), and the proportional limits
    (``= sigma2 + xi(1+sigma2)/(1+xi(1+sigma2))`` for both, SPEC 3.1's multi-head infimum).
    """
    k = d + 1 + d * sigma2
    gd_spec = 1 + sigma2 - 2 * eta + eta**2 * (1 + k / L)
    dgd_spec = 1 + sigma2 - 2 * eta * (1 - 1 / L) + eta**2 * (1 - 1 / L) * (L + d + d * sigma2) / L
    infimum = sigma2 + xi * (1 + sigma2) / (1 + xi * (1 + sigma2))
    return {
        "gd_risk_is_spec": gd_risk_expr() - gd_spec,
        "dgd_risk_is_spec": dgd_risk_expr() - dgd_spec,
        "gd_optimal_step_is_spec": gd_optimal_step_expr() - L / (L + k),
        "dgd_optimal_step_is_spec": dgd_optimal_step_expr() - L / (L + d + d * sigma2),
        "gd_optimal_risk_is_spec": gd_optimal_risk_expr() - (sigma2 + k / (L + k)),
        "dgd_optimal_risk_is_spec": dgd_optimal_risk_expr() - (sigma2 + k / (L + d + d * sigma2)),
        "gd_optimal_step_is_stationary": sp.diff(gd_risk_expr(), eta).subs(eta, gd_optimal_step_expr()),
        "dgd_optimal_step_is_stationary": sp.diff(dgd_risk_expr(), eta).subs(eta, dgd_optimal_step_expr()),
        "gd_optimal_risk_is_substitution": gd_risk_expr().subs(eta, gd_optimal_step_expr()) - gd_optimal_risk_expr(),
        "dgd_optimal_risk_is_substitution":
            dgd_risk_expr().subs(eta, dgd_optimal_step_expr()) - dgd_optimal_risk_expr(),
        "dgd_curvature_is_spec": dgd_risk_curvature_expr() - (1 - 1 / L) * (L + d + d * sigma2) / L,
        "dgd_effective_length_inverts": dgd_optimal_risk_expr().subs(L, _stable_effective_length()[0]) - risk,
        "dgd_effective_length_slope_is_derivative":
            sp.diff(_stable_effective_length()[0], risk) - _stable_effective_length()[1],
        "dgd_effective_length_is_the_solve": dgd_effective_length_expr() - _stable_effective_length()[0],
        "gd_proportional_limit_is_infimum": gd_optimal_risk_proportional_expr() - infimum,
        "dgd_proportional_limit_is_gd": dgd_optimal_risk_proportional_expr() - gd_optimal_risk_proportional_expr(),
    }
