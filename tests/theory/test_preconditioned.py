"""Preconditioned GD on anisotropic data (SPEC 1.2, 3.6): symbolic identities and their power, the reduction to
SPEC 3.4 at Σ = I, the minimiser, orthogonal invariance, a Monte Carlo check and input validation."""
from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
import torch
from hypothesis import given, note
from hypothesis import strategies as st

from numerics.data import make_generator
from numerics.montecarlo import mc_losses
from tests.helpers import Z
from theory import Problem, preconditioned_gd_optimum, preconditioned_gd_risk
from theory import preconditioned as P
from theory.risks import dgd_risk, gd_risk
from theory.symbols import L as L_sym


def _zero(e) -> bool:
    if isinstance(e, sp.MatrixBase):
        return all(sp.expand(x) == 0 for x in e)
    return sp.expand(e) == 0


# ---------------------------------------------------------------- symbolic
def test_identities_hold():
    ids = P.identities()
    assert len(ids) >= 15
    bad = [k for k, e in ids.items() if not _zero(e)]
    assert not bad, bad


def test_mutated_identities_do_not_hold():
    """Power of the symbolic rows: plausible slips do not expand to 0."""
    plain, centred = P.risk_expr(2, False), P.risk_expr(2, True)
    assert not _zero(centred - plain)                                    # centring changes the risk
    assert not _zero(plain - plain.subs(L_sym, L_sym + 1))               # off-by-one in L
    assert not _zero(centred - P.risk_matrix_expr(2, False))             # centred judged with the plain form
    S = P.sigma_symbols(2)
    wrong = (S + (S.trace() + 2 * P.sigma2) / L_sym * sp.eye(2)).inv()   # plain Gamma* without the 1 + 1/L
    assert not all(_zero(sp.together(x)) for x in (P.optimum_expr(2, False) - wrong))


def test_first_order_with_diagonal_blocks_is_spec_3_3():
    """With Ω_h = ω_h I the first order is SPEC 3.3's (Σ μ_h ω_h) · debiased GD (a special case)."""
    o0, o1 = P.first_order_expr(3, 2, 2)
    sub = {sp.Symbol(f"Omega{h}_{i}{j}", real=True): (sp.Symbol(f"w{h}") if i == j else 0)
           for h in (1, 2) for i in (1, 2) for j in (1, 2)}
    eta_eff = sum(sp.Symbol(f"mu_{h}", real=True) * sp.Symbol(f"w{h}") for h in (1, 2))
    _, dgd_unit = P._first_order_predictions(3, 2, 1)   # one head: Γ = μ_1 Ω_1; set μ_1 Ω_1 = I below
    one = {sp.Symbol("mu_1", real=True): 1, **{sp.Symbol(f"Omega1_{i}{j}", real=True): int(i == j)
                                               for i in (1, 2) for j in (1, 2)}}
    assert sp.expand(o1.subs(sub) - eta_eff * dgd_unit.subs(one)) == 0


# ---------------------------------------------------------------- numeric properties
def spd(draw_entries, d: int, shift: float = 0.2) -> np.ndarray:
    A = np.asarray(draw_entries, dtype=float).reshape(d, d)
    S = A @ A.T + shift * np.eye(d)
    return S / np.trace(S) * d


matrices = st.integers(1, 6).flatmap(
    lambda d: st.tuples(st.just(d), st.lists(st.floats(-2, 2, allow_nan=False), min_size=d * d, max_size=d * d)))


@given(d=st.integers(1, 30), L=st.integers(2, 400), s2=st.floats(0, 3), eta=st.floats(-3, 3), centred=st.booleans())
def test_identity_covariance_reduces_to_spec_3_4(d, L, s2, eta, centred):
    got = preconditioned_gd_risk(eta * np.eye(d), np.eye(d), L=L, sigma2=s2, centred=centred)
    want = (dgd_risk if centred else gd_risk)(d=d, L=L, sigma2=s2, eta=eta)
    note(f"{got} vs {want}")
    assert got == pytest.approx(want, rel=1e-12, abs=1e-12)
    star = preconditioned_gd_optimum(np.eye(d), L=L, sigma2=s2, centred=centred)
    k = d + d * s2 + (0 if centred else 1)
    np.testing.assert_allclose(star, L / (L + k) * np.eye(d), rtol=1e-12)   # SPEC 3.4's optimal steps


