r"""Generic delta-method machinery for the refined loss (SPEC 3.5): Gaussian score integrals, :math:`\chi^2_d` averages,
and conditional moments of smooth functions of sample means as series in :math:`1/L`.

* A per-score *feature* ``(k, lam, nrm)`` stands for :math:`s^k e^{\lambda s - \text{nrm}\,q}` with :math:`s\sim\mathcal N(0,q)`;
  its moments come from the Gaussian integral of :func:`theory.mean_field.gaussian_moment_expr`.
* **Delta method.** The central moments of sample means over :math:`L` i.i.d. scores are sums over set partitions
  of joint cumulants, :math:`\kappa_B/L^{|B|-1}` per block (:func:`sample_mean_central_moment`); a Taylor
  expansion around the means then gives :math:`\mathbb E[g(\bar f)]` to :math:`O(L^{-\text{order}})` (:func:`delta_expectation`).
* **The** :math:`\chi^2_d` **average.** Every coefficient is a polynomial in :math:`q` times :math:`e^{\alpha q}`; with
  :math:`q\sim\chi^2_d`, :math:`\mathbb E[q^ke^{\alpha q}] = \partial_\alpha^k(1-2\alpha)^{-d/2}` for :math:`\alpha<1/2`
  (:func:`chi2_moment_expr`, :func:`chi2_average`).

:func:`identities` lists the known closed forms these integrals must reproduce.
"""
from __future__ import annotations

from collections import Counter
from functools import lru_cache
from itertools import combinations_with_replacement
from typing import Sequence

import sympy as sp
from sympy.utilities.iterables import multiset_partitions

from .validate import check_int
from .mean_field import gaussian_moment_expr
from .symbols import L, alpha, d, lam, m_1, q, u_pos, v

__all__ = ["Feature", "chi2_average", "chi2_mgf_expr", "chi2_moment_expr", "delta_expectation", "exp_poly_terms",
           "identities", "joint_moment", "sample_mean_central_moment", "score_mgf_expr", "score_moment_expr"]

#: A per-score feature ``(k, lam, nrm)`` stands for :math:`s^k e^{\lambda s - \text{nrm}\,q}`.
Feature = tuple[int, sp.Expr, sp.Expr]


# ---------------------------------------------------------------- ingredients (sympy integrals)
@lru_cache(maxsize=None)
def score_mgf_expr() -> sp.Expr:
    r""":math:`\mathbb E[e^{\lambda s}\mid q] = e^{\lambda^2 q/2}` for :math:`s\sim\mathcal N(0,q)`: the Gaussian integral
    of :func:`theory.mean_field.gaussian_moment_expr` at variance :math:`q`."""
    return gaussian_moment_expr(0).subs(v, q)


@lru_cache(maxsize=None)
def score_moment_expr(k: int) -> sp.Expr:
    r""":math:`\mathbb E[s^k e^{\lambda s}\mid q]\,e^{-\lambda^2q/2}` (a polynomial in :math:`\lambda, q`), by
    differentiating the MGF ``k`` times in :math:`\lambda`."""
    mgf = score_mgf_expr()
    return sp.expand(sp.simplify(sp.diff(mgf, lam, k) / mgf))


@lru_cache(maxsize=None)
def chi2_mgf_expr() -> sp.Expr:
    r""":math:`\mathbb E[e^{\alpha q}] = (1-2\alpha)^{-d/2}` for :math:`q\sim\chi^2_d`, integrated against the density.

    The integral converges only for :math:`\alpha<1/2`; sympy integrates with :math:`\alpha = 1/2-b`, :math:`b>0`.
    """
    u = u_pos  # u = 1 - 2*alpha > 0
    dens = q**(d / 2 - 1) * sp.exp(-q / 2) / (2**(d / 2) * sp.gamma(d / 2))
    out = sp.integrate(dens * sp.exp(-u * q / 2 + q / 2), (q, 0, sp.oo), conds="none")
    out = sp.powsimp(sp.powdenest(sp.simplify(out), force=True), force=True)
    return out.xreplace({u: 1 - 2 * alpha})


@lru_cache(maxsize=None)
def chi2_moment_expr(k: int) -> sp.Expr:
    r""":math:`\mathbb E[q^k e^{\alpha q}] = \partial_\alpha^k\,\mathbb E[e^{\alpha q}] = 2^k (d/2)_k\,(1-2\alpha)^{-d/2-k}`
    (valid for :math:`\alpha<1/2`). The product form is assembled by hand (positive base, no sign ambiguity of
    symbolic powers) and proved equal to the derivative on :math:`\alpha<1/2`; raises if not."""
    k = check_int("k", k, lo=0)
    raw = sp.diff(chi2_mgf_expr(), alpha, k)
    nice = 2**k * sp.rf(d / 2, k) * (1 - 2 * alpha) ** (-d / 2 - k)
    u = u_pos  # u = 1 - 2*alpha
    on_domain = {alpha: (1 - u) / 2}
    if sp.simplify(sp.expand_func(raw.subs(on_domain) - nice.subs(on_domain))) != 0:
        raise ArithmeticError(f"E[q^{k} e^(alpha q)]: {nice} differs from the derivative {raw}")
    return sp.expand_func(nice)


# ---------------------------------------------------------------- delta method for sample means
def joint_moment(feats: Sequence[Feature]) -> sp.Expr:
    k = sum(f[0] for f in feats)
    rate = sum(f[1] for f in feats)
    nrm = sum(f[2] for f in feats)
    return sp.expand(score_moment_expr(k).subs(lam, rate)) * sp.exp(sp.expand(rate**2 / 2 - nrm) * q)


