"""Verdicts follow from the rows: fail beats inconclusive beats pass; info rows never count."""
from __future__ import annotations

import math

import pytest

from verify.result import ClaimResult, decided, holds, reported, result_from_json, within


def _result(*rows):
    r = ClaimResult(id="C99", profile="quick")
    r.add(*rows)
    return r


def test_verdict_rules():
    ok, bad = holds("a", True, "x"), holds("b", False, "x")
    unsure = decided("c", 0.5, 0.3, 0.7, 0.6, "Wilson interval vs 0.6")
    assert unsure.inconclusive and not unsure.passed
    assert _result(ok).verdict == "pass"
    assert _result(ok, bad).verdict == "fail"
    assert _result(ok, unsure).verdict == "inconclusive"
    assert _result(unsure, bad).verdict == "fail"
    assert _result(reported("i", 1.0, "x")).verdict == "error"          # no checked row
    r = _result(ok)
    r.error = "boom"
    assert r.verdict == "error"


@pytest.mark.parametrize("lo,hi,above,expect", [
    (0.7, 0.9, True, "pass"), (0.1, 0.5, True, "fail"), (0.5, 0.7, True, "inconclusive"),
    (0.1, 0.5, False, "pass"), (0.7, 0.9, False, "fail"), (0.5, 0.7, False, "inconclusive"),
])
def test_decided_is_three_way(lo, hi, above, expect):
    row = decided("r", (lo + hi) / 2, lo, hi, 0.6, "how", above=above)
    assert _result(row).verdict == expect


def test_decided_with_nan_fails():
    assert _result(decided("r", math.nan, 0.0, 1.0, 0.5, "how")).verdict == "fail"


def test_counts_separate_symbolic_and_empirical_rows():
    r = _result(holds("s", True, "x"), within("m", 1.0, 1.0, 0.1, "x"), reported("i", 2.0, "x"))
    n = r.counts()
    assert (n["checked"], n["symbolic"], n["empirical"], n["passed"]) == (2, 1, 1, 2)


def test_json_round_trip_keeps_inconclusive():
    r = _result(decided("c", 0.5, 0.3, 0.7, 0.6, "how"), within("m", 1.0, 1.5, 0.1, "x"))
    back = result_from_json(r.to_json())
    assert [c.inconclusive for c in back.comparisons] == [True, False] and back.verdict == r.verdict == "fail"
