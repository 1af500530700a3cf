"""The mean-field loss L~ (SPEC 3.1): numeric wrappers against the sympy forms and torch autograd, and the
consequences (optimal mu, zero-sum infimum, pair profile, single head) checked numerically by independent routes.
The symbolic statements are checked once, in ``theory.mean_field.identities`` (tests/theory/test_identities.py)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp
import torch
from hypothesis import given, note
from scipy import optimize

from tests.helpers import PAPER_POINT
from tests.strategies import distinct_omegas, head_vectors, problems
from theory import symbols as S
from theory.flow import flow_rhs
from theory.mean_field import (approx_loss, approx_loss_expr, eta_star, gaussian_moment_expr, mean_field_loss,
                               optimal_mu, optimal_mu_expr, profile_loss, single_head_optimum, small_omega_infimum)


def test_approx_loss_is_the_mean_field_loss():
    assert approx_loss is mean_field_loss


def test_gaussian_integrals_are_the_mgf_and_its_derivative():
    mgf = sp.exp(S.lam**2 * S.v / 2)
    for k in (0, 1, 2):
        assert sp.simplify(gaussian_moment_expr(k) - sp.diff(mgf, S.lam, k)) == 0


def test_paper_point_value():
    # SPEC 3.5: L~ = 0.2214 at omega = ±0.13, mu = ±3.45 (the issue quotes 0.22137).
    assert mean_field_loss([0.13, -0.13], [3.45, -3.45], **PAPER_POINT) == pytest.approx(0.22137, abs=5e-6)


@given(hv=head_vectors(), prob=problems)
def test_numeric_loss_equals_lambdified_expression(hv, prob):
    omega, mu = hv
    om_s, mu_s = S.head_symbols(len(omega))
    f = sp.lambdify([om_s, mu_s, S.d, S.L, S.sigma2], approx_loss_expr(len(omega)))
    exact = f(omega, mu, prob["d"], prob["L"], prob["sigma2"])
    got = mean_field_loss(omega, mu, **prob)
    note(f"exact={exact}, got={got}")
    assert got == pytest.approx(exact, rel=1e-10, abs=1e-10)


@given(hv=head_vectors(), prob=problems)
def test_symbolic_gradient_equals_torch_autograd(hv, prob):
    """flow_rhs = -grad(L~/2) from sympy; the same gradient by torch autograd of the matrix form."""
    omega, mu = hv
    om = torch.tensor(omega, dtype=torch.float64, requires_grad=True)
    m = torch.tensor(mu, dtype=torch.float64, requires_grad=True)
    c = (1 + prob["sigma2"]) / prob["L"]
    A = torch.outer(om, om) + c * torch.exp(prob["d"] * torch.outer(om, om))
    loss = 1 + prob["sigma2"] - 2 * m @ om + m @ A @ m
    loss.backward()
    auto = -0.5 * torch.cat([om.grad, m.grad]).numpy()
    sym = flow_rhs(len(omega), **prob)(0.0, np.array(omega + mu))
    note(f"max diff {np.max(np.abs(auto - sym))}")
    np.testing.assert_allclose(sym, auto, rtol=1e-9, atol=1e-9)


@given(omega=distinct_omegas, prob=problems)
def test_optimal_mu_is_stationary_and_minimal(omega, prob):
    """Distinct omega_h (spacing >= 0.02, |omega| <= 0.5). Evaluating mu^T A mu rounds at about
    eps * |mu|_1^2 * max|A| (|mu*| reaches ~1e3 where c e^{d omega omega'} is nearly rank one, e.g. d=1, L=2),
    so the two routes agree to that rounding allowance plus 1e-9."""
    mu = optimal_mu(omega, **prob)
    base = mean_field_loss(omega, mu, **prob)
    om = np.asarray(omega)
    a_max = float(np.max(np.abs(np.outer(om, om) + (1 + prob["sigma2"]) / prob["L"]
                                * np.exp(prob["d"] * np.outer(om, om)))))
    rounding = 8 * np.finfo(float).eps * float(np.sum(np.abs(mu))) ** 2 * a_max
    note(f"|mu|_1 = {np.sum(np.abs(mu)):.4g}, rounding allowance {rounding:.3g}")
    assert base == pytest.approx(profile_loss(omega, **prob), abs=1e-9 + rounding)
    rng = np.random.default_rng(0)
    for _ in range(5):  # a convex quadratic in mu: any perturbation increases it
        assert mean_field_loss(omega, mu + 1e-3 * rng.normal(size=len(omega)), **prob) >= base - 1e-12


def test_optimal_mu_symbolic_equals_numeric():
    om = np.array([0.2, -0.1])
    sym = optimal_mu_expr(2).subs(S.c, (1 + S.sigma2) / S.L)
    om_s, _ = S.head_symbols(2)
    vals = {om_s[0]: om[0], om_s[1]: om[1], S.d: 5, S.L: 40, S.sigma2: 0.1}
    np.testing.assert_allclose([float(v.subs(vals)) for v in sym], optimal_mu(om, **PAPER_POINT), rtol=1e-10)


@given(prob=problems)
def test_pair_profile_strictly_increasing_in_w_towards_the_infimum(prob):
    ws = np.linspace(1e-3, 1.0, 60)
    prof = [profile_loss([w, -w], **prob) for w in ws]
    assert np.all(np.diff(prof) > -1e-12)
    # the infimum is the w -> 0 limit: the pair profile is inf + O(w^2)
    assert prof[0] == pytest.approx(small_omega_infimum(**prob), abs=1e-5)


@given(prob=problems)
def test_eta_star_is_the_pair_effective_step_as_w_goes_to_zero(prob):
    """Second route to eta* = 1/(1+cd): 2 mu*(w) w of the numerically optimal pair tends to it like O(w^2)."""
    w = 1e-4 / math.sqrt(prob["d"])
    mu = optimal_mu([w, -w], **prob)
    note(f"2 mu w = {2 * mu[0] * w!r}, eta* = {eta_star(**prob)!r}")
    assert 2 * mu[0] * w == pytest.approx(eta_star(**prob), rel=1e-6)
    assert mu[0] == pytest.approx(-mu[1], rel=1e-9)                      # zero-sum


@given(prob=problems)
def test_single_head_optimum_is_the_numerical_minimum(prob):
    om, mu, loss = single_head_optimum(**prob)
    assert mean_field_loss([om], [mu], **prob) == pytest.approx(loss, abs=1e-12)
    assert optimal_mu([om], **prob)[0] == pytest.approx(mu, rel=1e-10)
    res = optimize.minimize_scalar(lambda x: profile_loss([x], **prob), bounds=(1e-3, 3.0), method="bounded",
                                   options={"xatol": 1e-10})
    note(f"numerical optimum omega={res.x!r}, loss={res.fun!r}; closed form {om!r}, {loss!r}")
    assert res.x == pytest.approx(om, rel=1e-4)
    assert res.fun >= loss - 1e-12


@given(prob=problems)
def test_single_head_is_worse_than_the_multi_head_infimum(prob):
    assert single_head_optimum(**prob)[2] > small_omega_infimum(**prob)
