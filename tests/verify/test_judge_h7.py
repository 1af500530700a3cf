"""H7's judge on hand-made data of the shape ``compute`` returns: consistent numbers pass, wrong ones fail."""
from __future__ import annotations

import numpy as np

from theory.bayes import bayes_risk_proportional
from verify.claims.h7 import H7Params
from verify.claims.h7.judge import LABELS, judge
from tests.helpers import failed_rows, judged
from verify.result import ClaimResult

P = H7Params(n_grid=5)
#: r(1/8, 1/10) to 30 digits, rounded to float64 (the value compute's evalf gives)
R_EXACT = 8.599409170531077
#: proportional-limit Bayes risk at xi = 1/8, sigma2 = 0.1 (SPEC 3.4 closed form)
B_INF = bayes_risk_proportional(xi=0.125, sigma2=0.1)


def _grid() -> dict:
    """A hand-made 5 x 5 grid with r in (1, 1 + 1/sigma2), decreasing in both xi and sigma2."""
    xs = np.geomspace(0.01, 10, 5)
    ss = np.geomspace(0.01, 10, 5)
    ratio = 1 + (1 / ss[None, :]) / (1 + 3 * xs[:, None] * (1 + 1 / ss[None, :]))           # (5, 5)
    return {"xi": xs, "sigma2": ss, "ratio": ratio, "xi_sigma2_m": 0.9 * np.outer(xs, ss) / (1 + np.outer(xs, ss))}


def _spots(order: float = -1.0) -> np.ndarray:
    """Spots at xi = 1/8 whose Bayes gap is 0.002 d^order with 2% SE; ridge = posterior variance on average."""
    rows = []
    for d in P.spot_d:
        gap = 0.002 * d**order
        rows.append((d, 8 * d, B_INF + gap + 1e-4, 1e-3, B_INF + gap, 0.02 * gap, 1e-4, 8e-4))
    return np.array(rows)


def _data(**change) -> dict:
    data = {"identities": {k: True for k in LABELS}, **_grid(), "r_exact": R_EXACT, "spots": _spots(),
            "spot_prompts": list(P.spot_prompts)}
    data.update(change)
    return data


def _judge(data: dict) -> ClaimResult:
    return judged(judge, data, P, "H7")


def _failed(result: ClaimResult) -> set[str]:
    return set(failed_rows(result))


def test_consistent_numbers_pass():
    result = _judge(_data())
    assert result.verdict == "pass", _failed(result)
    assert len(result.comparisons) == 9 + 4 + 1 + 4 + 1 + 2
    assert abs(result.metrics["finite-size Bayes gap: slope of log(gap) vs log d (xi fixed)"] + 1) < 1e-9


def test_wrong_finite_size_order_fails():
    """A Bayes gap shrinking like d^-1/2 (with 2% SEs) is far from the claimed O(1/d)."""
    result = _judge(_data(spots=_spots(order=-0.5)))
    assert _failed(result) == {"finite-size Bayes gap: slope of log(gap) vs log d (xi fixed)"}


def test_ridge_off_posterior_variance_fails():
    spots = _spots()
    spots[1, 6] = 0.01                                        # 12 SE off
    assert _failed(_judge(_data(spots=spots))) == {"ridge MC - posterior-variance MC, d=10, L=80"}


def test_ratio_below_one_fails():
    grid = _grid()
    grid["ratio"][-1, -1] = 0.99                             # GD better than Bayes somewhere
    assert "min excess-risk ratio over the grid" in _failed(_judge(_data(ratio=grid["ratio"])))


def test_false_identity_and_wrong_evalf_fail():
    ids = {k: True for k in LABELS} | {"ratio_limit_xi_0": False}
    result = _judge(_data(identities=ids, r_exact=R_EXACT * (1 + 1e-9)))
    assert _failed(result) == {LABELS["ratio_limit_xi_0"],
                               "r at xi=0.125, sigma2=0.1 (float64 stable form vs 30-digit evalf)"}


def test_noise_dominated_gap_fails_without_error():
    spots = _spots()
    spots[-1, 4] = B_INF - 1e-4                              # MC below the limit: log(gap) undefined
    result = _judge(_data(spots=spots))
    assert result.error is None
    assert "finite-size Bayes gap: slope of log(gap) vs log d (xi fixed)" in _failed(result)
