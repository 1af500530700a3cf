"""Gradient flow of L~ (SPEC 3.2): closed form, linearisation, Lyapunov property, ODE vs discrete GD."""
from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, note
from hypothesis import strategies as st

from numerics.ode import gradient_descent, integrate_flow
from theory import symbols as S
from theory.mean_field import approx_loss, eta_star
from theory.flow import (flow_closed_form_expr, flow_expr, flow_jacobian, flow_rhs, flow_rhs_matrix,
                         linearisation_expr)

PAPER = {"d": 5, "L": 40, "sigma2": 0.1}


@pytest.mark.parametrize("n_head", [1, 2, 3])
def test_flow_equals_spec_closed_form(n_head):
    diff = (flow_expr(n_head) - flow_closed_form_expr(n_head)).applyfunc(sp.simplify)
    assert diff == sp.zeros(2 * n_head, 1)


@given(h=st.integers(1, 6), seed=st.integers(0, 2**31 - 1))
def test_lambdified_rhs_equals_matrix_rhs(h, seed):
    y = np.random.default_rng(seed).normal(0, 0.5, 2 * h)
    np.testing.assert_allclose(flow_rhs(h, **PAPER)(0, y), flow_rhs_matrix(h, **PAPER)(0, y), rtol=1e-10, atol=1e-12)


@given(seed=st.integers(0, 2**31 - 1))
def test_jacobian_matches_finite_differences(seed):
    y = np.random.default_rng(seed).normal(0, 0.4, 4)
    f, J = flow_rhs(2, **PAPER), flow_jacobian(2, **PAPER)
    eps = 1e-6
    fd = np.column_stack([(f(0, y + eps * e) - f(0, y - eps * e)) / (2 * eps) for e in np.eye(4)])
    np.testing.assert_allclose(J(0, y), fd, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("n_head", [2, 3, 4])
def test_linearisation_spectrum(n_head):
    lin = linearisation_expr(n_head)
    ev = lin["eigenvalues"]
    assert ev.get(sp.Integer(1)) == n_head - 1 and ev.get(sp.Integer(-1)) == n_head - 1
    for root in lin["common_mode"]:
        assert sp.simplify(root**2 + S.c * n_head * root - 1) == 0


@given(h=st.integers(1, 4), seed=st.integers(0, 2**31 - 1))
def test_loss_never_increases_along_the_flow(h, seed):
    y0 = np.random.default_rng(seed).normal(0, 0.3, 2 * h)
    ts = np.linspace(0, 50, 400)
    sol = integrate_flow(flow_rhs(h, **PAPER), y0, 50.0, jac=flow_jacobian(h, **PAPER), t_eval=ts)
    losses = np.array([approx_loss(y[:h], y[h:], **PAPER) for y in sol.y])
    note(f"max increase {np.max(np.diff(losses))}")
    assert np.max(np.diff(losses)) <= 1e-9


def test_flow_reproduces_spec_long_time_values():
    """SPEC 3.2: from ±1e-3, at t = 1e4: mu ≈ 3.15, omega ≈ 0.139, loss ≈ 0.2211 (within 2%)."""
    y0 = np.array([1e-3, -1e-3, 1e-3, -1e-3])
    sol = integrate_flow(flow_rhs(2, **PAPER), y0, 1e4, jac=flow_jacobian(2, **PAPER))
    om, mu = sol.y[-1, 0], sol.y[-1, 2]
    assert om == pytest.approx(0.139, rel=0.02)
    assert mu == pytest.approx(3.15, rel=0.02)
    assert approx_loss(sol.y[-1, :2], sol.y[-1, 2:], **PAPER) == pytest.approx(0.2211, rel=0.02)
    assert 2 * om * mu == pytest.approx(eta_star(**PAPER), rel=0.01)


def test_discrete_gd_converges_to_flow_at_order_one():
    f = flow_rhs(2, **PAPER)
    y0 = np.array([0.05, -0.04, 0.03, -0.05])
    T = 8.0
    exact = integrate_flow(f, y0, T, jac=flow_jacobian(2, **PAPER), rtol=1e-11, atol=1e-13).sol(T)
    lrs = np.array([0.08, 0.04, 0.02, 0.01])
    errs = [np.linalg.norm(gradient_descent(f, y0, lr=lr, steps=int(round(T / lr)))[1][-1] - exact) for lr in lrs]
    slope = np.polyfit(np.log(lrs), np.log(errs), 1)[0]
    assert slope == pytest.approx(1.0, abs=0.1)


def test_ode_solver_agrees_with_a_tighter_explicit_solver():
    f = flow_rhs(2, **PAPER)
    y0 = np.array([1e-3, -1e-3, 1e-3, -1e-3])
    a = integrate_flow(f, y0, 30.0, jac=flow_jacobian(2, **PAPER)).sol(30.0)
    b = integrate_flow(f, y0, 30.0, method="DOP853", rtol=1e-12, atol=1e-14).sol(30.0)
    np.testing.assert_allclose(a, b, rtol=1e-6)
