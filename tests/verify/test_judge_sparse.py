"""Judges of C1–C4 on small synthetic data: the intended verdicts, and each claim rejects its mutants."""
import numpy as np
import pytest

from theory.sparse_ols import ols_excess_risk
from verify import registry
from verify.result import ClaimResult


def _judge(cid, data, profile="quick"):
    claim = registry.get(cid)
    res = ClaimResult(id=cid, profile=profile)
    claim.evaluate(data, claim.params_for(profile), res, None)
    assert res.error is None, res.error
    return res


def _c2(rise_layer1, rise_later, se=0.005):
    rise = np.array([[rise_layer1, rise_later, rise_later]] * 2)  # (E=2, nL=3, H=4)
    return {"rise": rise, "rise_se": np.full_like(rise, se), "risk": np.array([0.3, 0.3]),
            "risk_se": np.array([0.01, 0.01]), "n_prompts": 8192}


def test_c2_pattern_passes_and_rejects_every_mutant():
    res = _judge("C2", _c2([0.4, 0.3, 0.25, 0.2], [0.5, 0.01, 0.0, 0.003]))
    assert res.verdict == "pass"
    assert all(p.rejected for p in res.power)


@pytest.mark.parametrize("layer1, later", [([0.4, 0.0, 0.0, 0.001], [0.5, 0.01, 0.0, 0.0]),
                                           ([0.4, 0.3, 0.25, 0.2], [0.5, 0.4, 0.0, 0.0])])
def test_c2_other_patterns_fail(layer1, later):
    assert _judge("C2", _c2(layer1, later)).verdict == "fail"


def _c3(pruned, single, se=0.002):
    E = 2
    return {"best": np.zeros((E, 3), dtype=int), "n_prompts": 8192, "n_select": 2048,
            "full": np.full(E, 0.2), "full_se": np.full(E, 0.01), "pruned": np.full(E, 0.2 + pruned),
            "pruned_se": np.full(E, 0.01), "single": np.full(E, 0.2 + single), "single_se": np.full(E, 0.01),
            "pruned_diff": np.full(E, pruned), "pruned_diff_se": np.full(E, se), "single_diff": np.full(E, single),
            "single_diff_se": np.full(E, se)}


def test_c3_verdicts_and_power():
    res = _judge("C3", _c3(0.002, 0.3))
    assert res.verdict == "pass" and all(p.rejected for p in res.power)
    assert _judge("C3", _c3(0.2, 0.3)).verdict == "fail"
    assert _judge("C3", _c3(0.05, 0.3, se=0.02)).verdict in ("inconclusive", "fail")


def _c4(probe):
    pto, gd = np.array([1.0, 0.3, 0.12, 0.1]), np.array([1.0, 0.5, 0.35, 0.27])
    P = np.array([probe, probe])
    return {"probe": P, "probe_se": np.full_like(P, 0.002), "model": np.array([0.2, 0.2]),
            "model_se": np.array([0.004, 0.004]), "pto": pto, "gd": gd, "pto_se": np.full(4, 0.004),
            "gd_se": np.full(4, 0.004), "pto_eta": np.array([np.nan, 1, 1, 0.5]), "gd_eta": np.array([np.nan, .7, .7, .5]),
            "n_prompts": 8192, "n_fit": 4096}


def test_c4_pto_shaped_curve_passes_and_rejects_its_mutants():
    res = _judge("C4", _c4([1.0, 0.6, 0.24, 0.2]))  # twice PtO's risk: PtO's shape at another level
    assert res.verdict == "pass" and all(p.rejected for p in res.power)
    assert _judge("C4", _c4([1.0, 0.5, 0.35, 0.27])).verdict == "fail"  # GD-shaped
    assert _judge("C4", _c4([1.0, 1.0, 0.99, 0.5])).verdict == "fail"  # does not fall at every depth


def test_c1_ols_rows_and_trained_rows():
    ns = np.array([5, 10, 15, 20])
    exact = np.array([ols_excess_risk(d=10, n=int(n), sigma2=0.25) for n in ns])
    se = np.full(4, 0.004)
    meth = {m: {"risk": np.array([0.5, 0.4, 0.3, 0.2]), "se": se, "param": np.full(4, 0.1)}
            for m in ("ridge", "gd", "pto", "lasso")}
    meth["ols"] = {"risk": np.where(np.isfinite(exact), exact, np.inf), "se": se, "param": np.full(4, np.nan)}
    data = {"ns": ns, "model": np.array([[0.6, 0.4, 0.2, 0.1]] * 2), "model_se": np.full((2, 4), 0.004),
            "methods": meth, "n_prompts": 8192}
    res = _judge("C1", data)
    assert res.verdict == "pass" and all(p.rejected for p in res.power)
    data["model"] = np.array([[0.6, 0.4, 0.3, 0.3]] * 2)  # worse than ridge and GD at n = L
    assert _judge("C1", data).verdict == "fail"
