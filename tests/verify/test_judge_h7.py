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
    """A 5 x 5 (xi, sigma2) grid; the judge evaluates r and m on it from theory.bayes."""
    return {"xi": np.geomspace(0.01, 10, 5), "sigma2": np.geomspace(0.01, 10, 5)}


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
    """The judge evaluates r from theory.bayes at call time: a ratio below 1 somewhere (GD better than Bayes)
    fails the bound row (and the float64-vs-evalf row at the spot)."""
    from theory import bayes
    from verify.power import patched

    true = bayes.excess_ratio_proportional
    with patched(bayes, "excess_ratio_proportional", lambda *, xi, sigma2: true(xi=xi, sigma2=sigma2) - 0.5 / (
            1 + np.asarray(xi) * np.asarray(sigma2))):
        failed = _failed(_judge(_data()))
    assert "min excess-risk ratio over the grid" in failed


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
