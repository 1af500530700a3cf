r"""Softmax attention → debiased GD: the small-:math:`\omega` expansion of the reduced model (SPEC 3.3).

One head of the reduced model (SPEC 2.2) outputs :math:`\mu\,g(\omega)` with
:math:`g(\omega) = \sum_\ell y_\ell\,\frac{e^{\omega s_\ell}}{\sum_j e^{\omega s_j}}` and scores :math:`s_\ell = x_\ell^\top x_q`.

**General L (the moment form).** Divide numerator and denominator by :math:`L`:
:math:`g(\omega) = N(\omega)/M(\omega)` with :math:`N = \sum_k \nu_k\omega^k/k!`, :math:`M = \sum_k \mu_k\omega^k/k!`,
the *empirical* moments :math:`\nu_k = \frac1L\sum_\ell y_\ell s_\ell^k` (so :math:`\nu_0=\bar y`) and
:math:`\mu_k = \frac1L\sum_\ell s_\ell^k` (:math:`\mu_0=1`). This is exact for every :math:`L`, and the Taylor
coefficients :math:`c_k` of :math:`g` are polynomials in finitely many moments (:func:`head_output_coefficients`):
:math:`c_0 = \bar y`, :math:`c_1 = \nu_1-\nu_0\mu_1 = \frac1L\sum_\ell y_\ell(s_\ell-\bar s)`,
:math:`c_2 = \frac1{2L}\sum_\ell y_\ell\big[(s_\ell-\bar s)^2-\overline{(s-\bar s)^2}\big]`; in general :math:`k!\,c_k` is the
joint cumulant :math:`\kappa(y,s,\dots,s)` of the uniform measure on the tokens (:math:`g` is the derivative of
the cumulant generating function in the :math:`y` direction). Since
:math:`s_\ell-\bar s = (x_\ell-\bar x)^\top x_q`, the first-order term is debiased GD with unit step.

**Heads.** :math:`\hat y = \sum_h\mu_h g(\omega_h)` has zeroth order :math:`(\sum_h\mu_h)\bar y` and first order
:math:`(\sum_h\mu_h\omega_h)\,c_1`: debiased GD with :math:`\eta=\sum_h\mu_h\omega_h`. A symmetric pair
:math:`(\omega,-\omega)`, :math:`(\mu,-\mu)` outputs :math:`f(\omega) = \mu\,(g(\omega)-g(-\omega))`, an odd function of
:math:`\omega`, so every even order vanishes *exactly* and :math:`f = \eta c_1 + \eta\,\omega^2 c_3 + O(\omega^4)` at
fixed :math:`\eta = 2\mu\omega`: the pointwise gap to debiased GD is :math:`O(\omega^2)`.

Everything is derived twice: from the moment form (general :math:`L`) and by ``sympy.series`` of the
explicit softmax for a concrete small :math:`L`; :func:`identities` returns the expressions that must be 0.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import sympy as sp

from .validate import check_finite_result, check_int
from .symbols import L, d, head_symbols, moment_symbols, mu, omega, sum_j, sum_l, token_symbols

__all__ = [
    "omega", "mu", "token_symbols", "moment_symbols", "empirical_moments",
    "softmax_series", "head_output_series", "head_output_coefficients", "multihead_series",
    "pair_output_expr", "pair_output_series", "pair_output_series_general", "identities",
    "head_output_coefficient_fn", "head_output_coefficient", "MAX_COEFFICIENT_ORDER",
    "pair_gap_order", "first_order_coefficient",
]

#: Largest k of the numeric coefficient c_k: its symbolic series is built once per k (~2 s at k = 10, growing fast).
MAX_COEFFICIENT_ORDER = 10


def _check(name: str, value, lo: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < lo:
        raise ValueError(f"{name} must be an integer >= {lo}, got {value!r}")
    return value


def empirical_moments(n_tokens: int, order: int) -> dict:
    """Substitution map from the moment symbols to their values on a concrete prompt of ``n_tokens`` tokens."""
    s, y = token_symbols(n_tokens)
    nu, mom = moment_symbols(order)
    out = {nu[k]: sum(y[l] * s[l]**k for l in range(n_tokens)) / n_tokens for k in range(order + 1)}
    out.update({mom[k]: sum(s[l]**k for l in range(n_tokens)) / n_tokens for k in range(1, order + 1)})
    return out


def _series_coeffs(expr: sp.Expr, var: sp.Symbol, order: int) -> tuple[sp.Expr, ...]:
    ser = sp.series(expr, var, 0, order + 1).removeO()
    return tuple(sp.expand(ser.coeff(var, k)) for k in range(order + 1))


# ---------------------------------------------------------------- concrete L: direct series
def _head(n_tokens: int, om: sp.Expr) -> sp.Expr:
    s, y = token_symbols(n_tokens)
    return sum(yl * sp.exp(om * sl) for yl, sl in zip(y, s)) / sum(sp.exp(om * sl) for sl in s)


@lru_cache(maxsize=None)
def _head_coeffs(n_tokens: int, order: int, sign: int) -> tuple[sp.Expr, ...]:
    """Series coefficients of g(sign * omega) for the explicit softmax.

    ``sympy.series`` is run on g(omega) only; g(-omega) takes the coefficients times (-1)^k (a series composed
    with omega -> -omega), because ``sympy.series`` of the reflected expression is ~8x slower for no gain.
    """
    _check("order", order, 0)
    base = _series_coeffs(_head(n_tokens, omega), omega, order)
    return tuple(sign**k * ck for k, ck in enumerate(base))


@lru_cache(maxsize=None)
def softmax_series(n_tokens: int, order: int) -> tuple[sp.Expr, ...]:
    r"""Taylor polynomials (degree ``order`` in ``omega``) of :math:`\operatorname{softmax}_\ell(\omega s)`,
    one per token, by ``sympy.series`` of the explicit softmax (concrete ``n_tokens``)."""
    _check("order", order, 0)
    s, _ = token_symbols(n_tokens)
    den = sum(sp.exp(omega * sl) for sl in s)
    return tuple(sum(c * omega**k for k, c in enumerate(_series_coeffs(sp.exp(omega * sl) / den, omega, order)))
                 for sl in s)


@lru_cache(maxsize=None)
def head_output_series(n_tokens: int, order: int) -> sp.Expr:
    r"""Taylor polynomial of :math:`g(\omega)=\sum_\ell y_\ell\operatorname{softmax}_\ell(\omega s)` (one head, unit :math:`\mu`)."""
    return sum(c * omega**k for k, c in enumerate(_head_coeffs(n_tokens, order, 1)))


@lru_cache(maxsize=None)
def pair_output_expr(n_tokens: int) -> sp.Expr:
    r"""Exact output of the symmetric pair, heads :math:`(\omega,\mu)` and :math:`(-\omega,-\mu)`, concrete ``n_tokens``."""
    return mu * _head(n_tokens, omega) + (-mu) * _head(n_tokens, -omega)


@lru_cache(maxsize=None)
def pair_output_series(n_tokens: int, order: int) -> sp.Expr:
    """Taylor polynomial in ``omega`` of :func:`pair_output_expr`, from ``sympy.series`` of one head's explicit
    softmax (series is linear; expanding the two heads separately is ~10x faster than the sum)."""
    _check("order", order, 0)
    plus, minus = _head_coeffs(n_tokens, order, 1), _head_coeffs(n_tokens, order, -1)
    return sum(mu * (a - b) * omega**k for k, (a, b) in enumerate(zip(plus, minus)))


# ---------------------------------------------------------------- general L: moment form
@lru_cache(maxsize=None)
def head_output_coefficients(order: int) -> tuple[sp.Expr, ...]:
    r"""Taylor coefficients :math:`c_0..c_{\rm order}` of :math:`g(\omega)=N(\omega)/M(\omega)` for *any* :math:`L`,
    as polynomials in the empirical moments of :func:`moment_symbols`."""
    nu, mom = moment_symbols(order)
    N = sum(nu[k] * omega**k / sp.factorial(k) for k in range(order + 1))
    M = sum(mom[k] * omega**k / sp.factorial(k) for k in range(order + 1))
    return _series_coeffs(N / M, omega, order)


@lru_cache(maxsize=None)
def pair_output_series_general(order: int) -> sp.Expr:
    r"""Pair output :math:`\mu(g(\omega)-g(-\omega))` to ``order`` for any :math:`L` (moment form)."""
    c = head_output_coefficients(order)
    g = sum(ck * omega**k for k, ck in enumerate(c))
    return sp.expand(mu * (g - g.subs(omega, -omega)))


@lru_cache(maxsize=None)
def multihead_series(n_head: int, order: int) -> tuple[sp.Expr, ...]:
    r"""Coefficients of :math:`\epsilon^k` in :math:`\sum_h\mu_h g(\epsilon\omega_h)` (``eps`` a bookkeeping
    parameter, so order :math:`k` collects every product of :math:`k` omegas), for any :math:`L`."""
    _check("n_head", n_head, 1)
    om, mus = head_symbols(n_head)
    c = head_output_coefficients(order)
    return tuple(sp.expand(sum(mus[h] * c[k] * om[h]**k for h in range(n_head))) for k in range(order + 1))


@lru_cache(maxsize=None)
def pair_gap_order(order: int = 5) -> int:
    r"""Power of :math:`w` of the leading pointwise gap between a symmetric pair (:math:`\pm w`, :math:`\pm\mu`) at fixed
    :math:`\eta=2\mu w` and debiased GD, read off the general-L pair series (:func:`pair_output_series_general`):
    the output is :math:`\sum_k 2\mu c_kw^k = \eta\sum_k c_kw^{k-1}` over the orders :math:`k` whose coefficient is not
    identically 0; :math:`k=1` is debiased GD, so the gap starts at the next such :math:`k`, power :math:`k-1`
    (2: the even orders vanish exactly). ``3 <= order <= MAX_COEFFICIENT_ORDER``; raises if no gap term is found
    up to ``order``."""
    order = check_int("order", order, lo=3, hi=MAX_COEFFICIENT_ORDER)
    ser = pair_output_series_general(order)
    for k in range(2, order + 1):
        if sp.expand(ser.coeff(omega, k)) != 0:
            return k - 1
    raise ArithmeticError(f"the pair series has no term beyond order 1 up to order {order}")


def first_order_coefficient(nu0, nu1, mubar1):
    r"""The theory's first-order coefficient :math:`c_1` of one head's output (SPEC 3.3) from a prompt's raw (uncentred)
    empirical moments :math:`\nu_0=\bar y`, :math:`\nu_1=\overline{ys}`, :math:`\bar\mu_1=\bar s` (arrays broadcast):
    :func:`head_output_coefficient_fn` of order 1, i.e. :math:`\nu_1-\nu_0\bar\mu_1 = \frac1L\sum_\ell y_\ell(s_\ell-\bar s)`,
    the debiased-GD direction. Finite real arrays of one broadcastable shape."""
    arrs = [np.asarray(a, dtype=np.float64) for a in (nu0, nu1, mubar1)]
    for name, a in zip(("nu0", "nu1", "mubar1"), arrs):
        if not np.all(np.isfinite(a)):
            raise ValueError(f"{name} must contain only finite numbers")
    return np.asarray(head_output_coefficient_fn(1)(*arrs), dtype=np.float64)


# ---------------------------------------------------------------- numeric coefficients (for data)
@lru_cache(maxsize=None)
def head_output_coefficient_fn(k: int):
    r""":math:`c_k` of :func:`head_output_coefficients` as a numpy function of the empirical moments, lambdified once:
    ``f(nu_0, ..., nu_k, mubar_1, ..., mubar_k)`` (arrays broadcast; :math:`\nu_j=\overline{ys^j}`, :math:`\bar\mu_j=\overline{s^j}`).
    ``0 <= k <= MAX_COEFFICIENT_ORDER``."""
    k = check_int("k", k, lo=0, hi=MAX_COEFFICIENT_ORDER)
    nu, mom = moment_symbols(k)
    return sp.lambdify(list(nu) + list(mom[1:]), head_output_coefficients(k)[k], "numpy")


def head_output_coefficient(k: int, s: np.ndarray, y: np.ndarray) -> np.ndarray:
    r"""Per-prompt Taylor coefficient :math:`c_k` of one head's output :math:`g(\omega)=\sum_\ell y_\ell\,\mathrm{softmax}_\ell(\omega s)`
    (SPEC 3.3), from scores ``s`` (n, L) and labels ``y`` (n, L); returns (n,).

    Exact for every :math:`L` (the moment form). The scores are centred first: softmax is shift-invariant, so
    :math:`c_k` (:math:`k\ge1`) depends on :math:`s-\bar s` only, and centring avoids cancellation between raw moments
    (:math:`c_0=\bar y` is unaffected). A symmetric pair at fixed :math:`\eta=2\mu\omega` outputs
    :math:`\eta(c_1+\omega^2c_3+\omega^4c_5+\dots)`, so :math:`\eta c_3` is the leading coefficient of its gap to
    debiased GD (H5).

    Domain: ``0 <= k <= MAX_COEFFICIENT_ORDER`` (10), ``s`` and ``y`` finite real arrays of one shape ``(n, L)``,
    ``n >= 1``, ``L >= 1``, with every moment inside float64 (about :math:`|s-\bar s|^{2k}|y| < 10^{300}`; else
    ``ValueError``)."""
    k = check_int("k", k, lo=0, hi=MAX_COEFFICIENT_ORDER)
    s, y = _real_2d("s", s), _real_2d("y", y)
    if s.shape != y.shape:
        raise ValueError(f"s and y must be (n, L) arrays of one shape, got {s.shape} and {y.shape}")
    with np.errstate(over="ignore", invalid="ignore"):
        sc = s - s.mean(axis=1, keepdims=True)                       # (n, L)
        nu = [np.mean(y * sc**j, axis=1) for j in range(k + 1)]      # (n,) each
        mom = [np.mean(sc**j, axis=1) for j in range(1, k + 1)]
        out = np.broadcast_to(np.asarray(head_output_coefficient_fn(k)(*nu, *mom), dtype=float), (s.shape[0],))
    return check_finite_result(f"s, y: the coefficient c_{k}", np.array(out),
                               "bound |s - mean(s)| and |y| (the moments up to order 2k overflow)")


def _real_2d(name: str, value) -> np.ndarray:
    raw = None if isinstance(value, (str, bytes)) else np.asarray(value) if _array_like(value) else None
    if raw is None or raw.dtype.kind not in "iuf" or raw.ndim != 2 or 0 in raw.shape:
        shape = getattr(raw, "shape", None)
        raise ValueError(f"{name} must be a non-empty (n, L) array of real numbers, got "
                         f"{'shape ' + str(shape) if shape is not None else type(value).__name__}"
                         f"{' of ' + str(raw.dtype) if raw is not None else ''}")
    arr = raw.astype(np.float64)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must contain only finite numbers")
    return arr


def _array_like(value) -> bool:
    try:
        np.asarray(value)
        return True
    except (TypeError, ValueError, OverflowError):
        return False


# ---------------------------------------------------------------- the statements
def _indexed_first_order() -> sp.Expr:
    """General-L (``L`` symbolic, ``IndexedBase`` sums): c_1 written with moments minus the centred sum."""
    l, j = sum_l, sum_j
    y, s = sp.IndexedBase("y"), sp.IndexedBase("s")
    sbar = sp.Sum(s[j], (j, 1, L)) / L
    nu0, nu1 = sp.Sum(y[l], (l, 1, L)) / L, sp.Sum(y[l] * s[l], (l, 1, L)) / L
    nu, mom = moment_symbols(1)
    c1 = head_output_coefficients(1)[1].subs({nu[0]: nu0, nu[1]: nu1, mom[1]: sbar})
    return c1 - sp.Sum(y[l] * (s[l] - sbar), (l, 1, L)) / L


def _score_centring(n_tokens: int) -> sp.Expr:
    r""":math:`(s_1-\bar s) - (x_1-\bar x)^\top x_q` with symbolic dimension ``d`` (matrix symbols)."""
    x = [sp.MatrixSymbol(f"x_{k}", d, 1) for k in range(1, n_tokens + 1)]
    xq = sp.MatrixSymbol("x_q", d, 1)
    s = [xl.T * xq for xl in x]
    return (s[0] - sp.MatAdd(*s) / n_tokens) - (x[0] - sp.MatAdd(*x) / n_tokens).T * xq


@lru_cache(maxsize=None)
def identities(n_tokens: int = 3, order: int = 6, n_head: int = 3) -> dict[str, sp.Expr]:
    r"""The statements of SPEC 3.3 as sympy expressions that are identically 0 (check with ``simplify(e) == 0``).

    * ``c0_is_ybar``, ``c1_is_centred_gd`` (general :math:`L`, symbolic sums), ``score_centring``
      (:math:`s_\ell-\bar s=(x_\ell-\bar x)^\top x_q`, symbolic :math:`d`);
    * ``c2_closed_form`` and ``moment_form_matches_series_k`` (the general-L coefficients agree with
      ``sympy.series`` of the explicit softmax for ``n_tokens`` tokens, every order up to ``order``);
    * ``multihead_order0``/``multihead_order1``: :math:`(\sum\mu_h)\bar y` and :math:`(\sum\mu_h\omega_h)c_1` for ``n_head`` heads;
    * ``pair_odd``: :math:`f(\omega)+f(-\omega)` for the exact pair output; ``pair_even_order_k`` (concrete
      ``n_tokens``, direct series) and ``pair_even_order_k_general`` (moment form) for even ``k <= order``;
      ``pair_order1_is_dgd``: the first order of the pair is :math:`2\mu\omega\,c_1`.
    """
    nu, mom = moment_symbols(order)
    c = head_output_coefficients(order)
    sub = empirical_moments(n_tokens, order)
    s, y = token_symbols(n_tokens)
    sbar = sum(s) / n_tokens
    out: dict[str, sp.Expr] = {
        "c0_is_ybar": c[0] - nu[0],
        "c1_is_centred_gd": _indexed_first_order().expand(),
        "score_centring": sp.expand(_score_centring(n_tokens))[0, 0],   # a 1x1 matrix expression
    }
    var = sum((sl - sbar)**2 for sl in s) / n_tokens
    c2_closed = sum(yl * ((sl - sbar)**2 - var) for yl, sl in zip(y, s)) / (2 * n_tokens)
    out["c2_closed_form"] = sp.expand(c[2].subs(sub) - c2_closed)
    direct = sp.Poly(head_output_series(n_tokens, order), omega)
    for k in range(order + 1):
        out[f"moment_form_matches_series_{k}"] = sp.expand(c[k].subs(sub) - direct.coeff_monomial(omega**k))
    multi = multihead_series(n_head, order)
    om, mus = head_symbols(n_head)
    out["multihead_order0"] = multi[0] - sum(mus) * nu[0]
    out["multihead_order1"] = sp.expand(multi[1] - sum(m * o for m, o in zip(mus, om)) * (nu[1] - nu[0] * mom[1]))
    f = pair_output_expr(n_tokens)
    out["pair_odd"] = f + f.subs(omega, -omega)
    pair = sp.Poly(pair_output_series(n_tokens, order), omega)
    pair_gen = sp.Poly(pair_output_series_general(order), omega)
    for k in range(0, order + 1, 2):
        out[f"pair_even_order_{k}"] = pair.coeff_monomial(omega**k)
        out[f"pair_even_order_{k}_general"] = pair_gen.coeff_monomial(omega**k)
    out["pair_order1_is_dgd"] = sp.expand(pair_gen.coeff_monomial(omega) - 2 * mu * c[1])
    return out
