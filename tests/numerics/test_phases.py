"""numerics.phases: the head-allocation classifier, supports parsing, and the batched flow integrator."""
from __future__ import annotations

from functools import partial

import numpy as np
import pytest
from hypothesis import given, strategies as st

from numerics import phases as ph
from numerics.multitask_flow import integrate_starts, random_starts

OVERLAP = ((0, 1, 2, 3), (2, 3, 4, 5))
W, M = 0.13, 3.2


def split_up():
    m1 = np.array([1, 1, 1, 1, 0, 0.0]); m2 = np.array([0, 0, 1, 1, 1, 1.0])
    om = np.stack([W * m1, -W * m1, W * m2, -W * m2])
    mu = np.array([[M, 0], [-M, 0], [0, M], [0, -M]])
    return om, mu


def superposition():
    # SPEC 4's H = 3 picture: one shared head positive on all coordinates feeding both outputs, one negative per task
    om = np.array([[W] * 6, [-W, -W, -W, -W, W, W], [W, W, -W, -W, -W, -W]])
    mu = np.array([[M, M], [-M, 0], [0, -M]])
    return om, mu


def test_canonical_patterns():
    assert ph.classify(*split_up(), OVERLAP) == "split-up"
    assert ph.classify(*superposition(), OVERLAP) == "superposition"
    om, mu = split_up()
    mu[:, 0] = np.abs(mu[:, 0])                                    # task 1 not zero-sum
    assert ph.classify(om, mu, OVERLAP) == "other"
    om, mu = split_up()
    om[0, 4:] = W                                                  # KQ leaks off task 1's support
    assert ph.classify(om, mu, OVERLAP) == "other"
    om, mu = split_up()
    assert ph.classify(om * 0, mu, OVERLAP) == "other"             # no head serves anything


@given(st.integers(0, 2**32 - 1), st.sampled_from(["split", "super"]), st.integers(0, 3))
def test_invariant_to_head_order_and_dummies(seed, kind, n_dummy):
    rng = np.random.default_rng(seed)
    om, mu = split_up() if kind == "split" else superposition()
    om = om + rng.normal(scale=0.005, size=om.shape)
    mu = mu + rng.normal(scale=0.05, size=mu.shape)
    om = np.vstack([om, rng.normal(scale=1e-4, size=(n_dummy, 6))])
    mu = np.vstack([mu, rng.normal(scale=1e-2, size=(n_dummy, 2))])
    want = ph.classify(om, mu, OVERLAP)
    perm = rng.permutation(om.shape[0])
    assert ph.classify(om[perm], mu[perm], OVERLAP) == want
    assert want == ("split-up" if kind == "split" else "superposition")


def test_task_relabelling():
    om, mu = superposition()
    assert ph.classify(om, mu[:, ::-1], OVERLAP[::-1]) == "superposition"


def test_table_and_many():
    om, mu = split_up()
    t = ph.head_task_table(om, mu, OVERLAP)
    assert t["serves"].sum() == 4 and np.all(t["zero_sum"] == 0)
    assert ph.classify_many(np.stack([om, om]), np.stack([mu, mu]), OVERLAP) == ["split-up"] * 2
    assert ph.fractions(["split-up", "other"]) == {"split-up": 0.5, "superposition": 0.0, "other": 0.5}


def test_from_circuits():
    E, H, d, N = 2, 3, 4, 2
    rng = np.random.default_rng(0)
    kq, ov = rng.normal(size=(E, H, d + N, d + N)), rng.normal(size=(E, H, d + N, N))
    om, mu = ph.from_circuits(kq, ov, d)
    assert om.shape == (E, H, d) and mu.shape == (E, H, N)
    assert om[1, 2, 3] == kq[1, 2, 3, 3] and mu[0, 1, 1] == ov[0, 1, d + 1, 1]


@pytest.mark.parametrize("args,match", [
    ((np.zeros((2, 6)), np.zeros((3, 2)), OVERLAP), "same H"),
    ((np.zeros((2, 6)), np.zeros((2, 2)), OVERLAP[:1]), "one set per task"),
    ((np.zeros((2, 6)), np.zeros((2, 2)), ((0, 7), (1,))), "task 1"),
    ((np.full((2, 6), np.nan), np.zeros((2, 2)), OVERLAP), "finite"),
])
def test_classifier_validation(args, match):
    with pytest.raises(ValueError, match=match):
        ph.classify(*args)


def test_threshold_validation():
    with pytest.raises(ValueError, match="serve threshold"):
        ph.classify(*split_up(), OVERLAP, serve=-1)


@pytest.mark.parametrize("text,want", [("1-4,3-6", OVERLAP), ("1-3,4-6", ((0, 1, 2), (3, 4, 5))),
                                       ("1-2+5-6", ((0, 1, 4, 5),)), ("3", ((2,),))])
def test_parse_supports(text, want):
    assert ph.parse_supports(text, d=6) == want
    assert ph.parse_supports(ph.format_supports(want), d=6) == want


@pytest.mark.parametrize("text,match", [("", "at least one task"), ("0-3", "outside"), ("1-7", "outside"),
                                        ("4-2", "empty range"), ("1-3+2", "repeats"), ("1-4,,3-6", "task 2"),
                                        ("a-b", "1-based ranges")])
def test_parse_supports_errors(text, match):
    with pytest.raises(ValueError, match=match):
        ph.parse_supports(text, d=6)


def test_integrator_padding_is_exact():
    """A model padded with frozen zero heads follows the same trajectory as the unpadded one."""
    from theory import multitask as mt

    m = mt.masks(OVERLAP, 6)
    field = partial(mt.flow_field, masks_=m, ck=m.sum(1) * 1.1 / 48)
    om0, mu0, hs = random_starts([2, 4], 1, d=6, n_task=2, scale=0.05, rng=np.random.default_rng(0))
    both = integrate_starts(field, om0, mu0, hs, t_out=[5.0])
    alone = integrate_starts(field, om0[:1, :2], mu0[:1, :2], hs[:1], t_out=[5.0])
    np.testing.assert_allclose(both.model(0, 0)[0], alone.model(0, 0)[0], rtol=1e-4, atol=1e-8)
    assert np.all(both.omega[0, 0, 2:] == 0)
    with pytest.raises(ValueError, match="t_out"):
        integrate_starts(field, om0, mu0, hs, t_out=[0.0])
