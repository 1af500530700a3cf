"""Softmax -> debiased GD expansion (SPEC 3.3): mutants the identities must reject (the identities themselves are
checked in tests/theory/test_identities.py), numeric checks of the general-L moment form for many L, the numeric
coefficients H5 uses, and the O(w^2) pointwise gap of a symmetric pair."""
from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, note
from hypothesis import strategies as st

from numerics import dgd_predict, make_generator, reduced_attention_predict, sample_linear
from tests.strategies import seeds
from theory import expansion as ex
from theory.symbols import head_symbols


# ---------------------------------------------------------------- the identities have power (mutants are rejected)
def test_plain_gd_is_not_the_first_coefficient():
    """c_1 is the *centred* sum: the plain-GD mutant nu_1 (no debiasing) is not an identity."""
    nu, mom = ex.moment_symbols(1)
    assert sp.expand(ex.head_output_coefficients(1)[1] - nu[1]) != 0


def test_unbalanced_pair_keeps_even_orders():
    """Only an exact pair cancels the even orders: heads (omega, mu) and (-omega, -mu') with mu' != mu leave
    order 0 = (mu - mu') ybar and a nonzero order-2 term."""
    mu2 = sp.Symbol("mu_prime", real=True)
    c = ex.head_output_coefficients(2)
    g = sum(ck * ex.omega**k for k, ck in enumerate(c))
    f = sp.Poly(sp.expand(ex.mu * g - mu2 * g.subs(ex.omega, -ex.omega)), ex.omega)
    assert sp.simplify(f.coeff_monomial(1)) != 0 and sp.simplify(f.coeff_monomial(ex.omega**2)) != 0
    assert sp.simplify(f.coeff_monomial(ex.omega**2).subs(mu2, ex.mu)) == 0


def test_effective_step_is_not_the_sum_of_mu():
    """The first order is eta = sum_h mu_h omega_h, not (sum_h mu_h) times the centred sum."""
    _, mus = head_symbols(2)
    nu, mom = ex.moment_symbols(1)
    multi = ex.multihead_series(2, 1)
    assert sp.expand(multi[1] - sum(mus) * (nu[1] - nu[0] * mom[1])) != 0


def test_series_order_mismatch_is_detected():
    """The moment form's c_k against the explicit series' coefficient of omega^(k+1) (an off-by-one) is not 0."""
    n = 3
    sub = ex.empirical_moments(n, 4)
    c = ex.head_output_coefficients(4)
    direct = sp.Poly(ex.head_output_series(n, 4), ex.omega)
    assert sp.expand(c[2].subs(sub) - direct.coeff_monomial(ex.omega**3)) != 0


def test_first_coefficients_in_moment_form():
    nu, mom = ex.moment_symbols(2)
    c = ex.head_output_coefficients(2)
    assert c[0] == nu[0]
    assert sp.expand(c[1] - (nu[1] - nu[0] * mom[1])) == 0


def test_coefficients_are_joint_cumulants():
    """k! c_k = kappa(y, s, ..., s) under the uniform measure on tokens (module docstring), k = 2, 3."""
    n = 4
    s, y = ex.token_symbols(n)
    sub = ex.empirical_moments(n, 3)
    c = ex.head_output_coefficients(3)
    mean = lambda v: sum(v) / n  # noqa: E731
    S = [sl - mean(s) for sl in s]
    Y = [yl - mean(y) for yl in y]
    k3 = mean([a * b**2 for a, b in zip(Y, S)])
    k4 = mean([a * b**3 for a, b in zip(Y, S)]) - 3 * mean([a * b for a, b in zip(Y, S)]) * mean([b**2 for b in S])
    assert sp.expand(2 * c[2].subs(sub) - k3) == 0
    assert sp.expand(6 * c[3].subs(sub) - k4) == 0


def test_softmax_series_sums_to_one_and_first_order():
    s, _ = ex.token_symbols(4)
    ser = ex.softmax_series(4, 3)
    assert sp.expand(sum(ser) - 1) == 0                       # every order of sum_l softmax_l beyond 0 vanishes
    sbar = sum(s) / 4
    for sl, p in zip(s, ser):
        assert sp.expand(p.coeff(ex.omega, 0) - sp.Rational(1, 4)) == 0
        assert sp.expand(p.coeff(ex.omega, 1) - (sl - sbar) / 4) == 0


