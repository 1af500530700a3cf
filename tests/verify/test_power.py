"""The power machinery: mutants judged on the same data, rejection, effect, resolution, JSON round trip."""
from __future__ import annotations

import math

import pytest

from tests.verify import toy
from verify import power
from verify.registry import RunContext, run_claim
from verify.result import result_from_json


class Knob:
    shift = 0.0


def judge_knob(data, p, result):
    from verify.result import Z, within
    result.add(within("mean", data["mean"], Knob.shift, Z * data["se"], "4 SE", kind="monte-carlo"))


def test_mutant_id_must_name_its_claim():
    with pytest.raises(ValueError, match="CLAIM:name"):
        power.Mutant("nocolon", "x", lambda: power.patched(Knob, "shift", 1.0))


def test_patched_restores_and_refuses_unknown_names():
    with power.patched(Knob, "shift", 5.0):
        assert Knob.shift == 5.0
    assert Knob.shift == 0.0
    with pytest.raises(AttributeError, match="no attribute"):
        with power.patched(Knob, "nope", 1):
            pass


def test_large_mutant_rejected_small_one_not_with_resolution_reason(tmp_path):
    data = {"mean": 0.01, "se": 0.01}
    base = toy.registry.ClaimResult(id="C99", profile="quick") if hasattr(toy.registry, "ClaimResult") else None
    from verify.result import ClaimResult
    base = ClaimResult(id="C99", profile="quick")
    judge_knob(data, None, base)
    assert base.verdict == "pass"
    muts = [power.Mutant("C99:big", "prediction 1.0", lambda: power.patched(Knob, "shift", 1.0)),
            power.Mutant("C99:tiny", "prediction 0.001", lambda: power.patched(Knob, "shift", 0.001))]
    rows = power.run_power(muts, judge_knob, data, None, base)
    assert [r.rejected for r in rows] == [True, False]
    assert rows[0].by == "mean"
    # the predicted value is 0 in the base, so the effect is the absolute shift
    assert rows[0].effect == pytest.approx(1.0)
    assert "not rejected" in rows[1].by


def test_a_failing_base_does_not_reject_for_free():
    from verify.result import ClaimResult
    data = {"mean": 5.0, "se": 0.01}
    base = ClaimResult(id="C99", profile="quick")
    judge_knob(data, None, base)
    assert base.verdict == "fail"
    rows = power.run_power([power.Mutant("C99:m", "x", lambda: power.patched(Knob, "shift", 0.5))],
                           judge_knob, data, None, base)
    assert not rows[0].rejected


def test_scaled_multiplies_the_return_value():
    class Mod:
        @staticmethod
        def f(x):
            return 2 * x

    with power.scaled(Mod, "f", 1.5):
        assert Mod.f(2) == 6.0
    assert Mod.f(2) == 4


def test_power_rows_in_result_json_round_trip(tmp_path):
    claim = toy.toy_claim("C98")
    shifted = power.Mutant("C98:shift-1", "the mean is 1, not 0",
                           lambda: power.patched(toy, "Z", -1.0))  # a negative allowance fails every row
    claim = type(claim)(**{**claim.__dict__, "mutants": (shifted,)})
    res, _ = run_claim(claim, claim.params_for("smoke"), RunContext("smoke", tmp_path, progress=False,
                                                                    claim_id="C98"), figures=False)
    assert res.power and res.power[0].rejected
    again = result_from_json(res.to_json())
    assert again.power == res.power
    assert res.to_json()["power"][0].keys() >= {"mutant", "effect", "rejected"}
    assert math.isfinite(res.resolution)


def test_trained_cache_is_keyed_by_the_training_code(tmp_path, monkeypatch):
    from verify import trained

    src = tmp_path / "loop.py"
    src.write_text("x = 1\n")
    monkeypatch.setattr("verify.registry.source_files", lambda *mods: (str(src),))
    before = trained.training_code_version()
    src.write_text("x = 2\n")                       # a fix to the trainer
    after = trained.training_code_version()
    assert before != after
    ctx = RunContext("smoke", tmp_path, progress=False, claim_id="H1")
    assert trained.cache_root(ctx).name == after and trained.cache_root(ctx).parent.name == "trained"
