r"""A tiny Wick (Isserlis) engine for exact Gaussian expectations with symbolic dimension ``d`` and length ``L``.

Used by :mod:`theory.risks` to derive the exact finite-:math:`L` risks of SPEC 3.4 (nothing typed in).

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
those a second way from :mod:`sympy.stats` and check agreement. :func:`identities` lists them.
"""
from __future__ import annotations

from functools import lru_cache

import sympy as sp
from sympy.utilities.iterables import multiset_partitions

from .symbols import BETA, EPS_Q, XQ, L, d, sigma2, wick_noise, wick_vector

__all__ = ["BETA", "EPS_Q", "XQ", "IndexSum", "dot", "gaussian_expectation", "identities", "index_sum_expectation",
           "wick_noise", "wick_vector"]

_dot = sp.Function("dot")                       # unevaluated inner product u^T v


def dot(u: sp.Symbol, v: sp.Symbol) -> sp.Expr:
    """The inner product ``u^T v`` as a canonical (argument-sorted) unevaluated function."""
    return _dot(*sorted((u, v), key=sp.default_sort_key))


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


@lru_cache(maxsize=None)
def identities() -> dict[str, sp.Expr]:
    r"""Known Gaussian moments the engine must reproduce (each entry is identically 0):
    :math:`\mathbb E\|x\|^4=d(d+2)`, :math:`\mathbb E\|x\|^6=d(d+2)(d+4)`, :math:`\mathbb E(x^\top x')^2=d`,
    :math:`\mathbb E(x^\top x')^4=3d(d+2)`, :math:`\mathbb E(\beta^\top x)^2\|x\|^2=d+2`, the loop
    :math:`\mathbb E\,x_1^\top x_q\,x_2^\top x_q\,x_1^\top x_2=d`, and :math:`\mathbb E\epsilon^4=3\sigma^4`.
    (The tests derive the same moments a second way, from :mod:`sympy.stats`.)"""
    x1, x2 = wick_vector(1), wick_vector(2)
    e1 = wick_noise(1)
    cases = {
        "norm4": (dot(x1, x1) ** 2, d * (d + 2)),
        "norm6": (dot(x1, x1) ** 3, d * (d + 2) * (d + 4)),
        "cross2": (dot(x1, x2) ** 2, d),
        "cross4": (dot(x1, x2) ** 4, 3 * d * (d + 2)),
        "beta_direction": (dot(BETA, x1) ** 2 * dot(x1, x1), d + 2),
        "loop3": (dot(x1, XQ) * dot(x2, XQ) * dot(x1, x2), d),
        "noise4": (e1**4, 3 * sigma2**2),
        "odd_vanishes": (dot(x1, x2) * dot(x1, x1), sp.Integer(0)),
    }
    return {k: sp.expand(gaussian_expectation(expr) - want) for k, (expr, want) in cases.items()}
