"""Run a selection of claims, saving each result as soon as it is known, so an interrupted run resumes."""
from __future__ import annotations

import ast
import hashlib
import json
import time
from pathlib import Path
from typing import Any, Mapping

from .registry import Claim, RunContext, select
from .report import now, write_atomic, write_report, write_results
from .result import ClaimResult, result_from_json


def parse_overrides(pairs: list[str] | None) -> dict[str, Any]:
    """``["n_prompts=1000", "L=(10,20)"]`` -> ``{"n_prompts": 1000, "L": (10, 20)}`` (Python literals, else text)."""
    out: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--set takes KEY=VALUE, got {pair!r}")
        try:
            out[key.strip()] = ast.literal_eval(raw.strip())
        except (ValueError, SyntaxError):
            out[key.strip()] = raw.strip()
    return out


def _split_overrides(claims: list[Claim], profile: str, overrides: Mapping[str, Any]) -> dict[str, dict]:
    per: dict[str, dict] = {c.id: {} for c in claims}
    for key, value in overrides.items():
        owners = [c for c in claims if key in c.params[profile]]
        if not owners:
            raise ValueError(f"--set {key}: no selected claim has a parameter {key!r}")
        for c in owners:
            per[c.id][key] = value
    return per


def _key(claim: Claim, ctx: RunContext) -> str:
    blob = json.dumps({"id": claim.id, "profile": ctx.profile, "seed": ctx.seed, "device": ctx.device,
                       "params": claim.params_for(ctx.profile, ctx.overrides)}, sort_keys=True, default=repr)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def run_claims(ids: str | None = None, *, profile: str = "quick", out: str | Path = "report", seed: int = 0,
               device: str = "cpu", overrides: Mapping[str, Any] | None = None, resume: bool = False,
               progress: bool = True, echo=print) -> list[ClaimResult]:
    """Run the claims named in ``ids`` (comma-separated; all if None) and write the report.

    Each finished claim is saved to ``<out>/claims/<ID>.json`` at once; with ``resume=True`` a claim whose
    saved result has the same profile, seed, device and parameters is not run again.
    """
    RunContext(profile=profile, out_dir=Path(out), seed=seed, device=device)  # validates the common settings
    claims = select(ids)
    per = _split_overrides(claims, profile, overrides or {})
    if device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise ValueError("device cuda requested but torch.cuda.is_available() is False; use --device cpu")
    results: list[ClaimResult] = []
    start = time.perf_counter()
    meta = {"profile": profile, "seed": seed, "device": device, "finished": now(), "seconds": 0.0,
            "versions": _versions()}
    for c in claims:
        ctx = RunContext(profile=profile, out_dir=Path(out), seed=seed, device=device, overrides=per[c.id],
                         progress=progress)
        saved = Path(out) / "claims" / f"{c.id}.json"
        key = _key(c, ctx)
        if resume and saved.exists():
            data = json.loads(saved.read_text())
            if data.get("key") == key:
                results.append(result_from_json(data["result"]))
                echo(f"{c.id}: {results[-1].verdict} (saved result reused)")
                continue
        echo(f"{c.id}: running ({profile}) …")
        res = c.run(ctx)
        results.append(res)
        write_atomic(saved, json.dumps({"key": key, "result": res.to_json()}, indent=1))
        echo(f"{c.id}: {res.verdict} in {res.seconds:.1f} s" + (f" — {res.error}" if res.error else ""))
        meta.update(finished=now(), seconds=time.perf_counter() - start)
        write_results(Path(out), profile, results, meta)
        write_report(Path(out), claims, results, meta)
    meta.update(finished=now(), seconds=time.perf_counter() - start)
    write_results(Path(out), profile, results, meta)
    write_report(Path(out), claims, results, meta)
    return results


def _versions() -> str:
    import numpy
    import scipy
    import sympy
    import torch

    return f"numpy {numpy.__version__}, scipy {scipy.__version__}, sympy {sympy.__version__}, torch {torch.__version__}"
