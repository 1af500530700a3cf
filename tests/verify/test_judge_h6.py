"""H6's judge on hand-made data of the shape ``compute`` returns: consistent numbers pass, wrong ones fail."""
from __future__ import annotations

import math

import numpy as np
import pytest

from theory.risks import dgd_risk, gd_risk
from verify.claims.h6 import H6Params
from verify.claims.h6.judge import SPEC4, judge
from tests.helpers import failed_rows, judged
from verify.result import ClaimResult

P = H6Params(Ls=(10, 40))
SE = {10: 0.004, 40: 0.0013}          # about the quick profile's SEs (100k prompts)


def _single_risk(L: int, factor: float) -> float:
    """Risk of optimally tuned DGD at L / factor: a single head needing ``factor`` times more samples."""
    d, s2 = P.problem.d, P.problem.sigma2
    return s2 + (d + 1 + d * s2) / (L / factor + d + d * s2)


def _data(change: dict | None = None) -> dict:
    """Numbers as the theory and SPEC 4 have them; ``change`` = {(stream, L): mean} overrides single entries. The
    multi-head gap is a pure omega^2 term (-0.01 at omega, /4 and /16 at omega/2, omega/4)."""
    change = change or {}
    d, s2, eta = P.problem.d, P.problem.sigma2, 2 * P.omega * P.mu
    keys = ("multi", "multi_half", "multi_quarter", "gd", "dgd", "single", "single_trained", "ridge", "multi-dgd",
            "multi_half-dgd", "multi_quarter-dgd", "gd-dgd", "single-multi", "richardson", "richardson2")
    mean = {k: np.zeros(2) for k in keys}
    se = {k: np.zeros(2) for k in mean}
    raw_se = {k: np.zeros(2) for k in ("multi", "multi_half", "multi_quarter", "gd", "dgd", "single",
                                       "single_trained", "ridge")}
    for i, L in enumerate(P.Ls):
        row = {"gd": gd_risk(d=d, L=L, sigma2=s2, eta=eta), "dgd": dgd_risk(d=d, L=L, sigma2=s2, eta=eta),
               "multi": SPEC4[L]["multi"], "single_trained": SPEC4[L]["single"], "ridge": SPEC4[L]["ridge"],
               "single": _single_risk(L, 2.5)}
        row["multi-dgd"], row["multi_half-dgd"], row["multi_quarter-dgd"] = -0.01, -0.0025, -0.000625
        row["multi_half"], row["multi_quarter"] = row["dgd"] - 0.0025, row["dgd"] - 0.000625
        row["gd-dgd"] = row["gd"] - row["dgd"]
        row["single-multi"] = row["single"] - row["multi"]
        row["richardson"] = (4 * row["multi_half-dgd"] - row["multi-dgd"]) / 3
        row["richardson2"] = (4 * row["multi_quarter-dgd"] - row["multi_half-dgd"]) / 3
        for k, v in row.items():
            mean[k][i] = change.get((k, L), v)
            se[k][i] = SE[L] / 10 if "-" in k or "richardson" in k else SE[L]
        for k in raw_se:
            raw_se[k][i] = 2 * SE[L]
    return {"Ls": np.array(P.Ls), "mean": mean, "se": se, "raw_se": raw_se, "factor_e_identity": True,
            "n_prompts": 100_000}


def _judge(data: dict) -> ClaimResult:
    return judged(judge, data, P, "H6")


def _failed(result: ClaimResult) -> set[str]:
    return set(failed_rows(result))


def test_consistent_numbers_pass():
    result = _judge(_data())
    assert result.verdict == "pass", _failed(result)
    assert len(result.comparisons) == 2 * 12 + 1
    factor = result.metrics["single head: effective-sample factor L/L_eff, L=40"]
    assert abs(factor - 2.5) < 1e-9


def test_wrong_gd_risk_fails_its_row():
    result = _judge(_data({("gd", 10): gd_risk(d=5, L=10, sigma2=0.1, eta=2 * 0.13 * 3.45) + 0.05}))
    assert result.verdict == "fail"
    assert _failed(result) == {"GD risk, L=10: Monte Carlo vs exact"}


def test_single_head_no_worse_fails():
    """A single head as good as the multi-head: the gap row and the effective-sample factor fail."""
    data = _data({("single", 40): SPEC4[40]["multi"], ("single-multi", 40): 0.0})
    result = _judge(data)
    assert {"single head - multi-head, L=40", "single head: effective-sample factor L/L_eff, L=40"} <= _failed(result)


def test_multi_not_converging_to_dgd_fails():
    """A multi-head whose gap to DGD does not vanish as omega -> 0 (a constant 0.01 offset at every omega)."""
    data = _data({("richardson", 40): 0.01, ("richardson2", 40): 0.0101})
    assert _failed(_judge(data)) == {"multi-head - DGD extrapolated to omega -> 0 at fixed eta, L=40"}


def test_wrong_gd_dgd_difference_fails():
    d, s2, eta = 5, 0.1, 2 * 0.13 * 3.45
    good = gd_risk(d=d, L=10, sigma2=s2, eta=eta) - dgd_risk(d=d, L=10, sigma2=s2, eta=eta)
    assert _failed(_judge(_data({("gd-dgd", 10): good - 0.005}))) == {"GD - DGD, L=10: paired Monte Carlo vs exact"}


def test_factor_row_predicts_e_and_checks_above_one():
    result = _judge(_data())
    row = next(c for c in result.comparisons if c.name == "single head: effective-sample factor L/L_eff, L=10")
    assert row.predicted == pytest.approx(math.e) and row.tolerance == pytest.approx(math.e - 1)


def test_false_identity_fails():
    data = _data()
    data["factor_e_identity"] = False
    assert _failed(_judge(data)) == {"mean-field single-head optimum at L = mean-field multi-head infimum at L/e"}