@given(n_tokens=st.integers(2, 40), seed=st.integers(0, 2**32 - 1))
def test_moment_form_matches_exact_softmax_for_any_L(n_tokens, seed):
    """Numeric check of the general-L series beyond the symbolic L=3, in 60-digit arithmetic: at omega = 1e-3
    the exact head output minus the order-8 moment-form polynomial is at most (2|c_9| + 1) omega^9 (c_9 from the
    same form; the +1 covers c_10 omega^10 for scores ~ N(0,1)). A wrong c_k, k <= 8, by delta would leave
    delta * omega^k >= delta * 1e-24. Domain: s, y ~ N(0,1) per token, L in [2, 40]."""
    mpmath = pytest.importorskip("mpmath")
    rng = np.random.default_rng(seed)
    s, y = rng.standard_normal(n_tokens), rng.standard_normal(n_tokens)
    order = 9
    with mpmath.workdps(60):
        sm, ym = [mpmath.mpf(float(v)) for v in s], [mpmath.mpf(float(v)) for v in y]
        mean = sum(sm) / n_tokens
        sc = [v - mean for v in sm]                       # softmax is shift-invariant
        nu, mom = ex.moment_symbols(order)
        vals = {nu[k]: sp.Float(sum(a * b**k for a, b in zip(ym, sc)) / n_tokens, 60) for k in range(order + 1)}
        vals.update({mom[k]: sp.Float(sum(b**k for b in sc) / n_tokens, 60) for k in range(1, order + 1)})
        c = [mpmath.mpf(str(ck.evalf(60, subs=vals))) for ck in ex.head_output_coefficients(order)]
        om = mpmath.mpf("1e-3")
        w = [mpmath.exp(om * v) for v in sc]
        exact = sum(a * b for a, b in zip(ym, w)) / sum(w)
        rem = exact - sum(c[k] * om**k for k in range(order))
        bound = (2 * abs(c[9]) + 1) * om**9
        note(f"remainder {mpmath.nstr(rem, 5)}, bound {mpmath.nstr(bound, 5)}, c_9 = {mpmath.nstr(c[9], 5)}")
        assert abs(rem) <= bound


def test_pair_gap_halves_by_four():
    """At fixed eta = 2 m w the pair-minus-DGD gap is eta w^2 c3 + O(w^4): halving w divides it by ~4."""
    p = sample_linear(2000, d=5, L=40, sigma2=0.1, generator=make_generator(11))
    eta = 0.897
    ref = dgd_predict(p.x, p.y, p.xq, eta=eta)

    def gap(w):
        att = reduced_attention_predict(p.x, p.y, p.xq, omega=[w, -w], mu=[eta / (2 * w), -eta / (2 * w)])
        return math.sqrt(float(((att - ref) ** 2).mean()))

    ratios = [gap(w) / gap(w / 2) for w in (0.04, 0.02, 0.01)]
    assert all(abs(r - 4) < 0.05 for r in ratios), ratios
    assert abs(ratios[-1] - 4) < abs(ratios[0] - 4)         # converging to the order


@given(n_tokens=st.integers(2, 60), seed=seeds)
def test_numeric_coefficients_match_the_softmax(n_tokens, seed):
    """H5's numeric c_k (theory.expansion.head_output_coefficient): g(w) - sum_{k<=5} c_k w^k = O(w^6) on random
    prompts (float64, w = 0.02: the remainder is below 10 |c_6|-scale * w^6); c_1 is the centred GD sum; shift
    invariance of softmax: adding a constant to the scores leaves c_k, k >= 1, unchanged."""
    rng = np.random.default_rng(seed)
    s, y = rng.standard_normal((4, n_tokens)), rng.standard_normal((4, n_tokens))      # (n, L)
    c = np.array([ex.head_output_coefficient(k, s, y) for k in range(7)])            # (7, n)
    w = 0.02
    p = np.exp(w * (s - s.max(1, keepdims=True)))
    g = (y * p).sum(1) / p.sum(1)
    rem = g - sum(c[k] * w**k for k in range(6))
    note(f"remainder {rem}, c_6 w^6 {c[6] * w**6}")
    assert np.all(np.abs(rem) <= 10 * (np.abs(c[6]) + 1) * w**6 + 1e-14)
    np.testing.assert_allclose(c[1], np.mean(y * (s - s.mean(1, keepdims=True)), axis=1), rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(ex.head_output_coefficient(3, s + 0.7, y), c[3], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("fn, args", [(ex.token_symbols, (0,)), (ex.head_output_coefficient_fn, (-1,)), (ex.softmax_series, (3, -1)),
                                      (ex.head_output_coefficients, (-1,)), (ex.multihead_series, (0, 2)),
                                      (ex.pair_output_series, (3, 1.5))])
def test_validation(fn, args):
    with pytest.raises(ValueError):
        fn(*args)
