"""Every public function rejects bad input with a one-line ValueError naming the argument."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from numerics import gd_predict, make_generator, mc_risk, reduced_attention_risk, sample_linear
from numerics.ode import gradient_descent, integrate_flow
from theory.mean_field import approx_loss, optimal_mu, single_head_optimum
from theory.flow import flow_rhs

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
    for fn in (lambda: approx_loss([0.1], [1.0], **prob), lambda: optimal_mu([0.1], **prob),
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
    for fn in (approx_loss, lambda o, m, **k: reduced_attention_risk(o, m, n_prompts=10, seed=0, **k)):
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
