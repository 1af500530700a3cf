"""Exact finite-L risks (SPEC 3.4) and the proportional Bayes risk: second derivations (sympy.stats moments,
Marchenko–Pastur quadrature), numeric properties, Monte Carlo within Z standard errors, input validation.
The SPEC closed forms themselves are checked once, in ``theory.risks.identities`` / ``theory.bayes.identities``
(tests/theory/test_identities.py)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp
import torch
from hypothesis import example, given, note
from hypothesis import strategies as st
from scipy import integrate
from sympy.stats import ChiSquared, E, Normal

from numerics import dgd_predict, gd_predict, mc_risk
from tests.helpers import PAPER_POINT, Z
from tests.strategies import proportional, seeds
from theory import bayes, risks
from theory.bayes import bayes_risk_proportional, excess_ratio_proportional, mp_stieltjes
from theory.risks import (dgd_effective_length, dgd_effective_length_slope, dgd_optimal_step, dgd_risk,
                          dgd_step_tolerance, gd_optimal_step, gd_risk)
from theory.symbols import BETA, XQ, L, d, eta, sigma2, wick_vector, xi
from theory.wick import dot, gaussian_expectation


# ---------------------------------------------------------------- second derivations
def test_wick_engine_reproduces_chi_square_moments():
    """The loop-counting Wick engine against moments of chi-square variables from sympy.stats."""
    q = ChiSquared("q", d)
    x1, x2 = wick_vector(1), wick_vector(2)
    z = Normal("z", 0, 1)
    cases = {
        dot(x1, x1) ** 2: E(q**2),                          # ||x||^4
        dot(x1, x1) ** 3: E(q**3),                          # ||x||^6
        dot(x1, x2) ** 2: E(q),                             # (x^T x')^2 = ||x'||^2 z^2
        dot(x1, x2) ** 4: 3 * E(q**2),                      # E z^4 = 3
        dot(BETA, x1) ** 2 * dot(x1, x1): (E(z**4) + (d - 1) * E(z**2)) * E(q) / d,  # beta-direction split
        dot(x1, XQ) * dot(x2, XQ) * dot(x1, x2): E(q),      # = E x_q^T x_q
    }
    for mono, want in cases.items():
        assert sp.simplify(gaussian_expectation(mono) - sp.simplify(want)) == 0, mono


def test_gd_risk_second_derivation_from_chi_square():
    r"""GD risk assembled by hand: R = 1+s2 - 2 eta + eta^2 E||g||^2 with g = (1/L) sum y_l x_l and
    E||g||^2 = [L(L-1) E||beta||^2 + L (E(beta^T x)^2||x||^2 + s2 E||x||^2)] / L^2, each moment from
    sympy.stats (rotate beta onto e_1: (beta^T x)^2 ||x||^2 = ||beta||^2 z^2 (z^2 + chi2_{d-1}))."""
    z, q = Normal("z", 0, 1), ChiSquared("q", d)
    beta2 = E(ChiSquared("b", d)) / d                       # E||beta||^2 = 1
    rest = E(q) - E(z**2)                                   # E chi2_{d-1} = E||x||^2 - E z^2
    fourth = sp.simplify(beta2 * (E(z**4) + E(z**2) * rest))   # d + 2 (z independent of the rest)
    g2 = (L * (L - 1) * beta2 + L * (fourth + sigma2 * d)) / L**2
    assert sp.simplify(1 + sigma2 - 2 * eta + eta**2 * g2 - risks.gd_risk_expr()) == 0


def test_centred_gd_risk_is_gd_and_dgd_at_their_centrings():
    """The general centring reproduces GD (c = 0) and DGD (c = 1/L^2); 1/(L(L-1)) is a different risk."""
    assert sp.simplify(risks.centred_gd_risk_expr(0) - risks.gd_risk_expr()) == 0
    assert sp.simplify(risks.centred_gd_risk_expr(1 / L**2) - risks.dgd_risk_expr()) == 0
    wrong = risks.centred_gd_risk_expr(1 / (L * (L - 1)))
    at = {d: 5, L: 10, sigma2: sp.Rational(1, 10), eta: sp.Rational(9, 10)}
    assert abs(float((wrong - risks.dgd_risk_expr()).subs(at))) > 1e-3


def test_monte_carlo_separates_the_centrings():
    """GD - DGD by Monte Carlo (paired, beta and the noise integrated out given the covariates: the risk of weights
    c is |x_q - X^T c|^2/d + sigma2 (1 + |c|^2)) matches the 1/L^2 centring and is > 4 SE from 1/(L(L-1))."""
    from numerics.montecarlo import mc_losses
    from theory.problem import Problem

    def rb(c, p):
        return ((p.xq - torch.einsum("kl,kld->kd", c, p.x)) ** 2).sum(-1) / 5 + 0.1 * (1 + (c**2).sum(-1))

    def losses(p):
        s = torch.einsum("kld,kd->kl", p.x, p.xq)
        return {"diff": rb(0.9 * s / 10, p) - rb(0.9 * (s - s.mean(-1, keepdim=True)) / 10, p)}

    mean, se = mc_losses(losses, Problem(d=5, L=10, sigma2=0.1), n_prompts=100_000, seed=11)["diff"]
    kw = {"d": 5, "L": 10, "sigma2": 0.1, "eta": 0.9}
    wrong = float(sp.lambdify((d, L, sigma2, eta), risks.centred_gd_risk_expr(1 / (L * (L - 1))))(5, 10, 0.1, 0.9))
    assert abs(mean - (gd_risk(**kw) - dgd_risk(**kw))) <= Z * se
    assert abs(mean - (gd_risk(**kw) - wrong)) > Z * se


def test_risk_is_convex_in_eta_for_every_L():
    for r in (risks.gd_risk_expr(), risks.dgd_risk_expr()):
        assert sp.simplify(sp.diff(r, eta, 2).subs(L, L + 1)).is_positive   # L >= 2 written as L + 1, L >= 1


# ---------------------------------------------------------------- numeric values and properties
def test_known_values_at_paper_point():
    assert gd_risk(**PAPER_POINT) == pytest.approx(0.23978, abs=5e-6)
    assert dgd_risk(**PAPER_POINT) == pytest.approx(0.24286, abs=5e-6)
    assert bayes_risk_proportional(xi=1 / 8, sigma2=0.1) == pytest.approx(0.11406, abs=5e-6)
    assert gd_optimal_step(**PAPER_POINT) == pytest.approx(40 / 46.5, rel=1e-14)
    assert dgd_optimal_step(**PAPER_POINT) == pytest.approx(40 / 45.5, rel=1e-14)


@given(d_=st.integers(1, 50), L_=st.integers(2, 500), s2=st.floats(0, 10), h=st.floats(1e-3, 1))
def test_optimal_step_minimises_numerically(d_, L_, s2, h):
    for risk, step in ((gd_risk, gd_optimal_step), (dgd_risk, dgd_optimal_step)):
        e = step(d=d_, L=L_, sigma2=s2)
        best = risk(d=d_, L=L_, sigma2=s2)
        assert best == pytest.approx(risk(d=d_, L=L_, sigma2=s2, eta=e), rel=1e-12)
        assert risk(d=d_, L=L_, sigma2=s2, eta=e + h) > best and risk(d=d_, L=L_, sigma2=s2, eta=e - h) > best


@given(d_=st.integers(1, 50), L_=st.integers(2, 500), s2=st.floats(0, 10), excess=st.floats(1e-4, 0.1))
def test_step_tolerance_costs_exactly_the_excess(d_, L_, s2, excess):
    """H2's tolerance: moving the step by +-tol from the optimum raises the DGD risk by exactly ``excess``."""
    kw = {"d": d_, "L": L_, "sigma2": s2}
    tol, e = dgd_step_tolerance(excess=excess, **kw), dgd_optimal_step(**kw)
    for sign in (1, -1):
        got = dgd_risk(eta=e + sign * tol, **kw) - dgd_risk(**kw)
        note(f"excess {got!r} vs {excess!r}")
        assert got == pytest.approx(excess, rel=1e-8, abs=1e-13)


