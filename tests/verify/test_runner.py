"""The runner: --set scoping and validation before any work, saved data and results, resume, report rebuild."""
from __future__ import annotations

import json

import pytest

from verify import registry
from verify.runner import Override, parse_overrides, plan, rebuild_report, run_claims

from . import toy


@pytest.fixture
def toys(monkeypatch):
    registry._load()
    for cid in ("C98", "C99"):
        monkeypatch.setitem(registry._REGISTRY, cid, toy.toy_claim(cid))
    toy.CALLS["compute"] = 0
    return toy.CALLS


def _run(tmp_path, **kw):
    return run_claims(kw.pop("ids", "C99"), out=tmp_path / "rep", progress=False, echo=lambda *_: None, **kw)


def test_parse_overrides_scopes_by_claim_id():
    o = parse_overrides(["H6.n_prompts=200000", "L=(10, 20)", "mode=text", "problem.d=3"])
    assert o == [Override("H6", "n_prompts", 200000), Override(None, "L", (10, 20)), Override(None, "mode", "text"),
                 Override(None, "problem.d", 3)]


def test_plan_scoping(toys):
    c98, c99 = registry.get("C98"), registry.get("C99")
    per = plan([c98, c99], "quick", [Override("C99", "n", 7), Override(None, "shift", 1.0)])
    assert per == {"C98": {"shift": 1.0}, "C99": {"n": 7, "shift": 1.0}}
    with pytest.raises(ValueError, match="not selected"):
        plan([c99], "quick", [Override("C98", "n", 7)])
    with pytest.raises(ValueError, match="no selected claim"):
        plan([c99], "quick", [Override(None, "nonsense", 1)])
    with pytest.raises(ValueError, match="has no parameter"):
        plan([c99], "quick", [Override("C99", "nonsense", 1)])


@pytest.mark.parametrize("bad", [{"n": -5}, {"n": "abc"}, {"n": True}, {"d": 5.7}, {"L": 1}, {"shift": float("nan")}])
def test_bad_value_stops_before_any_work(toys, tmp_path, bad):
    with pytest.raises(ValueError):
        _run(tmp_path, ids="C98,C99", overrides=bad)
    assert toys["compute"] == 0 and not (tmp_path / "rep" / "claims").exists()


def test_verdicts_follow_the_judge(toys, tmp_path):
    assert _run(tmp_path)[0].verdict == "pass"
    assert _run(tmp_path, overrides={"shift": 10.0})[0].verdict == "fail"


def test_saved_data_resume_and_rebuild(toys, tmp_path):
    first = _run(tmp_path)[0]
    claims = tmp_path / "rep" / "claims"
    assert {p.name for p in claims.iterdir()} == {"C99.json", "C99.data.json", "C99.data.npz"}
    assert toys["compute"] == 1
    again = _run(tmp_path, resume=True)[0]
    assert toys["compute"] == 1 and again.metrics == first.metrics
    # another seed is another key: computed again
    _run(tmp_path, resume=True, seed=1)
    assert toys["compute"] == 2
    # the report is rebuilt from data, figures included, without computing
    (tmp_path / "rep" / "figures" / "toy.png").unlink()
    (tmp_path / "rep" / "report.md").unlink()
    rebuilt = rebuild_report(tmp_path / "rep", echo=lambda *_: None)
    assert toys["compute"] == 2 and (tmp_path / "rep" / "figures" / "toy.png").exists()
    assert "rebuilt" in (tmp_path / "rep" / "report.md").read_text().lower() and rebuilt[0].verdict == "pass"


@pytest.mark.parametrize("content", ["", "{", "[]", "null", '{"format": 2}', "\x00\x01"])
def test_damaged_saved_result_is_rerun(toys, tmp_path, content):
    _run(tmp_path)
    (tmp_path / "rep" / "claims" / "C99.json").write_text(content)
    said = []
    res = run_claims("C99", out=tmp_path / "rep", progress=False, resume=True, echo=said.append)
    assert toys["compute"] == 2 and res[0].verdict == "pass"
    assert any("C99.json" in s and "running again" in s for s in said)


def test_forged_result_with_another_key_is_not_reused(toys, tmp_path):
    _run(tmp_path)
    path = tmp_path / "rep" / "claims" / "C99.json"
    body = json.loads(path.read_text())
    body["key"] = "0" * 16
    path.write_text(json.dumps(body))
    _run(tmp_path, resume=True)
    assert toys["compute"] == 2


def test_claim_streams_are_independent(toys):
    a = registry.RunContext(claim_id="C98").rng("draws").standard_normal(4)
    b = registry.RunContext(claim_id="C99").rng("draws").standard_normal(4)
    c = registry.RunContext(claim_id="C99", seed=1).rng("draws").standard_normal(4)
    assert len({tuple(a), tuple(b), tuple(c)}) == 3


def test_every_registered_claim_has_three_validated_profiles():
    for c in registry.all_claims():
        assert set(c.params) >= set(registry.PROFILES)
        for p in c.params.values():
            assert p == type(p)(**{f: getattr(p, f) for f in p.__dataclass_fields__})


def test_hand_edited_result_is_not_reused(toys, tmp_path):
    _run(tmp_path, overrides={"shift": 10.0})
    path = tmp_path / "rep" / "claims" / "C99.json"
    body = json.loads(path.read_text())
    for row in body["result"]["comparisons"]:
        row["passed"] = True                    # forge a pass, keep the key
    path.write_text(json.dumps(body))
    said = []
    res = run_claims("C99", out=tmp_path / "rep", progress=False, resume=True, echo=said.append,
                     overrides={"shift": 10.0})
    assert toys["compute"] == 2 and res[0].verdict == "fail" and any("checksum" in s for s in said)
