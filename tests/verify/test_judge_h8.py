"""H8's judge on hand-made risk curves of the shape ``compute`` returns: softmax members on debiased GD at their
own step (and near SPEC 4's table) with a linear model that degrades and a normalised one that improves pass;
a softmax ensemble 0.1 above DGD, or a linear model that does not degrade, fails the right row."""
from __future__ import annotations

import numpy as np

from theory.risks import dgd_risk
from verify.claims.h8 import H8Params
from verify.claims.h8.judge import SPEC4_LENGTH, judge
from verify.result import ClaimResult

LS = (10, 20, 40, 60, 80, 100)
P = H8Params(L_eval=LS)
SE = 0.001
dgd_risk(d=5, L=40, sigma2=0.1, eta=0.88)  # lambdify the closed form once, at collection (a one-off ~1 s)


def _softmax(H: int, etas=(0.87, 0.88, 0.89), shift: float = 0.0) -> dict:
    """Members at their own DGD risk (H >= 2, all split) or at SPEC 4's table (H = 1, no split)."""
    E = len(etas)
    if H == 1:
        mean = np.tile(np.array(SPEC4_LENGTH[1], float), (E, 1))
    else:
        mean = np.array([[dgd_risk(d=5, L=L, sigma2=0.1, eta=e) for L in LS] for e in etas])
    return {"mean": mean + shift, "se": np.full((E, len(LS)), SE), "eta": np.array(etas, float),
            "split": np.full(E, H >= 2)}


def _linear(slope: float) -> dict:
    """Risk linear in L through 0.5 at L=40 with ``slope`` per unit length."""
    mean = 0.5 + slope * (np.array(LS, float) - 40)
    return {"mean": np.tile(mean, (2, 1)), "se": np.full((2, len(LS)), SE), "eta": np.zeros(2),
            "split": np.zeros(2, bool)}


def _data(**over) -> dict:
    models = {f"softmax H={H}": _softmax(H) for H in (1, 2, 4, 8)}
    models.update({"linear": _linear(0.004), "linear-normalised": _linear(-0.002)})
    models.update(over)
    return {"L_eval": np.array(LS), "models": models}


def _judge(data: dict) -> ClaimResult:
    result = ClaimResult(id="H8", profile="quick")
    judge(data, P, result)
    return result


def _failed(result: ClaimResult) -> list[str]:
    return [c.name.split(" (")[0] for c in result.comparisons if not c.passed]


def test_dgd_following_softmax_and_the_right_linear_trends_pass():
    result = _judge(_data())
    assert result.verdict == "pass", _failed(result)
    assert len(result.comparisons) == 9


def test_a_softmax_ensemble_off_dgd_fails_its_rows():
    failed = _failed(_judge(_data(**{"softmax H=4": _softmax(4, shift=0.1)})))
    assert failed == ["softmax H=4: max over L of |risk - DGD(L; eta_eff)| - 4 SE",
                      "softmax H=4: max over L of |risk - SPEC 4 table| - 4 SE"]


def test_a_linear_model_that_does_not_degrade_fails():
    assert _failed(_judge(_data(linear=_linear(0.0)))) == ["linear: risk(L=100) - risk(L=40)"]
    assert _failed(_judge(_data(**{"linear-normalised": _linear(0.001)}))) == [
        "linear-normalised: risk(L=100) - risk(L=40)"]