@given(d_=st.integers(1, 50), L_=st.integers(2, 500), s2=st.floats(0, 10))
def test_effective_length_inverts_the_optimal_risk(d_, L_, s2):
    """L_eff(R*_DGD(L)) = L at integer L; its slope agrees with a central difference."""
    r = dgd_risk(d=d_, L=L_, sigma2=s2)
    assert dgd_effective_length(risk=r, d=d_, sigma2=s2) == pytest.approx(L_, rel=1e-9)
    h = 1e-6 * (r - s2)
    fd = (dgd_effective_length(risk=r + h, d=d_, sigma2=s2) - dgd_effective_length(risk=r - h, d=d_, sigma2=s2)) / (2 * h)
    assert dgd_effective_length_slope(risk=r, d=d_, sigma2=s2) == pytest.approx(fd, rel=1e-5)


def _mp_stieltjes_quad(ratio: float, lam: float) -> float:
    """m(-lam) = int rho_MP(x) / (x + lam) dx (+ atom at 0 of mass 1 - 1/ratio when ratio > 1), by quadrature."""
    a, b = (1 - math.sqrt(ratio)) ** 2, (1 + math.sqrt(ratio)) ** 2
    dens = lambda x: math.sqrt(max((b - x) * (x - a), 0.0)) / (2 * math.pi * ratio * x)  # noqa: E731
    val, _ = integrate.quad(lambda x: dens(x) / (x + lam), a, b, epsabs=1e-13, epsrel=1e-12, limit=200)
    return val + max(0.0, 1 - 1 / ratio) / lam


