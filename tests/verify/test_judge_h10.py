"""H10's judge on hand-made data: canonical split-up / superposition models, the Omega = 0 Monte Carlo, the
three-way phase rows (agree -> pass, disagree -> fail, unsettled -> inconclusive), its mutants, and Params errors."""
from __future__ import annotations

import numpy as np
import pytest

from theory import multitask as mt
from verify.claims.h10 import H10Params, plan_entry
from verify.claims.h10.judge import agreement_row, judge, mutant_patches
from verify.params import ParamError
from verify.result import ClaimResult

P = H10Params(theory_supports=("1-4,3-6",), theory_heads=(3, 4), train_plan=("1-4,3-6|3,4",))
SUP = ((0, 1, 2, 3), (2, 3, 4, 5))
W, M = 0.13, 3.2


def split_up():
    m1 = np.array([1, 1, 1, 1, 0, 0.0]); m2 = np.array([0, 0, 1, 1, 1, 1.0])
    return np.stack([W * m1, -W * m1, W * m2, -W * m2]), np.array([[M, 0], [-M, 0], [0, M], [0, -M]])


def superposition():
    om = np.array([[W] * 6, [-W, -W, -W, -W, W, W], [W, W, -W, -W, -W, -W]])
    return om, np.array([[M, M], [-M, 0], [0, -M]])


def other(H):
    return np.full((H, 6), W), np.full((H, 2), M)         # nothing zero-sum


def _pad(om, mu, H=4):
    o, m = np.zeros((H, 6)), np.zeros((H, 2))
    o[:len(om)], m[:len(mu)] = om, mu
    return o, m


def data(flow4=split_up, trained4=split_up, trained3=superposition, n=4, mc_shift=0.0):
    models = [(3, superposition()), (4, flow4())] if callable(flow4) else []
    om = np.stack([_pad(*mdl)[0] for H, mdl in models for _ in range(n)])
    mu = np.stack([_pad(*mdl)[1] for H, mdl in models for _ in range(n)])
    heads = np.repeat([3, 4], n)
    ck = mt.task_weights(SUP, d=6, L=48, sigma2=0.1)
    tr = {}
    for H, fn in ((3, trained3), (4, trained4)):
        o, m = fn() if fn in (split_up, superposition) else fn(H)
        tr[f"1-4,3-6|{H}"] = {"omega": np.stack([o] * n), "mu": np.stack([m] * n),
                              "final_loss": np.full(n, 0.42), "final_loss_se": np.full(n, 0.003),
                              "seeds": list(range(n)), "steps": 100}
    return {"symbolic": {"identities": {"a": True}, "flow_rel_err": 1e-16},
            "mc": {"supports": [list(s) for s in SUP], "mean": ck + mc_shift, "se": np.full(2, 4e-4), "n": 200_000},
            "flow": {"1-4,3-6": {"omega": np.stack([om, om]), "mu": np.stack([mu, mu]), "heads": heads,
                                 "t": np.array([100.0, 200.0]), "loss": np.full((2, 2 * n), 0.34)}},
            "trained": tr}


def run(d, p=P):
    res = ClaimResult(id="H10", profile="smoke")
    judge(d, p, res)
    return res


def test_consistent_data_passes():
    res = run(data())
    assert res.verdict == "pass", [(c.name, c.how) for c in res.comparisons if not c.passed and not c.info]


def test_trained_disagreement_fails_and_unsettled_is_inconclusive():
    res = run(data(trained4=superposition))
    assert res.verdict == "fail"
    res = run(data(trained4=other))
    assert res.verdict == "inconclusive"


def test_flow_disagreeing_with_spec_fails():
    res = run(data(flow4=lambda: _pad(*superposition())))
    bad = [c.name for c in res.comparisons if not c.info and not c.passed and not c.inconclusive]
    assert any(n.startswith("flow 1-4,3-6, H=4") for n in bad)


def test_monte_carlo_row_fails_off_by_5_se():
    res = run(data(mc_shift=5 * 4e-4))
    assert res.verdict == "fail"


@pytest.mark.parametrize("name", list(mutant_patches()))
def test_mutants_rejected_on_consistent_data(name):
    d = data()
    base = run(d)
    _, patch, *_ = mutant_patches()[name]
    res = ClaimResult(id="H10", profile="smoke")
    with patch():
        judge(d, P, res)
    assert res.verdict == "fail" and base.verdict == "pass"


def test_agreement_row_rule():
    assert agreement_row("x", ["split-up"] * 4, "split-up", "", "trained").passed
    r = agreement_row("x", ["superposition"] * 4, "split-up", "", "trained")
    assert not r.passed and not r.inconclusive
    r = agreement_row("x", ["other"] * 4, "split-up", "", "trained")
    assert r.inconclusive


@pytest.mark.parametrize("kw,match", [
    (dict(theory_supports=("1-9",)), "outside"),
    (dict(train_plan=("1-4,3-6",)), "supports\\|H"),
    (dict(train_plan=("1-4,3-6|0",)), "head counts"),
    (dict(n_start=0), "n_start"),
    (dict(init_scale=2.0), "init_scale"),
])
def test_params_errors(kw, match):
    with pytest.raises(ParamError, match=match):
        H10Params(**kw)


def test_plan_entry():
    assert plan_entry("1-3,4-6|2,4", 6) == (((0, 1, 2), (3, 4, 5)), (2, 4))
