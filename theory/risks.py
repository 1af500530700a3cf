r"""Exact finite-:math:`L` risks of one-step GD and debiased GD, and the proportional-limit Bayes risk (SPEC 3.4).

Data 1.1: :math:`x_\ell, x_q\sim\mathcal N(0,I_d)`, :math:`\beta\sim\mathcal N(0,I_d/d)`,
:math:`y = \beta^\top x + \epsilon`, :math:`\epsilon\sim\mathcal N(0,\sigma^2)`, the query label noisy too.
Every risk is :math:`\mathbb E(y_q-\hat y)^2` and so includes the irreducible :math:`\sigma^2`.

How the GD / DGD risks are derived (nothing typed in)
----------------------------------------------------
:math:`\mathbb E(y_q-\hat y)^2 = \mathbb E y_q^2 - 2\mathbb E[y_q\hat y] + \mathbb E\hat y^2` is a sum of
expectations of *monomials in inner products* of independent isotropic Gaussian vectors
(:math:`x_\ell, x_q` with variance 1, :math:`\beta` with variance :math:`1/d`) times scalar noises.

* **Index sums.** The predictors are sums over token indices, e.g. :math:`\hat y_{\rm GD} = \frac\eta L\sum_a y_a x_a^\top x_q`.
  For a sum over a :math:`k`-tuple of indices, :math:`\mathbb E\sum_{a_1..a_k} f = \sum_{P}(L)_{|P|}\,\mathbb E f_P`
  over the set partitions :math:`P` of :math:`\{1..k\}` (which indices coincide), :math:`(L)_n` the falling
  factorial and :math:`f_P` the summand with the indices of a block equal and different blocks distinct
  (so independent vectors). This is exact for symbolic :math:`L`.
* **Isserlis / Wick with symbolic d.** A monomial :math:`\prod_e u_e^\top v_e` has two "slots" per inner product.
  Its expectation is the sum over perfect matchings of the slots holding the same random vector (different
  vectors are independent, so they never pair) of :math:`\prod(\text{variance per pair})\cdot d^{\#\text{cycles}}`:
  the inner products and the pairings join the slots into closed loops, each a trace of :math:`I_d`.
  Scalar noises contribute their Gaussian moments :math:`\mathbb E\epsilon^{2k} = (2k-1)!!\,\sigma^{2k}`.

The engine (:func:`gaussian_expectation`) reproduces the scalar moments one would otherwise take from
:math:`\chi^2` integrals, :math:`\mathbb E\|x\|^4=d(d+2)`, :math:`\mathbb E(x^\top x')^2=d`, ...; the tests derive
those a second way from :mod:`sympy.stats` and check agreement. The optimal step solves
:math:`\partial_\eta R=0`; the tests check symbolically that the derived forms equal SPEC 3.4's.

How the Bayes risk is derived
-----------------------------
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
from sympy.utilities.iterables import multiset_partitions

from .validate import check_float, check_problem
from .symbols import L, d, eta, sigma2, xi

__all__ = [
    "gaussian_expectation", "index_sum_expectation",
    "gd_risk_expr", "dgd_risk_expr", "gd_optimal_step_expr", "dgd_optimal_step_expr",
    "gd_optimal_risk_expr", "dgd_optimal_risk_expr",
    "gd_risk", "dgd_risk", "gd_optimal_step", "dgd_optimal_step",
    "mp_stieltjes_expr", "bayes_risk_proportional_expr", "bayes_risk_proportional",
    "gd_optimal_risk_proportional_expr", "dgd_optimal_risk_proportional_expr",
    "excess_ratio_proportional_expr", "excess_ratio_proportional",
]

# ---------------------------------------------------------------- a tiny Wick engine
_dot = sp.Function("dot")                       # unevaluated inner product u^T v
BETA = sp.Symbol("beta")                        # task vector, covariance I/d
XQ = sp.Symbol("x_q")                           # query covariate, covariance I
EPS_Q = sp.Symbol("noise_q")                    # query-label noise epsilon_q


def dot(u: sp.Symbol, v: sp.Symbol) -> sp.Expr:
    """The inner product ``u^T v`` as a canonical (argument-sorted) unevaluated function."""
    return _dot(*sorted((u, v), key=sp.default_sort_key))


def _x(a) -> sp.Symbol:
    return sp.Symbol(f"x_{a}")


def _eps(a) -> sp.Symbol:
    return sp.Symbol(f"noise_{a}")             # label noise epsilon_a


def _variance(vec: sp.Symbol) -> sp.Expr:
    return 1 / d if vec == BETA else sp.Integer(1)


def _matchings(slots: list) -> list[list[tuple]]:
    """All perfect matchings of ``slots`` (a list of hashables of even length)."""
    if not slots:
        return [[]]
    first, rest = slots[0], slots[1:]
    out = []
    for i, other in enumerate(rest):
        for tail in _matchings(rest[:i] + rest[i + 1:]):
            out.append([(first, other)] + tail)
    return out


def _cycles(n_edges: int, pairs: list[tuple]) -> int:
    """Number of closed loops formed by the inner-product edges ``(e,0)-(e,1)`` and the Wick ``pairs``."""
    nbr = {}
    for a, b in pairs:
        nbr[a], nbr[b] = b, a
    seen, loops = set(), 0
    for e in range(n_edges):
        if (e, 0) in seen:
            continue
        loops += 1
        slot = (e, 0)
        while slot not in seen:          # walk: across the inner product, then along the Wick pair
            seen.add(slot)
            across = (slot[0], 1 - slot[1])
            seen.add(across)
            slot = nbr[across]
    return loops


def _monomial_expectation(term: sp.Expr) -> sp.Expr:
    coeff, factors = term.as_coeff_mul()
    edges, noise = [], {}
    rest = sp.Integer(1)
    for f in factors:
        base, power = f.as_base_exp()
        if isinstance(base, _dot):
            edges += [base.args] * int(power)
        elif base.is_Symbol and base.name.startswith("noise_"):
            noise[base] = noise.get(base, 0) + int(power)
        else:                            # a deterministic factor (eta, L, d, ...)
            rest *= f
    out = coeff * rest
    for k in noise.values():             # E eps^k for eps ~ N(0, sigma2)
        if k % 2:
            return sp.Integer(0)
        out *= sp.factorial2(k - 1) * sigma2 ** (k // 2)
    groups: dict = {}
    for e, (u, v) in enumerate(edges):
        groups.setdefault(u, []).append((e, 0))
        groups.setdefault(v, []).append((e, 1))
    if any(len(g) % 2 for g in groups.values()):
        return sp.Integer(0)
    total = sp.Integer(0)
    per_group = [(_variance(v) ** (len(g) // 2), _matchings(g)) for v, g in groups.items()]

    def rec(i, pairs, weight):
        nonlocal total
        if i == len(per_group):
            total += weight * d ** _cycles(len(edges), pairs)
            return
        var, matchings = per_group[i]
        for mt in matchings:
            rec(i + 1, pairs + mt, weight * var)

    rec(0, [], sp.Integer(1))
    return out * total


def gaussian_expectation(expr: sp.Expr) -> sp.Expr:
    r"""Exact :math:`\mathbb E[\cdot]` of a polynomial in ``dot(u, v)`` and ``noise_*`` symbols.

    Vectors: ``beta`` has covariance :math:`I/d`, every other vector symbol :math:`I_d`; distinct symbols are
    independent; every ``noise_*`` symbol is an independent :math:`\mathcal N(0,\sigma^2)`. Isserlis' theorem with
    loop counting gives the result as a polynomial in the symbolic dimension ``d``.
    """
    expr = sp.expand(expr)
    terms = expr.args if expr.is_Add else (expr,)
    return sp.expand(sum((_monomial_expectation(t) for t in terms), sp.Integer(0)))


class IndexSum:
    r"""A sum of terms :math:`c\sum_{a_1..a_k=1}^{L} f(a_1..a_k)`; ``f`` maps index labels to a sympy expression."""

    def __init__(self, terms):
        self.terms = list(terms)         # (coeff, k, f)

    @classmethod
    def scalar(cls, expr):
        return cls([(sp.Integer(1), 0, lambda: expr)])

    def __add__(self, other):
        return IndexSum(self.terms + other.terms)

    def __neg__(self):
        return IndexSum([(-c, k, f) for c, k, f in self.terms])

    def __sub__(self, other):
        return self + (-other)

    def __mul__(self, other):
        if not isinstance(other, IndexSum):
            return IndexSum([(c * other, k, f) for c, k, f in self.terms])
        out = []
        for c1, k1, f1 in self.terms:
            for c2, k2, f2 in other.terms:
                out.append((c1 * c2, k1 + k2,
                            lambda *a, f1=f1, f2=f2, k1=k1: f1(*a[:k1]) * f2(*a[k1:])))
        return IndexSum(out)

    __rmul__ = __mul__


def index_sum_expectation(total: IndexSum) -> sp.Expr:
    r""":math:`\mathbb E` of an :class:`IndexSum`: sum over set partitions of the indices, weighted by the
    falling factorial :math:`(L)_{\#\text{blocks}}` (the number of index tuples with that coincidence pattern)."""
    out = sp.Integer(0)
    for coeff, k, f in total.terms:
        if k == 0:
            out += coeff * gaussian_expectation(f())
            continue
        for part in multiset_partitions(list(range(k))):
            label = [None] * k
            for b, block in enumerate(part):
                for i in block:
                    label[i] = b
            out += coeff * sp.ff(L, len(part)) * gaussian_expectation(f(*label))
    return sp.factor(sp.expand(out))


def _y(a) -> sp.Expr:
    return dot(BETA, _x(a)) + _eps(a)


def _gd_prediction() -> IndexSum:
    # SPEC 2.4: eta/L sum_a y_a x_a^T x_q
    return IndexSum([(eta / L, 1, lambda a: _y(a) * dot(_x(a), XQ))])


def _dgd_prediction() -> IndexSum:
    # SPEC 2.4: eta/L sum_a y_a (x_a - xbar)^T x_q, xbar = (1/L) sum_b x_b
    return IndexSum([(eta / L, 1, lambda a: _y(a) * dot(_x(a), XQ)),
                     (-eta / L**2, 2, lambda a, b: _y(a) * dot(_x(b), XQ))])


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


def _argmin(risk: sp.Expr) -> sp.Expr:
    (sol,) = sp.solve(sp.diff(risk, eta), eta)     # R is a convex quadratic in eta (leading coeff > 0)
    return sp.factor(sol)


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
def _numeric():
    args = (d, L, sigma2, eta)
    return {
        "gd": sp.lambdify(args, gd_risk_expr(), "math"),
        "dgd": sp.lambdify(args, dgd_risk_expr(), "math"),
        "gd_step": sp.lambdify(args[:3], gd_optimal_step_expr(), "math"),
        "dgd_step": sp.lambdify(args[:3], dgd_optimal_step_expr(), "math"),
        # at the optimum, the cancellation-free form sigma2 + k/(L + ...) (equal by substitution, tested)
        "gd_opt": sp.lambdify(args[:3], gd_optimal_risk_expr(), "math"),
        "dgd_opt": sp.lambdify(args[:3], dgd_optimal_risk_expr(), "math"),
    }


def _risk_numeric(kind: str, d, L, sigma2, eta) -> float:
    d, L, sigma2 = check_problem(d, L, sigma2)
    f = _numeric()
    if eta is None:
        return float(f[kind + "_opt"](d, L, sigma2))
    return float(f[kind](d, L, sigma2, check_float("eta", eta)))


def gd_risk(*, d: int, L: int, sigma2: float, eta: float | None = None) -> float:
    r"""Exact risk of one-step GD (SPEC 2.4) on data 1.1, query noise included (SPEC 3.4):

    .. math:: R(\eta) = 1+\sigma^2-2\eta+\eta^2\Big(1+\frac{d+1+d\sigma^2}{L}\Big).

    ``eta=None`` uses the optimal step :func:`gd_optimal_step`, giving
    :math:`\sigma^2+\frac{d+1+d\sigma^2}{L+d+1+d\sigma^2}`. Valid for every ``d >= 1``, ``L >= 2``, ``sigma2 >= 0``.
    """
    return _risk_numeric("gd", d, L, sigma2, eta)


def dgd_risk(*, d: int, L: int, sigma2: float, eta: float | None = None) -> float:
    r"""Exact risk of debiased one-step GD (SPEC 2.4) on data 1.1, query noise included (SPEC 3.4):

    .. math:: R(\eta) = 1+\sigma^2-2\eta\Big(1-\frac1L\Big)+\eta^2\Big(1-\frac1L\Big)\frac{L+d+d\sigma^2}{L}.

    ``eta=None`` uses the optimal step, giving :math:`\sigma^2+\frac{d+1+d\sigma^2}{L+d+d\sigma^2}`.
    """
    return _risk_numeric("dgd", d, L, sigma2, eta)


def gd_optimal_step(*, d: int, L: int, sigma2: float) -> float:
    r""":math:`\eta^* = L/(L+d+1+d\sigma^2)`, the minimiser of :func:`gd_risk`."""
    d, L, sigma2 = check_problem(d, L, sigma2)
    return float(_numeric()["gd_step"](d, L, sigma2))


def dgd_optimal_step(*, d: int, L: int, sigma2: float) -> float:
    r""":math:`\eta^* = L/(L+d+d\sigma^2)`, the minimiser of :func:`dgd_risk`."""
    d, L, sigma2 = check_problem(d, L, sigma2)
    return float(_numeric()["dgd_step"](d, L, sigma2))


# ---------------------------------------------------------------- Bayes risk, proportional limit
_m = sp.Symbol("m", positive=True)
_z = sp.Symbol("z", real=True)


@lru_cache(maxsize=None)
def mp_stieltjes_expr() -> sp.Expr:
    r"""Marchenko–Pastur Stieltjes transform :math:`m(-\lambda)` (ratio :math:`\xi`, unit variance) at
    :math:`\lambda = \xi\sigma^2`: the positive root of :math:`m(1-\xi-z-\xi z m) = 1`, :math:`z=-\lambda`."""
    lam = xi * sigma2
    roots = sp.solve(sp.Eq(_m * (1 - xi - _z - xi * _z * _m), 1).subs(_z, -lam), _m)
    probe = {xi: sp.Rational(1, 2), sigma2: 1}          # roots have product -1/(xi*lam) < 0: one is positive
    (root,) = [r for r in roots if r.subs(probe).evalf() > 0]
    return root


@lru_cache(maxsize=None)
def bayes_risk_proportional_expr() -> sp.Expr:
    r"""Bayes risk :math:`\sigma^2+\sigma^2\xi\,m(-\xi\sigma^2)` as :math:`d,L\to\infty`, :math:`d/L\to\xi`; equals
    :math:`\tfrac12\big[\sigma^2+\frac{\xi-1}\xi+\sqrt{4\sigma^2+(\sigma^2+\frac{1-\xi}\xi)^2}\big]` (SPEC 3.4)."""
    return sp.simplify(sigma2 + sigma2 * xi * mp_stieltjes_expr())


@lru_cache(maxsize=None)
def bayes_excess_stable_expr() -> sp.Piecewise:
    r"""Cancellation-free form of the proportional Bayes *excess* risk.

    With :math:`b = 1-\xi+\xi\sigma^2` and :math:`D = b^2+4\xi^2\sigma^2`, the excess is
    :math:`(\sqrt D-b)/(2\xi)`, which cancels catastrophically for :math:`b\gg0` (small :math:`\xi`); there
    it is evaluated as :math:`2\xi\sigma^2/(\sqrt D+b)`, the same number since :math:`D-b^2=4\xi^2\sigma^2`
    (checked symbolically in the tests).
    """
    b = 1 - xi + xi * sigma2
    D = b**2 + 4 * xi**2 * sigma2
    return sp.Piecewise((2 * xi * sigma2 / (sp.sqrt(D) + b), b > 0), ((sp.sqrt(D) - b) / (2 * xi), True))


@lru_cache(maxsize=None)
def _bayes_numeric(module: str = "math"):
    """The stable excess, lambdified once: ``"math"`` (a Python conditional, scalars) or ``"numpy"``
    (``numpy.select`` evaluates both branches, so callers silence the unused branch's warnings)."""
    return sp.lambdify((xi, sigma2), bayes_excess_stable_expr(), module)


def bayes_risk_proportional(*, xi: float, sigma2: float) -> float:
    r"""Bayes (ridge at :math:`\lambda=d\sigma^2`) risk of data 1.1 in the limit :math:`d,L\to\infty`, :math:`d/L\to\xi`:

    .. math:: \tfrac12\Big[\sigma^2 + \frac{\xi-1}{\xi} + \sqrt{4\sigma^2 + \big(\sigma^2+\tfrac{1-\xi}{\xi}\big)^2}\Big].

    ``xi > 0``, ``sigma2 >= 0`` (at ``sigma2 = 0`` it is :math:`\max(0, 1-1/\xi)`). Evaluated in a
    cancellation-free form (:func:`bayes_excess_stable_expr`). At finite ``d, L`` use Monte Carlo of ridge.
    """
    xi_ = check_float("xi", xi, lo=0.0, lo_open=True)
    s2 = check_float("sigma2", sigma2, lo=0.0)
    return float(s2 + _bayes_numeric()(xi_, s2))


# ---------------------------------------------------------------- GD / DGD in the proportional limit
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


@lru_cache(maxsize=None)
def excess_ratio_proportional_expr() -> sp.Expr:
    r"""Excess-risk ratio :math:`r(\xi,\sigma^2) = \frac{R_{\rm GD}^\infty-\sigma^2}{R_{\rm Bayes}^\infty-\sigma^2}` (SPEC 3.4).

    It equals :math:`\frac{1+\sigma^2}{\sigma^2\,m\,(1+\xi(1+\sigma^2))}` with :math:`m = m_{\rm MP}(-\xi\sigma^2)`.
    """
    gd_excess = sp.factor(sp.simplify(gd_optimal_risk_proportional_expr() - sigma2))
    return gd_excess / (sigma2 * xi * mp_stieltjes_expr())


@lru_cache(maxsize=None)
def _ratio_numeric():
    gd_excess = sp.lambdify((xi, sigma2), gd_optimal_risk_proportional_expr() - sigma2, "numpy")
    return gd_excess, _bayes_numeric("numpy")


def excess_ratio_proportional(*, xi, sigma2) -> np.ndarray | float:
    r"""Vectorised :math:`r(\xi,\sigma^2)` = (optimal-step GD or DGD excess risk) / (Bayes excess risk), both in
    the proportional limit. Broadcasts ``xi`` (> 0) against ``sigma2`` (> 0); returns a float for scalars.

    Properties (proved in the H7 check): :math:`1\le r<1+1/\sigma^2`, :math:`r\to1+1/\sigma^2` as
    :math:`\xi\to0`, :math:`r\to1` as :math:`\xi\to\infty` or :math:`\sigma^2\to\infty`.
    """
    x = np.asarray(xi, dtype=float)
    s = np.asarray(sigma2, dtype=float)
    if not np.all(np.isfinite(x)) or np.any(x <= 0):
        raise ValueError(f"xi must be finite numbers > 0, got {np.ravel(x)[:4].tolist()}")
    if not np.all(np.isfinite(s)) or np.any(s <= 0):
        raise ValueError(f"sigma2 must be finite numbers > 0, got {np.ravel(s)[:4].tolist()}")
    gd_excess, bayes_excess = _ratio_numeric()
    with np.errstate(divide="ignore", invalid="ignore"):
        out = gd_excess(x, s) / bayes_excess(x, s)
    return float(out) if np.ndim(out) == 0 else out

