"""Negative controls: every claim rejects the wrong theories it names, judged on its stored quick-profile data.

The data (``tests/verify/power_data/<ID>-quick.*``) is what ``scripts/power-fixtures`` computed with the quick
profile at seed 0; re-judging it is cheap, so a weakened check (a looser tolerance, a dropped row) fails CI.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from verify import registry
from verify.result import ClaimResult
from verify.store import load_data

DATA = Path(__file__).parent / "power_data"
CLAIMS = registry.all_claims()


@pytest.mark.parametrize("claim", CLAIMS, ids=[c.id for c in CLAIMS])
def test_claim_rejects_its_mutants(claim):
    if not claim.mutants:
        pytest.fail(f"{claim.id} names no mutants: every claim must name the wrong theories it rules out")
    stem = DATA / f"{claim.id}-quick"
    if not stem.with_suffix(".json").exists():
        pytest.fail(f"no stored quick data for {claim.id}: run scripts/power-fixtures {claim.id}")
    res = ClaimResult(id=claim.id, profile="quick")
    claim.evaluate(load_data(stem), claim.params_for("quick"), res, None)
    assert res.error is None, res.error
    assert len(res.power) == len(claim.mutants)
    missed = [f"{p.mutant}: {p.by}" for p in res.power if p.quick_resolves and not p.rejected]
    assert not missed, f"{claim.id} does not reject: " + "; ".join(missed)