def _cumulant(feats: Sequence[Feature]) -> sp.Expr:
    """Joint cumulant of the features of one score, from moments by the partition formula."""
    total = sp.S.Zero
    for part in multiset_partitions(list(range(len(feats)))):
        term = (-1)**(len(part) - 1) * sp.factorial(len(part) - 1)
        for block in part:
            term *= joint_moment([feats[i] for i in block])
        total += term
    return sp.expand(total)


def sample_mean_central_moment(feats: Sequence[Feature], order: int, _cache: dict | None = None) -> sp.Expr:
    r""":math:`\mathbb E\prod_i(\bar f_i - \mathbb E f_i)` for sample means over :math:`L` i.i.d. scores, to :math:`O(L^{-\text{order}})`.

    A set partition of the factors into blocks (no singletons) contributes :math:`\prod_B \kappa_B/L^{|B|-1}`.
    """
    cache = {} if _cache is None else _cache
    total = sp.S.Zero
    n = len(feats)
    for part in multiset_partitions(list(range(n))):
        power = n - len(part)
        if any(len(block) < 2 for block in part) or power > order:
            continue
        term = L**(-power)
        for block in part:
            key = tuple(sorted((feats[i] for i in block), key=str))
            if key not in cache:
                cache[key] = _cumulant(key)
            term *= cache[key]
        total += term
    return total


def delta_expectation(g: sp.Expr, variables: Sequence[sp.Symbol], feats: Sequence[Feature], *,
                      order: int) -> sp.Expr:
    r""":math:`\mathbb E[g(\bar f_1,\dots,\bar f_n)\mid q]` to :math:`O(L^{-\text{order}})` (Taylor expansion at the means).

    Exact when ``g`` is a polynomial of degree :math:`\le 2\,\text{order}` in the sample means and every
    dropped term is beyond that degree (the multivariate delta method; derivatives up to ``2*order``).
    """
    cache: dict = {}
    at = {v: joint_moment([f]) for v, f in zip(variables, feats)}
    total = g.subs(at)
    for n in range(2, 2 * order + 1):
        for idx in combinations_with_replacement(range(len(variables)), n):
            der = sp.diff(g, *[variables[i] for i in idx])
            if der == 0:
                continue
            moment = sample_mean_central_moment([feats[i] for i in idx], order, cache)
            if moment == 0:
                continue
            mult = sp.Mul(*[sp.factorial(c) for c in Counter(idx).values()])
            total += der.subs(at) / mult * moment
    return sp.expand(total)


# ---------------------------------------------------------------- the chi^2 average
def exp_poly_terms(expr: sp.Expr) -> dict[sp.Expr, sp.Expr]:
    r"""Write ``expr`` as :math:`\sum_\alpha p_\alpha(q)\,e^{\alpha q}`; returns ``{alpha: p_alpha}``."""
    out: dict[sp.Expr, sp.Expr] = {}
    for term in sp.Add.make_args(sp.expand(expr)):
        expo, rest = sp.S.Zero, sp.S.One
        for f in sp.Mul.make_args(term):
            if isinstance(f, sp.exp):
                expo += f.args[0]
            elif isinstance(f, sp.Pow) and isinstance(f.base, sp.exp):
                expo += f.base.args[0] * f.exp
            else:
                rest *= f
        a = sp.expand(expo / q)
        if a.has(q):
            raise ArithmeticError(f"exponent {expo} is not linear in q")
        out[a] = out.get(a, sp.S.Zero) + rest
    return out


def chi2_average(expr: sp.Expr) -> sp.Expr:
    r""":math:`\mathbb E_q[\,\cdot\,]` over :math:`q\sim\chi^2_d` of an exp-polynomial :math:`\sum p_\alpha(q)e^{\alpha q}`
    (non-negative powers of ``q`` only), term by term with :func:`chi2_moment_expr`."""
    total = sp.S.Zero
    for a, poly in exp_poly_terms(expr).items():
        for (k,), coef in sp.Poly(sp.expand(poly), q).terms():
            total += coef * chi2_moment_expr(k).subs(alpha, a)
    return total


@lru_cache(maxsize=None)
def identities() -> dict[str, sp.Expr]:
    r"""Known closed forms the integrals must reproduce, each identically 0 (``simplify(e) == 0``):
    ``score_mgf`` :math:`e^{\lambda^2q/2}`, ``chi2_mgf`` :math:`(1-2\alpha)^{-d/2}`, ``chi2_moment_k``
    :math:`2^k(d/2)_k(1-2\alpha)^{-d/2-k}` against the raw derivative (k = 1..3, on :math:`\alpha<1/2`),
    ``score_moment_k`` against Hermite-type derivatives (k = 1, 2), and ``delta_exact_on_quadratics``: the delta method
    is exact for :math:`\bar s^2` (:math:`\mathbb E\bar s^2 = q/L`)."""
    on_domain = {alpha: (1 - u_pos) / 2}
    out = {"score_mgf": score_mgf_expr() - sp.exp(lam**2 * q / 2),
           "chi2_mgf": chi2_mgf_expr() - (1 - 2 * alpha) ** (-d / 2)}
    for k in (1, 2, 3):
        raw = sp.diff(chi2_mgf_expr(), alpha, k)
        out[f"chi2_moment_{k}"] = sp.expand_func((raw - chi2_moment_expr(k)).subs(on_domain))
    out["score_moment_1"] = score_moment_expr(1) - lam * q
    out["score_moment_2"] = score_moment_expr(2) - (q + lam**2 * q**2)
    out["delta_exact_on_quadratics"] = delta_expectation(m_1**2, [m_1], [(1, 0, 0)], order=1) - q / L
    return out
