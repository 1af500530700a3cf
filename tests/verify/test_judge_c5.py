"""C5 and C6 judges on synthetic data: the decision rules (a difference decided against 0 by its 4-SE interval, an
exponent within 4 SE + its allowance) and their one-line validation; the theory module's exact forms."""
from __future__ import annotations

import math

import pytest

from theory import sparse as ts
from verify import registry
from verify.result import ClaimResult


def _c5_row(n, s2, pto_gd, se=0.01):
    variants = ("ridge", "gd", "pto", "pto_nonorm", "lasso")
    diff = {f"{a}-{b}": 0.0 for i, a in enumerate(variants) for b in variants[i + 1:]}
    diff["gd-pto"] = -pto_gd
    diff["ridge-pto"] = -pto_gd
    diff["pto-lasso"] = 0.1
    return {"n": n, "sigma2": s2, "mean": {v: 0.5 for v in variants}, "se": {v: 0.01 for v in variants},
            "param": {}, "diff": diff, "diff_se": {k: se for k in diff}}


@pytest.mark.parametrize("delta,verdict", [(-0.2, "pass"), (0.2, "fail"), (-0.01, "inconclusive")])
def test_c5_decision_rule(delta, verdict):
    claim = registry.get("C5")
    p = claim.params_for("quick").__class__(ns=(10,), sigma2s=(0.25,), reference=(20,))
    res = ClaimResult(id="C5", profile="quick")
    claim.judge({"settings": [_c5_row(10, 0.25, delta)], "reference": []}, p, res)
    assert res.verdict == verdict, [(c.name, c.passed, c.inconclusive) for c in res.comparisons]


def test_c5_out_of_scope_rows_are_reported_not_judged():
    claim = registry.get("C5")
    p = claim.params_for("quick").__class__(ns=(40,), sigma2s=(0.0,), reference=(20,))
    res = ClaimResult(id="C5", profile="quick")
    claim.judge({"settings": [_c5_row(40, 0.0, 0.3)], "reference": []}, p, res)
    infos = [c for c in res.comparisons if c.info]
    assert len(infos) == 2 and all("outside the claimed regime" in c.name for c in infos)
    assert res.verdict == "pass"  # Lasso - PtO = -0.1 decided; PtO's loss outside the regime is shown, not judged


@pytest.mark.parametrize("bad", [{"s": 30}, {"ns": ()}, {"sigma2s": (-1.0,)}, {"reference": (30,)},
                                 {"prompts": 5}])
def test_c5_params_validation(bad):
    with pytest.raises(ValueError):
        registry.get("C5").params_for("quick").__class__(**bad)


def test_c6_judge_passes_exact_forms_and_rejects_wrong_order():
    """Data following the exact least-squares forms (d-type for ridge/GD, s-type x log d for PtO/Lasso) passes;
    ridge following the s-type form fails its d-exponent row."""
    claim = registry.get("C6")
    p = claim.params_for("quick")

    def data(ridge_as_s=False):
        mean, se = {}, {}
        for meth in ("ridge", "gd", "pto", "lasso"):
            for d in p.ds:
                for n in p.ns:
                    s_type = meth in ("pto", "lasso") or (ridge_as_s and meth == "ridge")
                    v = p.sigma2 * (p.s * math.log(d) / (n - p.s - 1) if s_type else d / (n - d - 1))
                    mean[f"{meth}/d{d}/n{n}"], se[f"{meth}/d{d}/n{n}"] = v, 0.02 * v
        return {"mean": mean, "se": se, "param": {}}

    ok = ClaimResult(id="C6", profile="quick")
    claim.judge(data(), p, ok)
    assert ok.verdict == "pass", [(c.name, c.measured, c.predicted) for c in ok.comparisons if not c.passed]
    bad = ClaimResult(id="C6", profile="quick")
    claim.judge(data(ridge_as_s=True), p, bad)
    assert [c.name for c in bad.comparisons if not c.passed] == ["ridge: exponent of R in d (10 -> 20), pooled over n"]


def test_theory_sparse_forms():
    assert ts.ols_excess_risk(d=5, n=20, sigma2=0.5) == pytest.approx(0.5 * 5 / 14)
    slope, allow = ts.predicted_n_slope("ridge", [100, 200, 400], d=10, s=2)
    assert -1.2 < slope < -1.0 and allow == pytest.approx(abs(slope + 1))
    e, a = ts.predicted_d_exponent("lasso", n=200, d1=10, d2=20, s=2)
    assert 0 < e - a == pytest.approx(0.0, abs=1e-12) or e - a >= 0
    assert ts.pto_first_step_identity(3) == 0
    with pytest.raises(ValueError, match="method must be"):
        ts.order("bayes", d=3, s=1, n=10, sigma2=0.1)
    with pytest.raises(ValueError, match="n must be"):
        ts.ols_excess_risk(d=5, n=6, sigma2=0.1)


@pytest.mark.parametrize("val,se,verdict", [(0.36, 0.01, "pass"), (0.60, 0.01, "fail"), (2.7, 2.0, "inconclusive")])
def test_c5_reference_rows(val, se, verdict):
    """Within 4 SE + 0.005 of the quoted number; a sample whose 4 SE exceeds the quoted value decides nothing."""
    claim = registry.get("C5")
    p = claim.params_for("quick").__class__(ns=(10,), sigma2s=(0.25,), reference=(20,))
    row = _c5_row(20, 0.25 / 3, -0.2)
    row["mean"] = {"gd": 0.91, "ridge": 0.81, "pto": val, "lasso": 0.19, "pto_nonorm": 1.0}
    row["se"] = {k: (se if k == "pto" else 0.001) for k in row["mean"]}
    res = ClaimResult(id="C5", profile="quick")
    claim.judge({"settings": [_c5_row(10, 0.25, -0.2)], "reference": [row]}, p, res)
    assert res.verdict == verdict
