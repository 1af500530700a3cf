"""theory.multitask: the derived N-task mean-field loss, its flow, symmetries and validation."""
from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, strategies as st

from theory import multitask as mt

OVERLAP = ((0, 1, 2, 3), (2, 3, 4, 5))
KW = dict(d=6, L=48, sigma2=0.1)


@pytest.mark.parametrize("name", list(mt.identities()))
def test_identities(name):
    assert sp.simplify(mt.identities()[name]) == 0


def test_single_task_reduction_is_not_vacuous():
    # a wrong factor (d - 1 instead of d) must leave a non-zero remainder
    om, mu, _ = mt.multitask_symbols(2, 3, 1)
    w, m = mt.head_symbols(2)
    assert sp.simplify(mt.single_task_reduction(2, 3)) == 0
    multi = mt.loss_expr(2, ((0, 1, 2),), 3).subs({om[h][i]: w[h] for h in range(2) for i in range(3)})
    multi = multi.subs({mu[h][0]: m[h] for h in range(2)})
    single = mt.approx_loss_expr(2).subs(mt.d_sym, 3)
    assert sp.simplify(sp.expand(multi - 2 * (single - mt.sigma2))) != 0


def _rand(rng, H, N, d=6, scale=0.4):
    return rng.normal(scale=scale, size=(H, d)), rng.normal(scale=1.5, size=(H, N))


def test_numeric_loss_matches_derived_expression():
    H, sup, d = 2, ((0, 1), (1, 2)), 3
    rng = np.random.default_rng(0)
    om, mu = _rand(rng, H, 2, d)
    f = sp.lambdify([mt._state_symbols(H, d, 2), mt.L, mt.sigma2], mt.loss_expr(H, sup, d))
    y = np.concatenate([om.ravel(), mu.ravel()])
    assert f(y, 48, 0.1) == pytest.approx(mt.multitask_loss(om, mu, supports=sup, d=d, L=48, sigma2=0.1), rel=1e-12)


def test_numeric_flow_matches_lambdified_derived_flow():
    H, sup, d = 2, ((0, 1), (1, 2)), 3
    fs = mt.flow_rhs_symbolic(H, supports=sup, d=d, L=48, sigma2=0.1)
    fn = mt.flow_rhs(H, supports=sup, d=d, L=48, sigma2=0.1)
    rng = np.random.default_rng(1)
    for _ in range(3):
        y = rng.normal(scale=0.5, size=H * (d + 2))
        np.testing.assert_allclose(fn(0.0, y), fs(y), rtol=1e-10, atol=1e-13)


def test_flow_is_minus_half_gradient_numerically():
    rng = np.random.default_rng(2)
    om, mu = _rand(rng, 3, 2)
    f = mt.flow_rhs(3, supports=OVERLAP, **KW)
    y = np.concatenate([om.ravel(), mu.ravel()])
    g = np.zeros_like(y)
    for i in range(y.size):
        e = np.zeros_like(y); e[i] = 1e-6
        lp = mt.multitask_loss(*_split(y + e, 3, 2), supports=OVERLAP, **KW)
        lm = mt.multitask_loss(*_split(y - e, 3, 2), supports=OVERLAP, **KW)
        g[i] = (lp - lm) / 2e-6
    np.testing.assert_allclose(f(0, y), -g / 2, rtol=1e-5, atol=1e-7)


def _split(y, H, N, d=6):
    return y[:H * d].reshape(H, d), y[H * d:].reshape(H, N)


@given(st.integers(1, 5), st.integers(0, 2**32 - 1))
def test_head_permutation_invariance(H, seed):
    rng = np.random.default_rng(seed)
    om, mu = _rand(rng, H, 2)
    perm = rng.permutation(H)
    a = mt.multitask_loss(om, mu, supports=OVERLAP, **KW)
    assert mt.multitask_loss(om[perm], mu[perm], supports=OVERLAP, **KW) == pytest.approx(a, rel=1e-12)


@given(st.integers(0, 2**32 - 1))
def test_sign_flip_of_pm_pair_and_global_flip(seed):
    rng = np.random.default_rng(seed)
    om, mu = _rand(rng, 4, 2)
    om[1], mu[1] = -om[0], -mu[0]          # heads 0, 1: an exact +/- pair
    a = mt.multitask_loss(om, mu, supports=OVERLAP, **KW)
    flipped_om, flipped_mu = om.copy(), mu.copy()
    flipped_om[[0, 1]], flipped_mu[[0, 1]] = -om[[0, 1]], -mu[[0, 1]]
    assert mt.multitask_loss(flipped_om, flipped_mu, supports=OVERLAP, **KW) == pytest.approx(a, rel=1e-12)
    assert mt.multitask_loss(-om, -mu, supports=OVERLAP, **KW) == pytest.approx(a, rel=1e-12)


@given(st.integers(0, 2**32 - 1))
def test_task_relabelling_invariance(seed):
    rng = np.random.default_rng(seed)
    sup = ((0, 1, 2, 3), (2, 3, 4, 5), (0, 5))
    om, mu = _rand(rng, 3, 3)
    perm = rng.permutation(3)
    a = mt.multitask_loss(om, mu, supports=sup, **KW)
    b = mt.multitask_loss(om, mu[:, perm], supports=tuple(sup[k] for k in perm), **KW)
    assert b == pytest.approx(a, rel=1e-12)


def test_omega_zero_loss_is_common_mode():
    mu = np.array([[1.0, 2.0], [0.5, -1.0]])
    got = mt.multitask_loss(np.zeros((2, 6)), mu, supports=OVERLAP, **KW)
    ck = mt.task_weights(OVERLAP, **KW)
    assert got == pytest.approx(np.mean(4 + ck * mu.sum(0) ** 2))
    assert ck == pytest.approx([4 * 1.1 / 48] * 2)


def test_head_counts_and_expected_phase():
    assert mt.phase_head_counts(OVERLAP, d=6) == {"infimum": 3, "split_up": 4}
    assert mt.phase_head_counts(((0, 1), (0, 1)), d=6)["infimum"] == 2     # equal supports: rank 1
    assert [mt.expected_phase(H, 2) for H in (1, 2, 3, 4, 6)] == ["other", "other", "superposition", "split-up",
                                                                     "split-up"]
    assert mt.infimum(OVERLAP, **KW) == pytest.approx(4 * (4.4 / 48) / (1 + 4.4 / 48))


@pytest.mark.parametrize("kw,match", [
    (dict(supports=(), d=6), "at least one task"),
    (dict(supports=((0, 9),), d=6), "supports entry"),
    (dict(supports=((),), d=6), "empty support"),
])
def test_validation(kw, match):
    with pytest.raises(ValueError, match=match):
        mt.masks(kw["supports"], kw["d"])


def test_loss_shape_errors():
    with pytest.raises(ValueError, match="mu must have shape"):
        mt.multitask_loss(np.zeros((2, 6)), np.zeros((3, 2)), supports=OVERLAP, **KW)
    with pytest.raises(ValueError, match="finite"):
        mt.multitask_loss(np.full((2, 6), np.nan), np.zeros((2, 2)), supports=OVERLAP, **KW)
    with pytest.raises(ValueError, match="n_head"):
        mt.flow_rhs(0, supports=OVERLAP, **KW)