@given(m=matrices, L=st.integers(2, 200), s2=st.floats(0, 2), centred=st.booleans(),
       pert=st.lists(st.floats(-1, 1, allow_nan=False), min_size=36, max_size=36), h=st.floats(1e-4, 0.3))
def test_gamma_star_is_the_minimiser(m, L, s2, centred, pert, h):
    d, entries = m
    S = spd(entries, d)
    star = preconditioned_gd_optimum(S, L=L, sigma2=s2, centred=centred)
    best = preconditioned_gd_risk(star, S, L=L, sigma2=s2, centred=centred)
    assert best == pytest.approx(P.preconditioned_gd_optimal_risk(S, L=L, sigma2=s2, centred=centred), rel=1e-9)
    delta = np.asarray(pert[:d * d]).reshape(d, d)
    if np.linalg.norm(delta) == 0:
        return
    other = preconditioned_gd_risk(star + h * delta, S, L=L, sigma2=s2, centred=centred)
    note(f"best {best}, perturbed {other}")
    assert other >= best - 1e-12 * abs(best)
    # the quadratic form (kappa/d) tr(D S D^T S B) gives the excess exactly
    k = 1 - 1 / L if centred else 1.0
    B = (1.0 if centred else 1 + 1 / L) * S + (np.trace(S) + d * s2) / L * np.eye(d)
    D = h * delta
    assert other - best == pytest.approx(k / d * np.trace(D @ S @ D.T @ S @ B), rel=1e-6, abs=1e-12)


@given(m=matrices, L=st.integers(2, 200), s2=st.floats(0, 2), centred=st.booleans(),
       g=st.lists(st.floats(-2, 2, allow_nan=False), min_size=36, max_size=36), seed=st.integers(0, 2**31 - 1))
def test_orthogonal_change_of_basis(m, L, s2, centred, g, seed):
    d, entries = m
    S = spd(entries, d)
    G = np.asarray(g[:d * d]).reshape(d, d)
    Q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((d, d)))
    r0 = preconditioned_gd_risk(G, S, L=L, sigma2=s2, centred=centred)
    r1 = preconditioned_gd_risk(Q @ G @ Q.T, Q @ S @ Q.T, L=L, sigma2=s2, centred=centred)
    assert r1 == pytest.approx(r0, rel=1e-9, abs=1e-10)
    np.testing.assert_allclose(preconditioned_gd_optimum(Q @ S @ Q.T, L=L, sigma2=s2, centred=centred),
                               Q @ preconditioned_gd_optimum(S, L=L, sigma2=s2, centred=centred) @ Q.T, atol=1e-9)


def test_spec_3_6_values_and_large_L_limit():
    S = 0.5 ** np.abs(np.subtract.outer(np.arange(5), np.arange(5)))
    plain = preconditioned_gd_optimum(S, L=40, sigma2=0.1)
    np.testing.assert_allclose(np.diag(plain), [1.069, 1.263, 1.264, 1.263, 1.069], atol=5e-4)  # SPEC 4's Γ*
    np.testing.assert_allclose(plain, np.linalg.inv(1.025 * S + 0.1375 * np.eye(5)), rtol=1e-12)
    for c in (False, True):
        np.testing.assert_allclose(preconditioned_gd_optimum(S, L=10**7, sigma2=0.1, centred=c), np.linalg.inv(S),
                                   atol=1e-5)


def test_best_scale_of_the_identity():
    S = np.diag([0.5, 1.0, 2.0])
    for c in (False, True):
        s = P.preconditioned_gd_best_scale(np.eye(3), S, L=20, sigma2=0.2, centred=c)
        r = [preconditioned_gd_risk(x * np.eye(3), S, L=20, sigma2=0.2, centred=c) for x in (s - 1e-3, s, s + 1e-3)]
        assert r[1] < r[0] and r[1] < r[2]