@pytest.mark.parametrize("xi_, s2", [(0.125, 0.1), (0.5, 1.0), (0.9, 0.05), (2.0, 0.3), (5.0, 2.0)])
def test_bayes_proportional_equals_marchenko_pastur_quadrature(xi_, s2):
    """Second route: the Bayes excess sigma2 * xi * m(-xi sigma2) with m integrated from the MP density."""
    m = _mp_stieltjes_quad(xi_, xi_ * s2)
    assert mp_stieltjes(xi=xi_, sigma2=s2) == pytest.approx(m, rel=1e-9)
    assert bayes_risk_proportional(xi=xi_, sigma2=s2) == pytest.approx(s2 + s2 * xi_ * m, rel=1e-9)


@pytest.mark.parametrize("xi_, s2", [(1e-9, 0.1), (1e-6, 1e-3), (0.3, 0.0), (3.0, 0.0), (1e4, 0.5)])
def test_bayes_proportional_stable_at_the_edges(xi_, s2):
    """float64 stable form vs 40-digit evaluation of the MP-derived (unstable) form."""
    exact = bayes.bayes_risk_proportional_expr().subs({xi: sp.nsimplify(xi_), sigma2: sp.nsimplify(s2)}).evalf(40)
    assert bayes_risk_proportional(xi=xi_, sigma2=s2) == pytest.approx(float(exact), rel=1e-12, abs=1e-300)
    if s2 == 0:
        assert bayes_risk_proportional(xi=xi_, sigma2=0.0) == pytest.approx(max(0.0, 1 - 1 / xi_), abs=1e-15)


@given(p=proportional)
def test_excess_ratio_bounds(p):
    """1 <= r < 1 + 1/sigma2 (Bayes optimality; the bound of theory.bayes.identities), and xi sigma2 m < 1."""
    r = excess_ratio_proportional(**p)
    note(f"r={r!r}")
    assert 1 - 1e-9 <= r < 1 + 1 / p["sigma2"] + 1e-9
    assert p["xi"] * p["sigma2"] * mp_stieltjes(**p) < 1


def test_excess_ratio_vectorises():
    xs, ss = np.geomspace(1e-2, 10, 7), np.geomspace(1e-2, 10, 5)
    grid = excess_ratio_proportional(xi=xs[:, None], sigma2=ss[None, :])
    assert grid.shape == (7, 5)
    assert grid[2, 3] == pytest.approx(excess_ratio_proportional(xi=xs[2], sigma2=ss[3]), rel=1e-14)
    assert np.all(np.diff(grid, axis=0) < 0) and np.all(np.diff(grid, axis=1) < 0)


# ---------------------------------------------------------------- Monte Carlo
@given(d_=st.integers(1, 8), L_=st.integers(2, 40), s2=st.floats(0.0, 1.0), step=st.floats(-1.0, 2.0), seed=seeds)
@example(d_=5, L_=40, s2=0.1, step=2 * 0.13 * 3.45, seed=0)
@example(d_=1, L_=2, s2=0.0, step=-1.0, seed=1)
def test_closed_forms_match_monte_carlo(d_, L_, s2, step, seed):
    """|MC - exact| <= Z SE for GD and DGD. Domain: d in [1, 8], L in [2, 40], sigma2 in [0, 1], eta in [-1, 2]
    (the formulas hold for every eta; the box keeps the prompt count modest: 10k per example)."""
    torch.set_num_threads(1)
    for name, pred, exact in (("gd", gd_predict, gd_risk), ("dgd", dgd_predict, dgd_risk)):
        mean, se = mc_risk(lambda x, y, q, f=pred: f(x, y, q, eta=step), d=d_, L=L_, sigma2=s2,
                           n_prompts=10_000, seed=seed)
        want = exact(d=d_, L=L_, sigma2=s2, eta=step)
        note(f"{name}: MC {mean:.5f} ± {se:.5f}, exact {want:.5f}, z = {(mean - want) / se:+.2f}")
        assert abs(mean - want) <= Z * se


