"""Helpers shared by the tests (nothing imports from conftest or from another test file)."""
from __future__ import annotations

from verify.result import Z  # noqa: F401  (the one z for |Monte Carlo mean - exact| <= Z * SE)

#: The paper's setting, SPEC 1.1.
PAPER_POINT = {"d": 5, "L": 40, "sigma2": 0.1}


def pattern_model(omega, mu, d=4, kind="softmax"):
    """An :class:`~numerics.attention.EnsembleAttention` (one member, float64) whose circuits are the SPEC 2.2
    pattern: KQ x-block = omega_h I, OV = (0, ..., 0, mu_h)."""
    import math

    import torch

    from numerics.attention import EnsembleAttention

    H, D = len(omega), d + 1
    model = EnsembleAttention(d=d, n_head=H, seeds=[0], kind=kind, dtype=torch.float64)
    with torch.no_grad():
        for h, (w, m) in enumerate(zip(omega, mu)):
            model.k[0, h] = torch.eye(D, dtype=torch.float64)
            qm = torch.zeros(D, D, dtype=torch.float64)
            qm[:d, :d] = w * math.sqrt(D) * torch.eye(d, dtype=torch.float64)
            model.q[0, h] = qm
            model.v[0, h] = torch.eye(D, dtype=torch.float64)
            model.o[0, h] = 0.0
            model.o[0, h, 0, d] = m
    return model


def within_se(samples, expected: float, z: float | None = None) -> tuple[bool, str]:
    """``|mean(samples) - expected| <= z * SE`` (SE from the sample's own spread); returns (ok, message)."""
    import numpy as np

    a = np.asarray(samples, dtype=np.float64).ravel()
    se = a.std(ddof=1) / np.sqrt(a.size)
    z = Z if z is None else z
    err = abs(a.mean() - expected)
    return bool(err <= z * se), f"mean {a.mean():.6g} vs {expected:.6g}: {err / se if se else float('inf'):.2f} SE"


def judged(judge, data: dict, params, claim_id: str = "C0"):
    """Run a claim's ``judge`` on ``data`` into a fresh :class:`verify.result.ClaimResult` and return it."""
    from verify.result import ClaimResult

    result = ClaimResult(id=claim_id, profile="smoke")
    judge(data, params, result)
    return result


def failed_rows(result) -> list[str]:
    """Names of the checked rows that did not pass, in order."""
    return [c.name for c in result.comparisons if not c.passed and not c.info]


def assert_same_run(a, b) -> None:
    """Two training results are bit-identical: weights, every logged trajectory, final losses."""
    import numpy as np
    import torch

    for n in ("q", "k", "v", "o"):
        assert torch.equal(getattr(a.model, n), getattr(b.model, n)), n
    assert set(a.trajectory) == set(b.trajectory)
    for k in a.trajectory:
        np.testing.assert_array_equal(a.trajectory[k], b.trajectory[k])
    np.testing.assert_array_equal(a.final_loss, b.final_loss)
