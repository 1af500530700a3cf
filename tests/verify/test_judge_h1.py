"""H1's judge on hand-made circuits of the shape ``compute`` returns: clean patterns pass, off-diagonal KQ mass
fails the diag-ratio row, and a diag ratio still rising at the end of training is inconclusive (not converged)."""
from __future__ import annotations

import numpy as np

from verify.claims.h1 import H1Params
from verify.claims.h1.judge import judge
from verify.result import ClaimResult

P = H1Params(heads=(1, 2))
D = P.problem.d
STEPS = np.arange(0, 20_001, 250)                                    # (T,)


def _ensemble(omega, mu, off: float = 0.0, n_member: int = 3, diag_path=None) -> dict:
    """KQ x-block = omega_h I + ``off`` on every off-diagonal entry, OV = mu_h on the last entry; the logged
    metrics are constant at their final values unless ``diag_path (T,)`` gives the logged diag ratio."""
    omega, mu = np.asarray(omega, float), np.asarray(mu, float)
    H, T = len(omega), len(STEPS)
    kq = np.zeros((n_member, H, D + 1, D + 1))
    ov = np.zeros((n_member, H, D + 1, 1))
    for h in range(H):
        kq[:, h, :D, :D] = omega[h] * np.eye(D) + off * (1 - np.eye(D))
        ov[:, h, D, 0] = mu[h]
    diag = abs(omega[0]) * np.sqrt(D) / np.sqrt(D * omega[0] ** 2 + D * (D - 1) * off**2)
    path = np.full(T, diag) if diag_path is None else np.asarray(diag_path, float)
    full = np.ones((T, n_member, H))
    return {"kq": kq, "ov": ov, "d": D, "seeds": list(range(n_member)), "steps": int(STEPS[-1]),
            "final_loss": np.full(n_member, 0.25), "final_loss_se": np.full(n_member, 0.003),
            "trajectory": {"step": STEPS, "diag_ratio": path[:, None, None] * full, "ov_last_ratio": full,
                           "homogeneity": 0 * full, "dummy": np.zeros((T, n_member, H), dtype=bool)}}


def _judge(ensembles: dict) -> ClaimResult:
    result = ClaimResult(id="H1", profile="smoke")
    judge({"ensembles": ensembles}, P, result)
    return result


def _row(result: ClaimResult, start: str):
    return next(c for c in result.comparisons if c.name.startswith(start))


def test_clean_patterns_pass():
    result = _judge({"1": _ensemble([0.45], [0.8]), "2": _ensemble([0.13, -0.13], [3.4, -3.4])})
    assert result.verdict == "pass", [c.name for c in result.comparisons if not c.passed]
    assert len([c for c in result.comparisons if not c.info]) == 2 * 3
    assert len([c for c in result.comparisons if c.info]) == 3          # SPEC 4 table rows (H=2 only)
    assert abs(_row(result, "H=2: KQ diag ratio").measured - 1.0) < 1e-12


def test_off_diagonal_kq_fails():
    bad = _ensemble([0.13, -0.13], [3.4, -3.4], off=0.05)          # diag ratio 0.75 < 0.9, flat trajectory
    result = _judge({"1": _ensemble([0.45], [0.8]), "2": bad})
    row = _row(result, "H=2: KQ diag ratio")
    assert not row.passed and not row.inconclusive and result.verdict == "fail"
    assert _row(result, "H=2: OV last-entry ratio").passed


def test_rising_diag_ratio_is_inconclusive():
    off = 0.04
    final = 0.13 / np.sqrt(0.13**2 + (D - 1) * off**2)
    path = final - 0.2 * (1 - STEPS / STEPS[-1])                   # still rising by 0.04 over the last fifth
    bad = _ensemble([0.13, -0.13], [3.4, -3.4], off=off, diag_path=path)
    result = _judge({"1": _ensemble([0.45], [0.8]), "2": bad})
    row = _row(result, "H=2: KQ diag ratio")
    assert final < P.min_diag and row.inconclusive and not row.passed, row.how
    assert result.verdict == "inconclusive"


def test_paper_profile_checks_the_published_table_by_seed_se():
    paper = H1Params(heads=(1, 2), check_published=True, loose=False, min_diag=0.95, min_ov_last=0.99,
                     max_homogeneity=0.01)
    rng = np.random.default_rng(0)
    ens = _ensemble([0.13, -0.13], [3.4, -3.4], n_member=6)
    # per-seed off-diagonal mass so that the SPEC-4-style diag ratio scatters around 0.95, far from 0.99926
    ens["kq"][:, :, :D, :D] += 0.01 * rng.standard_normal((6, 2, D, D))
    result = ClaimResult(id="H1", profile="paper")
    judge({"ensembles": {"1": _ensemble([0.45], [0.8]), "2": ens}}, paper, result)
    row = _row(result, "H=2: diag ratio, SPEC 4 averaging")
    assert not row.info and row.predicted == 0.99926 and not row.passed


def test_quick_rows_say_they_are_looser_than_paper():
    result = _judge({"1": _ensemble([0.45], [0.8]), "2": _ensemble([0.13, -0.13], [3.4, -3.4])})
    assert "looser than the paper profile" in _row(result, "H=2: KQ diag ratio").how
    assert "0.95:✔" in _row(result, "H=2: KQ diag ratio").how
