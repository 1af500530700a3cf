"""H11's judge on hand-made ensembles: the seed frequency k/n is decided by its 95% Wilson interval against
``min_fraction`` — enough split seeds pass, a frequency whose interval straddles 0.9 is inconclusive, a clearly low
one fails, and a "split" single head fails the classifier check."""
from __future__ import annotations

import numpy as np

from verify.claims.h11 import H11Params
from verify.claims.h11.judge import judge, loss_levels
from verify.result import ClaimResult

P = H11Params(heads=(1, 2))
D = P.problem.d
MULTI, SINGLE = loss_levels(P.problem)


STEPS = np.arange(0, 3_001, 100)


def _ensemble(omegas: list[list[float]], losses, rise_until: int = 0) -> dict:
    """One member per entry of ``omegas`` (its heads' omega; mu_h = 1 / omega_h so that no head is dummy); the
    logged omegas are the final ones, except that the split members' second head has the first head's sign (no
    split) before step ``rise_until`` — staggered over the members so that the split frequency rises until then."""
    E, H = len(omegas), len(omegas[0])
    kq = np.zeros((E, H, D + 1, D + 1))
    ov = np.zeros((E, H, D + 1, 1))
    for e, om in enumerate(omegas):
        for h, w in enumerate(om):
            kq[e, h, :D, :D] = w * np.eye(D)
            ov[e, h, D, 0] = 1 / w
    om = np.tile(np.asarray(omegas, float), (len(STEPS), 1, 1))               # (T, E, H)
    split = [e for e in range(E) if H > 1 and np.sign(om[0, e, 0]) != np.sign(om[0, e, 1])]
    for i, e in enumerate(split):
        if rise_until:   # member i splits at (75% + 25% i / n) of rise_until: an even rise late in training
            om[STEPS < rise_until * (0.75 + 0.25 * i / len(split)), e, 1] = om[0, e, 0]
    return {"kq": kq, "ov": ov, "d": D, "seeds": list(range(E)), "steps": int(STEPS[-1]),
            "final_loss": np.asarray(losses, float), "final_loss_se": np.full(E, 0.003),
            "trajectory": {"step": STEPS, "omega": om, "dummy": np.zeros(om.shape, dtype=bool)}}


def _single(n: int) -> dict:
    return _ensemble([[0.45]] * n, [SINGLE + 0.02] * n)


def _pairs(n_split: int, n_single: int) -> dict:
    """``n_split`` members split with the multi-head loss, ``n_single`` unsplit with the single-head loss."""
    return _ensemble([[0.13, -0.13]] * n_split + [[0.3, 0.3]] * n_single,
                     [MULTI + 0.01] * n_split + [SINGLE + 0.01] * n_single)


def _judge(ensembles: dict) -> ClaimResult:
    result = ClaimResult(id="H11", profile="smoke")
    judge({"ensembles": ensembles}, P, result)
    return result


def _row(result: ClaimResult, start: str):
    return next(c for c in result.comparisons if c.name.startswith(start))


def test_enough_split_seeds_pass():
    result = _judge({"1": _single(2), "2": _pairs(40, 0)})          # Wilson lower bound of 40/40 is 0.912
    assert result.verdict == "pass", [c.how for c in result.comparisons]
    assert _row(result, "H=2: fraction").measured == 1.0


def test_all_of_eight_is_inconclusive():
    result = _judge({"1": _single(2), "2": _pairs(8, 0)})           # Wilson [0.68, 1.0] straddles 0.9
    row = _row(result, "H=2: fraction")
    assert row.inconclusive and result.verdict == "inconclusive"
    assert any("n = 35" in n for n in result.notes)


def test_low_frequency_fails():
    result = _judge({"1": _single(2), "2": _pairs(3, 5)})           # Wilson [0.14, 0.69] below 0.9
    row = _row(result, "H=2: fraction")
    assert not row.passed and not row.inconclusive and result.verdict == "fail"
    assert "settled" in row.how
    assert _row(result, "H=2: the 5 seeds that did not split").passed


def test_low_frequency_still_rising_is_inconclusive():
    ens = _pairs(3, 5)
    late = _ensemble([[0.13, -0.13]] * 3 + [[0.3, 0.3]] * 5, ens["final_loss"], rise_until=3_000)
    row = _row(_judge({"1": _single(2), "2": late}), "H=2: fraction")
    assert row.inconclusive and "not settled" in row.how


def test_unsplit_seed_at_the_multi_head_level_fails_the_two_level_row():
    ens = _pairs(3, 5)
    ens["final_loss"][-1] = MULTI                                      # unsplit, yet at the multi-head level
    assert not _row(_judge({"1": _single(2), "2": ens}), "H=2: the 5 seeds").passed


def test_split_but_high_loss_is_not_counted():
    ens = _pairs(40, 0)
    ens["final_loss"][:10] = SINGLE                                   # split yet single-head loss: 30/40
    row = _row(_judge({"1": _single(2), "2": ens}), "H=2: fraction")
    assert row.measured == 0.75 and not row.passed and not row.inconclusive


def test_single_head_split_fails_classifier_row():
    bad = _ensemble([[0.45, -0.45]], [MULTI])                        # a "one-head" ensemble that splits
    result = _judge({"1": bad, "2": _pairs(40, 0)})
    assert not _row(result, "H=1: no seed").passed and result.verdict == "fail"
