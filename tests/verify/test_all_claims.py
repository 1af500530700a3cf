"""Every registered claim runs to a verdict (smoke profile) without an error; its report rebuilds from data."""
from __future__ import annotations

import pytest

from verify import registry
from verify.runner import rebuild_report, run_claims

IDS = [c.id for c in registry.all_claims()]


@pytest.mark.slow
@pytest.mark.parametrize("cid", IDS)
def test_claim_runs_to_a_verdict(tmp_path, cid):
    res = run_claims(cid, profile="smoke", out=tmp_path, progress=False, echo=lambda *_: None)[0]
    assert res.verdict in ("pass", "fail", "inconclusive"), res.error
    assert res.figures and all(p.endswith(".png") for p in res.figures)
    again = rebuild_report(tmp_path, echo=lambda *_: None)[0]
    assert again.verdict == res.verdict and again.metrics.keys() == res.metrics.keys()
