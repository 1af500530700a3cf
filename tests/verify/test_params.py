"""Typed claim parameters: coercion refuses what does not fit, overrides reach nested fields, nothing mutates."""
from __future__ import annotations

import math
from dataclasses import dataclass

import pytest
from hypothesis import given, strategies as st

from theory.problem import PAPER_POINT, Problem
from verify.params import ParamError, Params, TrainingProtocol, apply_overrides, coerce, resolve


@dataclass(frozen=True)
class P(Params):
    problem: Problem = PAPER_POINT
    n_prompts: int = 100
    eta: float = 0.5
    Ls: tuple[int, ...] = (10, 20)
    mode: str = "a"
    flag: bool = False
    training: TrainingProtocol = TrainingProtocol(steps=10, seeds={"1": 2})

    def check(self):
        self.positive("n_prompts")


@pytest.mark.parametrize("key,value", [
    ("n_prompts", -5), ("n_prompts", 0), ("n_prompts", "abc"), ("n_prompts", True), ("n_prompts", 2.0),
    ("n_prompts", 10**12), ("d", 0), ("d", 5.7), ("d", "5"), ("L", 1), ("sigma2", -1.0), ("eta", math.nan),
    ("eta", "0.1"), ("eta", True), ("Ls", ()), ("Ls", (10, 2.5)), ("flag", 1), ("mode", 3), ("steps", 0),
    ("training.lr", -1.0), ("seeds", {"1": 0}), ("problem.cov", [[1, 2], [2, 1]]),
])
def test_bad_values_are_refused_with_the_name(key, value):
    with pytest.raises(ParamError) as exc:
        apply_overrides(P(), {key: value})
    assert "\n" not in str(exc.value) and key.split(".")[-1] in str(exc.value).replace("training.", "")


def test_overrides_reach_nested_fields_and_leave_the_original_alone():
    p = P()
    q = apply_overrides(p, {"L": 80, "training.steps": 7, "Ls": [1, 2, 3], "eta": 1})
    assert (q.problem.L, q.training.steps, q.Ls, q.eta) == (80, 7, (1, 2, 3), 1.0)
    assert isinstance(q.eta, float) and p == P() and p.problem.L == 40


def test_resolution_of_bare_and_dotted_names():
    p = P()
    assert resolve(p, "L") == "problem.L" and resolve(p, "problem.L") == "problem.L"
    assert resolve(p, "steps") == "training.steps" and resolve(p, "nope") is None


def test_an_ambiguous_bare_name_is_refused():
    @dataclass(frozen=True)
    class Two(Params):
        a: Problem = PAPER_POINT
        b: Problem = PAPER_POINT

    with pytest.raises(ParamError, match="ambiguous"):
        resolve(Two(), "d")


def test_flat_lists_every_leaf():
    flat = P().flat()
    assert flat["problem.d"] == 5 and flat["training.steps"] == 10 and flat["Ls"] == [10, 20]


@given(st.integers(min_value=-(2**70), max_value=2**70))
def test_int_coercion_accepts_exactly_the_integers(n):
    assert coerce("n", n, int) == n
    with pytest.raises(ParamError):
        coerce("n", float(n) + 0.5, int)


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_float_coercion_accepts_exactly_the_finite_numbers(x):
    if math.isfinite(x):
        assert coerce("x", x, float) == x
    else:
        with pytest.raises(ParamError):
            coerce("x", x, float)
