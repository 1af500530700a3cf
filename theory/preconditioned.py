r"""Anisotropic covariates (SPEC 1.2, 3.6): softmax attention with general KQ blocks → preconditioned debiased GD,
the exact finite-:math:`L` risk of preconditioned one-step GD (plain and centred) and its minimiser :math:`\Gamma^*`.

Data 1.2: :math:`x_\ell, x_q\sim\mathcal N(0,\Sigma)`, :math:`\beta\sim\mathcal N(0,I_d/d)`,
:math:`y=\beta^\top x+\epsilon`, :math:`\epsilon\sim\mathcal N(0,\sigma^2)`, the query label noisy too (risks include
:math:`\sigma^2`). Predictors (SPEC 2.4), :math:`\Gamma` any real :math:`d\times d` matrix:

* plain:   :math:`\hat y = \frac1L\sum_\ell y_\ell\,x_\ell^\top\Gamma x_q`;
* centred: :math:`\hat y = \frac1L\sum_\ell y_\ell\,(x_\ell-\bar x)^\top\Gamma x_q` — the debiased GD of
  :mod:`theory.risks` (which centres only :math:`x`; centring :math:`y` as well changes nothing, since
  :math:`\sum_\ell(x_\ell-\bar x)=0`).

**First order of the attention (derived).** A head with KQ x-block :math:`\Omega_h` scores token :math:`\ell` by
:math:`s^h_\ell = x_\ell^\top\Omega_h x_q`; SPEC 3.3's expansion holds for *any* scores, and
:math:`s^h_\ell-\bar s^h = (x_\ell-\bar x)^\top\Omega_h x_q` is linear, so
:math:`\hat y = (\sum_h\mu_h)\,\bar y + \frac1L\sum_\ell y_\ell(x_\ell-\bar x)^\top\Gamma x_q + O(\|\Omega\|^2)`
with :math:`\Gamma=\sum_h\mu_h\Omega_h`: centred preconditioned GD (:func:`identities`, ``first_order_*``).

**Risk (derived).** With :math:`t=\operatorname{tr}\Sigma`, :math:`\kappa = 1` (plain) or :math:`1-\frac1L` (centred) and

.. math:: B = a\,\Sigma + \frac{t+d\sigma^2}{L} I,\qquad a = 1+\tfrac1L\ \text{(plain)},\quad a = 1\ \text{(centred)},

.. math:: R(\Gamma) = \sigma^2 + \frac td - \frac{2\kappa}{d}\operatorname{tr}(\Sigma\Gamma\Sigma)
          + \frac{\kappa}{d}\operatorname{tr}(\Gamma\Sigma\Gamma^\top\Sigma B).

(:math:`\mathbb E[g\mid\beta]=\kappa\Sigma\beta` and :math:`\mathbb E\,gg^\top = \frac\kappa d\Sigma B` for
:math:`g=\frac1L\sum_\ell y_\ell(x_\ell-\bar x)` or :math:`\frac1L\sum_\ell y_\ell x_\ell`: the Wishart second moments
with :math:`L-1` resp. :math:`L` degrees of freedom.) Since :math:`\Sigma` and :math:`B` commute,

.. math:: R(\Gamma) = R^* + \frac\kappa d\operatorname{tr}\big((\Gamma-\Gamma^*)\Sigma(\Gamma-\Gamma^*)^\top\Sigma B\big),
   \quad \Gamma^* = B^{-1},\quad R^* = \sigma^2 + \frac1d\big(t - \kappa\operatorname{tr}(\Sigma^2B^{-1})\big),

a positive-definite quadratic form in :math:`\Gamma`, so :math:`\Gamma^*` is the unique global minimiser.
Plain: :math:`\Gamma^*=[(1+\frac1L)\Sigma+\frac{t+d\sigma^2}{L}I]^{-1}` (SPEC 3.6). Centred:
:math:`\Gamma^*_c=[\Sigma+\frac{t+d\sigma^2}{L}I]^{-1}` — no :math:`1/L` on :math:`\Sigma` (the centring removes the
diagonal :math:`\ell=\ell'` fourth-moment term that makes plain GD overshoot). Both tend to :math:`\Sigma^{-1}`
as :math:`L\to\infty`. At :math:`\Sigma=I`, :math:`\Gamma=\eta I` they are SPEC 3.4's GD / DGD risks.

How it is derived: :func:`risk_expr` expands :math:`\mathbb E(y_q-\hat y)^2` for a concrete small ``d`` (default 2)
with a *symbolic* covariance :math:`\Sigma`, a symbolic non-symmetric :math:`\Gamma`, symbolic :math:`L` and
:math:`\sigma^2`: index sums over tokens become sums over set partitions weighted by falling factorials (as in
:mod:`theory.wick`) and each Gaussian moment is Isserlis' sum over pairings of components. :func:`identities`
proves that it equals the matrix form above, that :math:`\Gamma^*` is stationary and the completed square holds,
and that :math:`\Sigma=I` gives :mod:`theory.risks`. The numeric functions evaluate the matrix form (any ``d``).
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import sympy as sp
from sympy.utilities.iterables import multiset_partitions

from .symbols import L, eta, sigma2
from .validate import MAX_L, MAX_SIGMA2, check_finite_result, check_float, check_int, check_matrix, check_spd

__all__ = ["preconditioned_gd_risk", "preconditioned_gd_optimum", "preconditioned_gd_optimal_risk",
           "preconditioned_gd_best_scale", "risk_expr", "risk_matrix_expr", "optimum_expr", "first_order_expr",
           "identities"]

#: Largest d of the symbolic derivation (the expansion grows like d^8 terms for the centred predictor).
MAX_SYMBOLIC_D = 3


# ---------------------------------------------------------------- symbolic objects (concrete small d)
def _check_small_d(d: int) -> int:
    return check_int("d", d, lo=1, hi=MAX_SYMBOLIC_D)


@lru_cache(maxsize=None)
def sigma_symbols(d: int) -> sp.Matrix:
    """A symbolic symmetric covariance :math:`\\Sigma` (entries ``S_ij``, ``S_ij = S_ji``)."""
    d = _check_small_d(d)
    S = [[None] * d for _ in range(d)]
    for i in range(d):
        for j in range(i, d):
            S[i][j] = S[j][i] = sp.Symbol(f"S_{i + 1}{j + 1}", real=True)
    return sp.Matrix(S)


@lru_cache(maxsize=None)
def gamma_symbols(d: int) -> sp.Matrix:
    """A symbolic general (non-symmetric) preconditioner :math:`\\Gamma` (entries ``G_ij``)."""
    d = _check_small_d(d)
    return sp.Matrix(d, d, lambda i, j: sp.Symbol(f"G_{i + 1}{j + 1}", real=True))


@lru_cache(maxsize=None)
def _components(label, d: int) -> tuple[sp.Symbol, ...]:
    return tuple(sp.Symbol(f"{label}__{i}") for i in range(d))


def _noise(label) -> sp.Symbol:
    return sp.Symbol(f"eps__{label}")


def _pairings_moment(idx: tuple[int, ...], cov) -> sp.Expr:
    """Isserlis: :math:`\\mathbb E\\prod_k g_{i_k}` for :math:`g\\sim\\mathcal N(0,\\mathrm{cov})`."""
    if not idx:
        return sp.Integer(1)
    if len(idx) % 2:
        return sp.Integer(0)
    first, rest = idx[0], idx[1:]
    return sp.expand(sum(cov[first, rest[j]] * _pairings_moment(rest[:j] + rest[j + 1:], cov)
                         for j in range(len(rest))))


def _expectation(expr: sp.Expr, vectors: dict, noises: list, sigma_cov: sp.Matrix, d: int) -> sp.Expr:
    """Exact expectation of a polynomial in independent Gaussian vectors (``vectors``: label -> covariance
    matrix) and independent :math:`\\mathcal N(0,\\sigma^2)` noises."""
    gens = [c for lab in vectors for c in _components(lab, d)] + [_noise(n) for n in noises]
    poly = sp.Poly(sp.expand(expr), *gens)
    memo: dict = {}
    out = sp.Integer(0)
    for exps, coeff in poly.terms():
        val = coeff
        pos = 0
        for lab, cov in vectors.items():
            idx = tuple(i for i in range(d) for _ in range(exps[pos + i]))
            pos += d
            key = (lab if cov is not sigma_cov else "x", idx)
            if key not in memo:
                memo[key] = _pairings_moment(idx, cov)
            val *= memo[key]
            if val == 0:
                break
        if val == 0:
            continue
        for k in exps[pos:]:
            if k % 2:
                val = 0
                break
            val *= sp.factorial2(k - 1) * sigma2 ** (k // 2)
        out += val
    return sp.expand(out)


@lru_cache(maxsize=None)
def risk_expr(d: int = 2, centred: bool = False) -> sp.Expr:
    r""":math:`\mathbb E(y_q-\hat y)^2` of plain (``centred=False``) or centred preconditioned GD, derived for a
    concrete ``d`` (1..3) with symbolic :math:`\Sigma` (:func:`sigma_symbols`), :math:`\Gamma`
    (:func:`gamma_symbols`), :math:`L` and :math:`\sigma^2`.

    The prediction is a sum over token index tuples; :math:`\mathbb E\sum_{a_1..a_k}f` is
    :math:`\sum_P (L)_{|P|}\,\mathbb E f_P` over the set partitions :math:`P` (which indices coincide), exact for
    symbolic :math:`L`; each :math:`\mathbb E f_P` is Isserlis' theorem on the components.
    """
    d = _check_small_d(d)
    S, G = sigma_symbols(d), gamma_symbols(d)
    beta_cov = sp.eye(d) / d
    beta, xq = sp.Matrix(_components("beta", d)), sp.Matrix(_components("xq", d))

    def x(a):
        return sp.Matrix(_components(f"x{a}", d))

    def y(a):
        return (beta.T * x(a))[0, 0] + _noise(a)

    def quad(a):  # x_a^T Gamma x_q
        return (x(a).T * G * xq)[0, 0]

    # prediction as (coefficient, number of token indices, summand); the centred one subtracts (1/L^2) sum_ab
    pred = [(1 / L, 1, lambda a: y(a) * quad(a))]
    if centred:
        pred.append((-1 / L**2, 2, lambda a, b: y(a) * quad(b)))
    yq = (beta.T * xq)[0, 0] + _noise("q")
    terms = [(sp.Integer(1), 0, lambda: yq**2)]
    terms += [(-2 * c, k, lambda *a, f=f: yq * f(*a)) for c, k, f in pred]
    terms += [(c1 * c2, k1 + k2, lambda *a, f1=f1, f2=f2, k1=k1: f1(*a[:k1]) * f2(*a[k1:]))
              for c1, k1, f1 in pred for c2, k2, f2 in pred]
    total = sp.Integer(0)
    for coeff, k, f in terms:
        parts = [[[]]] if k == 0 else list(multiset_partitions(list(range(k))))
        for part in parts:
            labels = [None] * k
            for blk, block in enumerate(part):
                for i in block:
                    labels[i] = blk
            vectors = {"beta": beta_cov, "xq": S, **{f"x{b}": S for b in range(len(part) if k else 0)}}
            noises = ["q"] + list(range(len(part) if k else 0))
            e = _expectation(f(*labels), vectors, noises, S, d)
            total += coeff * (sp.ff(L, len(part)) if k else 1) * e
    return sp.expand(total)


def _B(S: sp.Matrix, d: int, centred: bool):
    a = 1 if centred else 1 + 1 / L
    return a * S + (S.trace() + d * sigma2) / L * sp.eye(d)


def _kappa(centred: bool):
    return 1 - 1 / L if centred else sp.Integer(1)


def risk_matrix_expr(d: int = 2, centred: bool = False) -> sp.Expr:
    r"""The matrix form :math:`\sigma^2+\frac td-\frac{2\kappa}d\operatorname{tr}(\Sigma\Gamma\Sigma)+\frac\kappa d
    \operatorname{tr}(\Gamma\Sigma\Gamma^\top\Sigma B)` written out for a concrete ``d`` (module docstring)."""
    d = _check_small_d(d)
    S, G = sigma_symbols(d), gamma_symbols(d)
    k = _kappa(centred)
    return sp.expand(sigma2 + S.trace() / d - 2 * k / d * (S * G * S).trace()
                     + k / d * (G * S * G.T * S * _B(S, d, centred)).trace())


def optimum_expr(d: int = 2, centred: bool = False) -> sp.Matrix:
    r""":math:`\Gamma^* = B^{-1}` for a concrete ``d`` (symbolic :math:`\Sigma, L, \sigma^2`)."""
    d = _check_small_d(d)
    return _B(sigma_symbols(d), d, centred).inv()


@lru_cache(maxsize=None)
def first_order_expr(n_tokens: int = 3, d: int = 2, n_head: int = 2) -> tuple[sp.Expr, sp.Expr]:
    r"""Orders 0 and 1 in :math:`\epsilon` of :math:`\sum_h\mu_h\sum_\ell y_\ell\operatorname{softmax}_\ell
    (\epsilon\,x_\ell^\top\Omega_h x_q)` (general :math:`d\times d` blocks :math:`\Omega_h`), from the explicit
    softmax series of :func:`theory.expansion.softmax_series` with the scores substituted."""
    from .expansion import softmax_series
    from .symbols import omega as om_sym, token_symbols

    d = _check_small_d(d)
    s, _ = token_symbols(n_tokens)
    ser = softmax_series(n_tokens, 1)
    xs = [sp.Matrix(_components(f"x{a}", d)) for a in range(n_tokens)]
    xq = sp.Matrix(_components("xq", d))
    ys = sp.symbols(f"y_1:{n_tokens + 1}", real=True)
    eps = sp.Symbol("epsilon")
    out = sp.Integer(0)
    for h in range(n_head):
        Om = sp.Matrix(d, d, lambda i, j: sp.Symbol(f"Omega{h + 1}_{i + 1}{j + 1}", real=True))
        mu_h = sp.Symbol(f"mu_{h + 1}", real=True)
        sub = {s[a]: (xs[a].T * Om * xq)[0, 0] for a in range(n_tokens)}
        sub[om_sym] = eps
        out += mu_h * sum(ys[a] * ser[a].subs(sub) for a in range(n_tokens))
    out = sp.expand(out)
    return out.coeff(eps, 0), out.coeff(eps, 1)


def _first_order_predictions(n_tokens: int, d: int, n_head: int) -> tuple[sp.Expr, sp.Expr]:
    """``((sum mu) ybar, (1/L) sum_l y_l (x_l - xbar)^T Gamma x_q)`` with Gamma = sum_h mu_h Omega_h."""
    xs = [sp.Matrix(_components(f"x{a}", d)) for a in range(n_tokens)]
    xq = sp.Matrix(_components("xq", d))
    ys = sp.symbols(f"y_1:{n_tokens + 1}", real=True)
    mus = [sp.Symbol(f"mu_{h + 1}", real=True) for h in range(n_head)]
    Gam = sp.zeros(d, d)
    for h in range(n_head):
        Gam += mus[h] * sp.Matrix(d, d, lambda i, j: sp.Symbol(f"Omega{h + 1}_{i + 1}{j + 1}", real=True))
    xbar = sum(xs, sp.zeros(d, 1)) / n_tokens
    dgd = sum((ys[a] * (xs[a] - xbar).T * Gam * xq)[0, 0] for a in range(n_tokens)) / n_tokens
    return sum(mus) * sum(ys) / n_tokens, sp.expand(dgd)


# ---------------------------------------------------------------- the statements
def _is_zero_rational(e: sp.Expr) -> sp.Expr:
    """A rational expression reduced to its numerator (0 iff the expression is identically 0)."""
    return sp.expand(sp.numer(sp.together(e)))


@lru_cache(maxsize=None)
def identities(d: int = 2) -> dict[str, sp.Expr]:
    r"""SPEC 3.6's statements as expressions that are identically 0, for a concrete ``d`` (default 2; symbolic
    :math:`\Sigma, \Gamma, L, \sigma^2`):

    * ``risk_is_matrix_form_{plain,centred}``: the Isserlis derivation equals the matrix form;
    * ``gradient_{plain,centred}_ij``: :math:`\partial R/\partial\Gamma = \frac{2\kappa}d(\Sigma B\Gamma\Sigma-\Sigma^2)`,
      and ``optimum_stationary_{plain,centred}``: it vanishes at :math:`\Gamma^*=B^{-1}`;
    * ``completed_square_{plain,centred}``: :math:`R(\Gamma)=R(P)+\langle\nabla R(P),\Gamma-P\rangle
      +\frac\kappa d\operatorname{tr}((\Gamma-P)\Sigma(\Gamma-P)^\top\Sigma B)` for any :math:`P` (so the
      stationary :math:`\Gamma^*` is the global minimiser: :math:`\Sigma B` is positive definite);
    * ``plain_optimum_is_spec``: SPEC 3.6's :math:`\Gamma^*`;
    * ``isotropic_{gd,dgd}``: at :math:`\Sigma=I`, :math:`\Gamma=\eta I` the risks are :mod:`theory.risks`' (with
      :math:`d` set to the concrete value);
    * ``first_order_order0`` / ``first_order_is_preconditioned_dgd``: the softmax expansion with general
      :math:`\Omega_h` (3 tokens, 2 heads) is :math:`(\sum\mu_h)\bar y` + centred preconditioned GD with
      :math:`\Gamma=\sum_h\mu_h\Omega_h`.
    """
    from . import risks
    from .symbols import d as d_sym

    d = _check_small_d(d)
    S, G = sigma_symbols(d), gamma_symbols(d)
    out: dict[str, sp.Expr] = {}
    for centred, tag in ((False, "plain"), (True, "centred")):
        derived = risk_expr(d, centred)
        out[f"risk_is_matrix_form_{tag}"] = sp.expand(derived - risk_matrix_expr(d, centred))
        k = _kappa(centred)
        B = _B(S, d, centred)
        # the gradient of the derived risk is (2 kappa / d)(Sigma B Gamma Sigma - Sigma^2) (a polynomial identity)
        grad = 2 * k / d * (S * B * G * S - S * S)
        for i in range(d):
            for j in range(d):
                out[f"gradient_{tag}_{i + 1}{j + 1}"] = _is_zero_rational(sp.diff(derived, G[i, j]) - grad[i, j])
        # ... which vanishes at Gamma* = B^{-1} (Sigma B B^{-1} Sigma = Sigma^2)
        out[f"optimum_stationary_{tag}"] = sp.Matrix(grad.subs(dict(zip(list(G), list(optimum_expr(d, centred))))))\
            .applyfunc(_is_zero_rational)
        # completed square about any P: R(G) = R(P) + <grad R(P), G - P> + (kappa/d) tr((G-P) S (G-P)^T S B);
        # with grad R(Gamma*) = 0 this makes Gamma* the global minimiser (S B is positive definite)
        P = sp.Matrix(d, d, lambda i, j: sp.Symbol(f"P_{i + 1}{j + 1}", real=True))
        at_p = dict(zip(list(G), list(P)))
        delta = G - P
        lin = sum(grad.subs(at_p)[i, j] * delta[i, j] for i in range(d) for j in range(d))
        square = k / d * (delta * S * delta.T * S * B).trace()
        out[f"completed_square_{tag}"] = _is_zero_rational(derived - derived.subs(at_p) - lin - square)
        iso = {**{S[i, j]: int(i == j) for i in range(d) for j in range(d)},
               **{G[i, j]: eta * int(i == j) for i in range(d) for j in range(d)}}
        ref = (risks.dgd_risk_expr() if centred else risks.gd_risk_expr()).subs(d_sym, d)
        out[f"isotropic_{'dgd' if centred else 'gd'}"] = sp.expand(derived.subs(iso) - sp.expand(ref))
    t = S.trace()
    spec = ((1 + 1 / L) * S + (t + d * sigma2) / L * sp.eye(d)).inv()
    out["plain_optimum_is_spec"] = sp.Matrix(optimum_expr(d, False) - spec).applyfunc(_is_zero_rational)
    order0, order1 = first_order_expr(3, d, 2)
    want0, want1 = _first_order_predictions(3, d, 2)
    out["first_order_order0"] = sp.expand(order0 - want0)
    out["first_order_is_preconditioned_dgd"] = sp.expand(order1 - want1)
    return out


# ---------------------------------------------------------------- numeric (any d; the matrix form)
def _inputs(sigma, L_, sigma2_) -> tuple[np.ndarray, int, float]:
    S = check_spd("sigma", sigma)
    return S, check_int("L", L_, lo=2, hi=MAX_L), check_float("sigma2", sigma2_, lo=0.0, hi=MAX_SIGMA2)


def _b_matrix(S: np.ndarray, L_: int, s2: float, centred: bool) -> np.ndarray:
    d = S.shape[0]
    a = 1.0 if centred else 1.0 + 1.0 / L_
    return a * S + (np.trace(S) + d * s2) / L_ * np.eye(d)


def preconditioned_gd_optimum(sigma, *, L: int, sigma2: float, centred: bool = False) -> np.ndarray:
    r"""Risk-optimal preconditioner :math:`\Gamma^*` of one-step GD on data 1.2 (SPEC 3.6), a ``(d, d)`` array.

    Plain (``centred=False``): :math:`\Gamma^*=[(1+\frac1L)\Sigma+\frac{\operatorname{tr}\Sigma+d\sigma^2}{L}I]^{-1}`;
    centred (debiased GD, :math:`x_\ell-\bar x`): :math:`\Gamma^*_c=[\Sigma+\frac{\operatorname{tr}\Sigma+d\sigma^2}{L}I]^{-1}`.
    Exact for every SPD ``sigma``, ``L >= 2``, ``sigma2 >= 0`` (``ValueError`` otherwise; ``sigma`` must be a
    finite symmetric positive-definite square matrix). Symmetric, and commutes with :math:`\Sigma`.
    """
    S, L_, s2 = _inputs(sigma, L, sigma2)
    B = _b_matrix(S, L_, s2, bool(centred))
    out = np.linalg.inv(B)
    return check_finite_result("sigma: Gamma*", (out + out.T) / 2, "sigma is too ill-conditioned")


def preconditioned_gd_risk(gamma, sigma, *, L: int, sigma2: float, centred: bool = False) -> float:
    r"""Exact risk :math:`\mathbb E(y_q-\hat y)^2` (query noise included) of preconditioned one-step GD on data 1.2,
    :math:`\hat y=\frac1L\sum_\ell y_\ell x_\ell^\top\Gamma x_q` (plain) or with :math:`x_\ell-\bar x` (``centred``):

    .. math:: R(\Gamma) = \sigma^2 + \frac td - \frac{2\kappa}{d}\operatorname{tr}(\Sigma\Gamma\Sigma)
              + \frac{\kappa}{d}\operatorname{tr}(\Gamma\Sigma\Gamma^\top\Sigma B)

    (:math:`t=\operatorname{tr}\Sigma`; :math:`\kappa,B` in the module docstring). ``gamma``: any finite real
    ``(d, d)`` matrix (not necessarily symmetric); at :math:`\Sigma=I`, :math:`\Gamma=\eta I` it is
    :func:`theory.risks.gd_risk` / :func:`theory.risks.dgd_risk`. Exact for every ``L >= 2``, ``sigma2 >= 0``.
    """
    S, L_, s2 = _inputs(sigma, L, sigma2)
    d = S.shape[0]
    G = check_matrix("gamma", gamma, shape=(d, d))
    B = _b_matrix(S, L_, s2, bool(centred))
    k = 1.0 - 1.0 / L_ if centred else 1.0
    with np.errstate(over="ignore", invalid="ignore"):
        r = s2 + (np.trace(S) - 2 * k * np.trace(S @ G @ S) + k * np.trace(G @ S @ G.T @ S @ B)) / d
    return float(check_finite_result("gamma: the risk", r, "bound the entries of gamma"))


def preconditioned_gd_optimal_risk(sigma, *, L: int, sigma2: float, centred: bool = False) -> float:
    r""":math:`R(\Gamma^*) = \sigma^2+\frac1d\big(\operatorname{tr}\Sigma-\kappa\operatorname{tr}(\Sigma^2B^{-1})\big)`
    (the cancellation-free form; equal to :func:`preconditioned_gd_risk` at :func:`preconditioned_gd_optimum`)."""
    S, L_, s2 = _inputs(sigma, L, sigma2)
    d = S.shape[0]
    B = _b_matrix(S, L_, s2, bool(centred))
    k = 1.0 - 1.0 / L_ if centred else 1.0
    return float(s2 + (np.trace(S) - k * np.trace(S @ S @ np.linalg.inv(B))) / d)


def preconditioned_gd_best_scale(direction, sigma, *, L: int, sigma2: float, centred: bool = False) -> float:
    r"""The scalar :math:`c^*` minimising :math:`R(c\,G)` for a fixed ``direction`` :math:`G\ne0`:
    :math:`c^* = \operatorname{tr}(\Sigma G\Sigma)/\operatorname{tr}(G\Sigma G^\top\Sigma B)` (``G = I`` gives the
    optimally tuned, unpreconditioned step)."""
    S, L_, s2 = _inputs(sigma, L, sigma2)
    d = S.shape[0]
    G = check_matrix("direction", direction, shape=(d, d))
    den = float(np.trace(G @ S @ G.T @ S @ _b_matrix(S, L_, s2, bool(centred))))
    if not den > 0:
        raise ValueError("direction must be a nonzero matrix")
    return float(np.trace(S @ G @ S)) / den
