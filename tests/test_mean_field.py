"""The mean-field loss L~ (SPEC 3.1): derived form = SPEC's matrix form, its consequences, numeric wrappers."""
from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp
import torch
from hypothesis import given, note
from hypothesis import strategies as st

from theory import symbols as S
from theory.mean_field import (approx_loss, approx_loss_expr, approx_loss_matrix_expr, eta_star,
                                gaussian_moment_expr, optimal_mu, optimal_mu_expr, pair_loss_expr,
                                pair_monotonicity_expr, profile_loss, single_head_optimum,
                                single_head_optimum_expr, small_omega_infimum, small_omega_loss_expr,
                                small_omega_optimum_expr)
from theory.flow import flow_rhs

C_VALUE = (1 + S.sigma2) / S.L

# Domain where the closed forms are meant to be used: moderate d*omega^2 and finite mu.
heads = st.integers(1, 4)
omega_entry = st.floats(-0.4, 0.4, allow_nan=False)
mu_entry = st.floats(-5, 5, allow_nan=False)
problems = st.fixed_dictionaries({"d": st.integers(1, 20), "L": st.integers(2, 200),
                                  "sigma2": st.floats(0, 2, allow_nan=False)})


head_vectors = heads.flatmap(lambda h: st.tuples(st.lists(omega_entry, min_size=h, max_size=h),
                                                  st.lists(mu_entry, min_size=h, max_size=h)))


def test_gaussian_integrals_are_the_mgf_and_its_derivative():
    lam, v = sp.symbols("lambda v", real=True)
    mgf = sp.exp(lam**2 * v / 2)
    assert sp.simplify(gaussian_moment_expr(0) - mgf) == 0
    assert sp.simplify(gaussian_moment_expr(1) - sp.diff(mgf, lam)) == 0
    assert sp.simplify(gaussian_moment_expr(2) - sp.diff(mgf, lam, 2)) == 0


@pytest.mark.parametrize("n_head", [1, 2, 3])
def test_derived_loss_equals_spec_matrix_form(n_head):
    derived = approx_loss_expr(n_head)
    spec = approx_loss_matrix_expr(n_head).subs(S.c, C_VALUE)
    assert sp.simplify(sp.expand(derived - spec)) == 0


def test_paper_point_value(paper_point):
    # SPEC 3.5: L~ = 0.2214 at omega = ±0.13, mu = ±3.45 (the issue quotes 0.22137).
    assert approx_loss([0.13, -0.13], [3.45, -3.45], **paper_point) == pytest.approx(0.22137, abs=5e-6)


@given(hv=head_vectors, prob=problems)
def test_numeric_loss_equals_lambdified_expression(hv, prob):
    omega, mu = hv
    H = len(omega)
    om_s, mu_s = S.head_symbols(H)
    f = sp.lambdify([om_s, mu_s, S.d, S.L, S.sigma2], approx_loss_expr(H))
    exact = f(omega, mu, prob["d"], prob["L"], prob["sigma2"])
    got = approx_loss(omega, mu, **prob)
    note(f"exact={exact}, got={got}")
    assert got == pytest.approx(exact, rel=1e-10, abs=1e-10)


@given(hv=head_vectors, prob=problems)
def test_symbolic_gradient_equals_torch_autograd(hv, prob):
    """flow_rhs = -grad(L~/2) from sympy; the same gradient by torch autograd of the matrix form."""
    omega, mu = hv
    H = len(omega)
    om = torch.tensor(omega, dtype=torch.float64, requires_grad=True)
    m = torch.tensor(mu, dtype=torch.float64, requires_grad=True)
    c = (1 + prob["sigma2"]) / prob["L"]
    A = torch.outer(om, om) + c * torch.exp(prob["d"] * torch.outer(om, om))
    loss = 1 + prob["sigma2"] - 2 * m @ om + m @ A @ m
    loss.backward()
    auto = -0.5 * torch.cat([om.grad, m.grad]).numpy()
    sym = flow_rhs(H, **prob)(0.0, np.array(omega + mu))
    note(f"max diff {np.max(np.abs(auto - sym))}")
    np.testing.assert_allclose(sym, auto, rtol=1e-9, atol=1e-9)