@pytest.mark.parametrize("centred", [False, True])
def test_monte_carlo_matches_closed_form(centred):
    """An independent simulation (AnisotropicSampler prompts) of the risk at a random non-symmetric Γ."""
    d, L, s2 = 3, 8, 0.3
    S = np.array([[2.0, 0.6, 0.0], [0.6, 1.0, -0.3], [0.0, -0.3, 0.5]])
    G = np.array([[0.4, 0.1, -0.2], [0.0, 0.7, 0.3], [0.2, -0.1, 1.1]])
    Gt = torch.as_tensor(G)

    def losses(p):
        x = p.x - p.x.mean(1, keepdim=True) if centred else p.x
        g = torch.einsum("kl,kld->kd", p.y, x) / L
        return {"r": (p.yq - torch.einsum("kd,de,ke->k", g, Gt, p.xq)) ** 2}

    mean, se = mc_losses(losses, Problem(d=d, L=L, sigma2=s2, cov=S), n_prompts=40_000, seed=11)["r"]
    exact = preconditioned_gd_risk(G, S, L=L, sigma2=s2, centred=centred)
    assert abs(mean - exact) <= Z * se, (mean, exact, se)


# ---------------------------------------------------------------- validation
S3 = np.diag([1.0, 2.0, 3.0])


@pytest.mark.parametrize("sigma, match", [
    (np.array([[1.0, 0.5], [0.4, 1.0]]), "symmetric"),
    (np.array([[1.0, 2.0], [2.0, 1.0]]), "positive definite"),
    (np.array([[1.0, np.nan], [np.nan, 1.0]]), "finite"),
    (np.ones((2, 3)), "shape"),
    (np.ones(3), "shape"),
    ("abc", "real"),
    ([[True, False], [False, True]], "real"),
    (np.eye(2) * (1 + 1j), "real"),
])
def test_bad_sigma(sigma, match):
    with pytest.raises(ValueError, match=match):
        preconditioned_gd_optimum(sigma, L=10, sigma2=0.1)
    with pytest.raises(ValueError, match=match):
        preconditioned_gd_risk(np.eye(2), sigma, L=10, sigma2=0.1)


@pytest.mark.parametrize("gamma, match", [(np.eye(2), "shape"), (np.full((3, 3), np.inf), "finite"),
                                          ("x", "real"), (np.ones((3, 3, 1)), "shape")])
def test_bad_gamma(gamma, match):
    with pytest.raises(ValueError, match=match):
        preconditioned_gd_risk(gamma, S3, L=10, sigma2=0.1)


@pytest.mark.parametrize("kw, match", [({"L": 1, "sigma2": 0.1}, "L"), ({"L": 2.5, "sigma2": 0.1}, "L"),
                                       ({"L": 10, "sigma2": -0.1}, "sigma2"),
                                       ({"L": 10, "sigma2": float("nan")}, "sigma2")])
def test_bad_problem(kw, match):
    with pytest.raises(ValueError, match=match):
        preconditioned_gd_optimum(S3, **kw)
    with pytest.raises(ValueError, match=match):
        preconditioned_gd_risk(np.eye(3), S3, **kw)


def test_problem_validates_cov():
    assert Problem(d=2, L=4, sigma2=0.1, cov=[[2.0, 0.5], [0.5, 1.0]]).kind == "anisotropic"
    for bad, match in (([[1.0, 2.0], [2.0, 1.0]], "positive definite"), ([[1.0, 0.0]], "shape"),
                       ([[1.0, float("nan")], [float("nan"), 1.0]], "finite"), (np.eye(3), "shape")):
        with pytest.raises(ValueError, match=match):
            Problem(d=2, L=4, sigma2=0.1, cov=bad)


def test_symbolic_d_is_bounded():
    with pytest.raises(ValueError, match="d must be"):
        P.risk_expr(9)