def test_monte_carlo_has_power_against_an_off_by_one_in_L():
    """The same Monte Carlo rejects the GD risk evaluated at L + 1 (the test above can fail)."""
    mean, se = mc_risk(lambda x, y, q: gd_predict(x, y, q, eta=1.0), d=5, L=10, sigma2=0.1, n_prompts=40_000, seed=3)
    assert abs(mean - gd_risk(d=5, L=10, sigma2=0.1, eta=1.0)) <= Z * se
    assert abs(mean - gd_risk(d=5, L=11, sigma2=0.1, eta=1.0)) > Z * se


# ---------------------------------------------------------------- validation
@pytest.mark.parametrize("kwargs, name", [
    ({"d": 0, "L": 10, "sigma2": 0.1}, "d"),
    ({"d": 2.5, "L": 10, "sigma2": 0.1}, "d"),
    ({"d": True, "L": 10, "sigma2": 0.1}, "d"),
    ({"d": 3, "L": 1, "sigma2": 0.1}, "L"),
    ({"d": 3, "L": 10, "sigma2": -0.1}, "sigma2"),
    ({"d": 3, "L": 10, "sigma2": float("nan")}, "sigma2"),
    ({"d": 3, "L": 10, "sigma2": 0.1, "eta": float("nan")}, "eta"),
    ({"d": 3, "L": 10, "sigma2": 0.1, "eta": float("inf")}, "eta"),
    ({"d": 3, "L": 10, "sigma2": 0.1, "eta": "1"}, "eta"),
])
def test_risk_validation(kwargs, name):
    for fn in (gd_risk, dgd_risk):
        with pytest.raises(ValueError, match=rf"^{name} "):
            fn(**kwargs)
    if "eta" not in kwargs:
        for fn in (gd_optimal_step, dgd_optimal_step):
            with pytest.raises(ValueError, match=rf"^{name} "):
                fn(**kwargs)
        with pytest.raises(ValueError, match=rf"^{name} "):
            dgd_step_tolerance(excess=0.01, **kwargs)


@pytest.mark.parametrize("kwargs, name", [
    ({"risk": 0.1, "d": 5, "sigma2": 0.1}, "risk"), ({"risk": float("nan"), "d": 5, "sigma2": 0.1}, "risk"),
    ({"risk": 0.5, "d": 0, "sigma2": 0.1}, "d"), ({"risk": 0.5, "d": 5, "sigma2": -1.0}, "sigma2"),
])
def test_effective_length_validation(kwargs, name):
    for fn in (dgd_effective_length, dgd_effective_length_slope):
        with pytest.raises(ValueError, match=rf"^{name} "):
            fn(**kwargs)
    with pytest.raises(ValueError, match="^excess "):
        dgd_step_tolerance(d=5, L=40, sigma2=0.1, excess=0.0)


@pytest.mark.parametrize("kwargs, name", [
    ({"xi": 0.0, "sigma2": 0.1}, "xi"), ({"xi": -1.0, "sigma2": 0.1}, "xi"),
    ({"xi": float("nan"), "sigma2": 0.1}, "xi"), ({"xi": 0.5, "sigma2": -1e-3}, "sigma2"),
    ({"xi": 0.5, "sigma2": float("inf")}, "sigma2"),
])
def test_bayes_validation(kwargs, name):
    for fn in (bayes_risk_proportional, excess_ratio_proportional, mp_stieltjes):
        with pytest.raises(ValueError, match=rf"^{name} "):
            fn(**kwargs)


def test_keyword_only_and_old_import_path():
    with pytest.raises(TypeError):
        gd_risk(5, 40, 0.1)  # type: ignore[misc]
    assert np.isfinite(dgd_risk(d=5, L=40, sigma2=0.1, eta=np.float32(0.5)))
    assert risks.bayes_risk_proportional is bayes_risk_proportional      # moved to theory.bayes, still here
    assert risks.excess_ratio_proportional_expr is bayes.excess_ratio_proportional_expr