@given(grid=st.lists(st.integers(-25, 25), min_size=1, max_size=4, unique=True), prob=problems)
def test_optimal_mu_is_stationary_and_minimal(grid, prob):
    """Distinct omega_h (spacing >= 0.02, |omega| <= 0.5): the quadratic form is well conditioned there."""
    omega = [0.02 * g for g in grid]
    mu = optimal_mu(omega, **prob)
    base = approx_loss(omega, mu, **prob)
    assert base == pytest.approx(profile_loss(omega, **prob), abs=1e-9)
    rng = np.random.default_rng(0)
    for _ in range(5):  # a convex quadratic in mu: any perturbation increases it
        assert approx_loss(omega, mu + 1e-3 * rng.normal(size=len(omega)), **prob) >= base - 1e-12


def test_optimal_mu_symbolic_equals_numeric(paper_point):
    om = np.array([0.2, -0.1])
    sym = optimal_mu_expr(2).subs(S.c, C_VALUE)
    om_s, _ = S.head_symbols(2)
    vals = {om_s[0]: om[0], om_s[1]: om[1], S.d: 5, S.L: 40, S.sigma2: 0.1}
    np.testing.assert_allclose([float(v.subs(vals)) for v in sym], optimal_mu(om, **paper_point), rtol=1e-10)


def test_small_omega_form_and_its_optimum():
    om, mu = S.head_symbols(3)
    u = sum(a * b for a, b in zip(om, mu))
    spec = 1 + S.sigma2 - 2 * u + (1 + S.c * S.d) * u**2 + S.c * sum(mu) ** 2
    assert sp.simplify(small_omega_loss_expr(3) - sp.expand(spec)) == 0
    opt = small_omega_optimum_expr()
    assert opt["v"] == 0
    assert sp.simplify(opt["u"] - 1 / (1 + S.c * S.d)) == 0
    infimum = S.sigma2 + S.xi * (1 + S.sigma2) / (1 + S.xi * (1 + S.sigma2))
    assert sp.simplify(opt["loss"].subs(S.c, C_VALUE) - infimum.subs(S.xi, S.d / S.L)) == 0


def test_pair_sinh_form_and_limit():
    pair = pair_loss_expr()
    spec = 1 + S.sigma2 - S.w**2 / (S.w**2 + S.c * sp.sinh(S.d * S.w**2))
    assert sp.simplify(pair["profile"] - spec) == 0
    assert sp.simplify(pair["eta_limit"] - 1 / (1 + S.c * S.d)) == 0
    mono = pair_monotonicity_expr()
    x = sp.Symbol("x", positive=True)
    assert mono["g0"] == 0 and sp.simplify(mono["g_derivative"] - x * sp.sinh(x)) == 0
    assert sp.simplify(mono["ratio_derivative"] - mono["g"] / x**2) == 0


@given(prob=problems)
def test_pair_profile_strictly_increasing_in_w(prob):
    ws = np.linspace(1e-3, 1.0, 60)
    prof = [profile_loss([w, -w], **prob) for w in ws]
    assert np.all(np.diff(prof) > -1e-12)
    # and the infimum is the w -> 0 limit of the small-omega analysis
    assert prof[0] == pytest.approx(small_omega_infimum(**prob), abs=1e-5)


def test_single_head_optimum_symbolic():
    ex = single_head_optimum_expr()
    assert sp.simplify(ex["omega2"] - 1 / S.d) == 0
    assert sp.simplify(ex["mu"] - sp.sqrt(S.d) / (1 + sp.E * S.c * S.d)) == 0
    loss_spec = S.sigma2 + sp.E * S.xi * (1 + S.sigma2) / (1 + sp.E * S.xi * (1 + S.sigma2))
    assert sp.simplify(ex["loss"].subs(S.c, C_VALUE) - loss_spec.subs(S.xi, S.d / S.L)) == 0


@given(prob=problems)
def test_single_head_optimum_is_the_minimum(prob):
    om, mu, loss = single_head_optimum(**prob)
    assert om == pytest.approx(1 / math.sqrt(prob["d"]))
    assert approx_loss([om], [mu], **prob) == pytest.approx(loss, abs=1e-12)
    grid = np.linspace(0.02, 2.0, 200)
    assert min(profile_loss([w], **prob) for w in grid) >= loss - 1e-12


def test_eta_star(paper_point):
    assert eta_star(**paper_point) == pytest.approx(1 / (1 + 1.1 / 40 * 5))
