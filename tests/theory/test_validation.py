"""The one validation module (theory.validate) and the Problem type (theory.problem): every check raises a one-line
ValueError naming the argument, and every public function of theory and numerics uses them."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from numerics import gd_predict, make_generator, mc_risk, reduced_attention_risk, sample_linear
from numerics.ode import gradient_descent, integrate_flow
from theory import validate as V
from theory.flow import flow_rhs
from theory.mean_field import mean_field_loss, optimal_mu, single_head_optimum
from theory.problem import MAX_D, MAX_L, PAPER_POINT, Problem

GOOD = {"d": 5, "L": 40, "sigma2": 0.1}
bad_problem = st.one_of(
    st.fixed_dictionaries({"d": st.integers(-5, 0), "L": st.just(40), "sigma2": st.just(0.1)}),
    st.fixed_dictionaries({"d": st.just(5), "L": st.integers(-3, 1), "sigma2": st.just(0.1)}),
    st.fixed_dictionaries({"d": st.just(5), "L": st.just(40),
                           "sigma2": st.one_of(st.floats(max_value=-1e-9), st.just(math.nan), st.just(math.inf))}),
    st.fixed_dictionaries({"d": st.just(5.5), "L": st.just(40), "sigma2": st.just(0.1)}),
)


def _one_line(exc: pytest.ExceptionInfo, *names: str):
    msg = str(exc.value)
    assert "\n" not in msg and any(n in msg for n in names), msg


@given(prob=bad_problem)
def test_theory_rejects_bad_problem(prob):
    for fn in (lambda: mean_field_loss([0.1], [1.0], **prob), lambda: optimal_mu([0.1], **prob),
               lambda: single_head_optimum(**prob), lambda: flow_rhs(2, **prob)):
        with pytest.raises(ValueError) as exc:
            fn()
        _one_line(exc, "d", "L", "sigma2")


@given(prob=bad_problem)
def test_numerics_rejects_bad_problem(prob):
    with pytest.raises(ValueError) as exc:
        reduced_attention_risk([0.1], [1.0], n_prompts=10, seed=0, **prob)
    _one_line(exc, "d", "L", "sigma2")


@pytest.mark.parametrize("omega,mu", [([math.nan], [1.0]), ([0.1, 0.2], [1.0]), ([], []), ([[0.1]], [[1.0]]),
                                      (["a"], [1.0]), ([0.1], [math.inf])])
def test_bad_heads(omega, mu):
    for fn in (mean_field_loss, lambda o, m, **k: reduced_attention_risk(o, m, n_prompts=10, seed=0, **k)):
        with pytest.raises(ValueError) as exc:
            fn(omega, mu, **GOOD)
        _one_line(exc, "omega", "mu")


def test_bad_counts_and_tensors():
    with pytest.raises(ValueError, match="n_prompts"):
        mc_risk(lambda x, y, q: y[:, 0], n_prompts=1, seed=0, **GOOD)
    with pytest.raises(ValueError, match="seed"):
        make_generator(-1)
    with pytest.raises(ValueError, match="n_head"):
        flow_rhs(0, **GOOD)
    p = sample_linear(4, d=3, L=5, sigma2=0.1, generator=make_generator(0))
    with pytest.raises(ValueError, match="xq"):
        gd_predict(p.x, p.y, p.xq[:, :2], eta=1.0)
    with pytest.raises(ValueError, match="eta"):
        gd_predict(p.x, p.y, p.xq, eta=math.nan)
    with pytest.raises(ValueError, match="x"):
        gd_predict(p.x * torch.nan, p.y, p.xq, eta=1.0)
    with pytest.raises(ValueError, match="lr"):
        gradient_descent(lambda t, y: -y, np.ones(2), lr=-1.0, steps=3)
    with pytest.raises(ValueError, match="y0"):
        integrate_flow(lambda t, y: -y, [math.nan], 1.0)


# ---------------------------------------------------------------- theory.validate itself
@pytest.mark.parametrize("value", [True, 2.5, "3", None, np.float64(3.0)])
def test_check_int_refuses_non_integers(value):
    with pytest.raises(ValueError, match="^n must be an integer") as exc:
        V.check_int("n", value)
    _one_line(exc, "n")


def test_check_int_and_float_ranges():
    assert V.check_int("n", np.int64(3), lo=1, hi=3) == 3 and type(V.check_int("n", np.int32(2))) is int
    with pytest.raises(ValueError, match=r"in \[1, 3\]"):
        V.check_int("n", 4, lo=1, hi=3)
    assert V.check_float("x", 1, lo=0.0) == 1.0
    with pytest.raises(ValueError, match="> 0"):
        V.check_float("x", 0.0, lo=0.0, lo_open=True)
    for bad in (math.nan, math.inf, True, "1", 10**400, complex(1, 0)):
        with pytest.raises(ValueError, match="^x must be a finite number"):
            V.check_float("x", bad)


@given(v=st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=1, max_size=6))
def test_check_vector_accepts_finite_lists(v):
    out = V.check_vector("omega", v)
    assert out.dtype == np.float64 and out.shape == (len(v),)
    np.testing.assert_array_equal(out, v)


@pytest.mark.parametrize("bad", [[], [[1.0]], [True], ["a"], [1 + 2j], [math.nan], "abc"])
def test_check_vector_refuses(bad):
    with pytest.raises(ValueError) as exc:
        V.check_vector("omega", bad)
    _one_line(exc, "omega")


# ---------------------------------------------------------------- Problem
def test_problem_defaults_and_paper_point():
    p = Problem(d=5, L=40, sigma2=0.1)
    assert p == PAPER_POINT and p.kind == "isotropic" and p.n_tasks == 1
    np.testing.assert_array_equal(p.cov_matrix, np.eye(5))
    assert isinstance(p.sigma2, float) and Problem(d=np.int64(3), L=5, sigma2=0).d == 3


@pytest.mark.parametrize("kwargs, name", [
    ({"d": 0}, "d"), ({"d": 2.5}, "d"), ({"d": True}, "d"), ({"d": MAX_D + 1}, "d"),
    ({"L": 1}, "L"), ({"L": MAX_L + 1}, "L"), ({"L": 40.0}, "L"),
    ({"sigma2": -1e-9}, "sigma2"), ({"sigma2": math.nan}, "sigma2"), ({"sigma2": math.inf}, "sigma2"),
    ({"sigma2": 1e13}, "sigma2"),
    ({"s": 0}, "s"), ({"s": 6}, "s"), ({"s": 2.0}, "s"),
])
def test_problem_rejects_bad_scalars(kwargs, name):
    base = {"d": 5, "L": 40, "sigma2": 0.1}
    base.update(kwargs)
    with pytest.raises(ValueError, match=rf"^{name} ") as exc:
        Problem(**base)
    _one_line(exc, name)


@pytest.mark.parametrize("cov, what", [
    (np.diag([1.0, 1.0, -1.0]), "positive definite"), (np.zeros((3, 3)), "positive definite"),
    (np.array([[1.0, 0.5, 0], [0, 1.0, 0], [0, 0, 1.0]]), "symmetric"),
    (np.full((3, 3), math.nan), "finite"), (np.eye(4), "shape"), (np.ones(3), "shape"), ("eye", "cov"),
])
def test_problem_rejects_bad_covariance(cov, what):
    with pytest.raises(ValueError, match=what) as exc:
        Problem(d=3, L=10, sigma2=0.1, cov=cov)
    _one_line(exc, "cov")


@pytest.mark.parametrize("supports, what", [
    ((), "at least one task"), (((),), "empty support"), (((0, 3),), "supports entry"), (((-1,),), "supports entry"),
    (((0, 0),), "repeats"), ((("a",),), "supports entry"), (5, "sequence"),
])
def test_problem_rejects_bad_supports(supports, what):
    with pytest.raises(ValueError, match=what) as exc:
        Problem(d=3, L=10, sigma2=0.1, supports=supports)
    _one_line(exc, "supports")


def test_problem_takes_at_most_one_model():
    with pytest.raises(ValueError, match="at most one"):
        Problem(d=3, L=10, sigma2=0.1, cov=np.eye(3), s=1)


def _rho(d, rho):
    return [[rho ** abs(i - j) for j in range(d)] for i in range(d)]


@given(d=st.integers(1, 8), L=st.integers(2, 500), s2=st.floats(0, 10), rho=st.floats(-0.9, 0.9),
       kind=st.sampled_from(["isotropic", "anisotropic", "multitask", "sparse"]), data=st.data())
def test_problem_round_trips_through_dict(d, L, s2, rho, kind, data):
    extra = {}
    if kind == "anisotropic":
        extra["cov"] = _rho(d, rho)
    elif kind == "multitask":
        extra["supports"] = data.draw(st.lists(st.sets(st.integers(0, d - 1), min_size=1), min_size=1, max_size=3))
    elif kind == "sparse":
        extra["s"] = data.draw(st.integers(1, d))
    p = Problem(d=d, L=L, sigma2=s2, **extra)
    assert p.kind == kind
    blob = p.to_dict()
    assert json.loads(json.dumps(blob)) == blob                           # JSON-safe
    assert Problem.from_dict(json.loads(json.dumps(blob))) == p
    assert hash(Problem.from_dict(blob)) == hash(p)
    if kind == "anisotropic":
        np.testing.assert_allclose(p.cov_matrix, _rho(d, rho))
    if kind == "multitask":
        assert p.n_tasks == len(extra["supports"]) and all(list(t) == sorted(t) for t in p.supports)


def test_problem_from_dict_rejects_unknown_fields_and_replace_validates():
    with pytest.raises(ValueError, match="unknown Problem field"):
        Problem.from_dict({"d": 5, "L": 40, "sigma2": 0.1, "rho": 0.5})
    assert PAPER_POINT.replace(L=80).L == 80
    with pytest.raises(ValueError, match="^L "):
        PAPER_POINT.replace(L=1)
