"""H9 judge on small synthetic data: consistent data passes, inconsistent data fails, and the named mutants are
rejected by the same judge on the same data (the stored quick fixture is tested in test_power_controls.py)."""
from __future__ import annotations

import numpy as np
import pytest

from theory import preconditioned
from verify.claims.h9 import MUTANTS, PARAMS
from verify.claims.h9.compute import GAMMAS, VERSIONS, covariances, gammas
from verify.claims.h9.judge import SYMBOLIC, judge
from verify.power import run_power
from verify.result import ClaimResult

P = PARAMS["quick"]
SE_RISK, SE_HAT = 0.002, 0.002


def synthetic(seed: int = 0, *, hat_shift: float = 0.0, risk_shift: float = 0.0, trained_target: str = "centred",
              bad_members: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    L, s2, d = P.problem.L, P.problem.sigma2, P.problem.d
    covs = {}
    for name, S in covariances(P).items():
        mc = {"sigma": S, "n_prompts": 80_000, "ridge": np.array([0.115, 0.001])}
        for v in VERSIONS:
            c = v == "centred"
            mats = gammas(S, P, v)
            exact = np.array([preconditioned.preconditioned_gd_risk(mats[k], S, L=L, sigma2=s2, centred=c)
                              for k in GAMMAS])
            star = preconditioned.preconditioned_gd_optimum(S, L=L, sigma2=s2, centred=c)
            mc[v] = {"gammas": np.stack([mats[k] for k in GAMMAS]),
                     "risk": exact + risk_shift + SE_RISK * rng.uniform(-1, 1, len(GAMMAS)),
                     "risk_se": np.full(len(GAMMAS), SE_RISK),
                     "gamma_hat": star + hat_shift + SE_HAT * rng.uniform(-1, 1, (d, d)),
                     "gamma_hat_se": np.full((d, d), SE_HAT), "n_groups": 40}
        target = {"centred": preconditioned.preconditioned_gd_optimum(S, L=L, sigma2=s2, centred=True),
                  "sigma_inv": np.linalg.inv(S)}[trained_target]
        E, H = 4, 4
        mu = np.tile([2.0, -2.0, 2.0, -2.0], (E, 1))
        c = np.tile([0.125, -0.125, 0.125, -0.125], (E, 1))
        kq = c[..., None, None] * target + 0.005 * rng.standard_normal((E, H, d, d))
        ov = np.zeros((E, H, d + 1))
        ov[..., d] = mu
        for e in range(bad_members):  # a member using another circuit: OV reads x, not y
            ov[e, :, :d] = 10.0
        G = np.einsum("eh,ehij->eij", mu, kq)
        T = 12
        covs[name] = {"mc": mc, "trained": {
            "kq": kq, "mu": mu, "ov": ov, "d": d, "seeds": list(range(E)), "steps": 3000,
            "final_loss": np.full(E, 0.25), "final_loss_se": np.full(E, 0.004),
            "trajectory": {"step": np.linspace(0, 3000, T), "gamma": np.repeat(G[None], T, 0),
                           "dummy": np.zeros((T, E, H), bool), "loss": np.full((T, E), 0.25)}}}
    return {"symbolic": {k: True for k in SYMBOLIC}, "covs": covs}


def judged(data) -> ClaimResult:
    res = ClaimResult(id="H9", profile="quick")
    judge(data, P, res)
    return res


def test_consistent_data_passes():
    res = judged(synthetic())
    bad = [c.name for c in res.comparisons if not c.info and not c.passed]
    assert res.verdict == "pass", bad
    assert res.counts()["symbolic"] == len(SYMBOLIC) and res.counts()["empirical"] >= 20


@pytest.mark.parametrize("kw, row", [({"hat_shift": 10 * SE_HAT}, "Monte Carlo minimiser"),
                                      ({"risk_shift": 10 * SE_RISK}, "Monte Carlo vs exact"),
                                      ({"trained_target": "sigma_inv"}, "closer to Γ*_centred than to Σ⁻¹")])
def test_inconsistent_data_fails(kw, row):
    res = judged(synthetic(**kw))
    assert res.verdict == "fail"
    assert any(row in c.name and not c.passed and not c.inconclusive for c in res.comparisons), row


def test_a_failed_symbolic_identity_fails():
    data = synthetic()
    data["symbolic"]["completed_square_centred"] = False
    assert judged(data).verdict == "fail"


def test_members_without_the_pattern_are_left_out_and_counted():
    res = judged(synthetic(bad_members=1))
    counts = [c for c in res.comparisons if "members with the reduced pattern" in c.name]
    assert counts and all(c.measured == 3 for c in counts)
    assert res.verdict == "pass"
    res = judged(synthetic(bad_members=3))   # one pattern member left: the seed spread is undefined
    assert res.verdict == "inconclusive"


def test_every_mutant_is_rejected_on_consistent_data():
    data = synthetic()
    base = judged(data)
    rows = run_power(MUTANTS, judge, data, P, base)
    missed = [f"{r.mutant}: {r.by}" for r in rows if not r.rejected]
    assert not missed, missed


def test_per_head_row_is_checked_only_when_asked():
    name = "active heads' Ω_h fit c_h Γ*_centred better than c_h I"
    for flag in (False, True):
        res = ClaimResult(id="H9", profile="quick")
        judge(synthetic(), P.replace(check_per_head=flag), res)
        rows = [c for c in res.comparisons if name in c.name]
        assert rows and all(c.info != flag for c in rows) and all(c.passed for c in rows)
