"""Run a selection of claims, saving each one's data and result as soon as they are known (resumable), and
rebuild a report from saved data without running anything.

Files under ``<out>/claims/``: ``<ID>.json`` (the result, its key and the overrides it ran with),
``<ID>.data.json`` / ``<ID>.data.npz`` (what ``compute`` returned). All writes are atomic.
"""
from __future__ import annotations

import ast
import contextlib
import dataclasses
import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from .distributed import cores
from .params import ParamError, _jsonable, resolve
from .pretrain import Pretrainer, runs_ahead
from .registry import Claim, FigureDir, RunContext, get, run_claim, select
from .report import now, write_atomic, write_report, write_results
from .result import ClaimResult, result_from_json
from .store import load_data, save_data

SAVED_FORMAT = 2


@dataclass(frozen=True)
class Override:
    """One ``--set [CLAIM.]KEY=VALUE``: ``scope`` is a claim id or None (every selected claim that has KEY)."""

    scope: str | None
    key: str
    value: Any

    def __str__(self) -> str:
        return f"{self.scope + '.' if self.scope else ''}{self.key}={self.value!r}"


def parse_overrides(pairs: list[str] | None) -> list[Override]:
    """``["H6.n_prompts=1000", "L=(10,20)"]`` -> overrides (values are Python literals, else text)."""
    out: list[Override] = []
    for pair in pairs or []:
        key, sep, raw = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ValueError(f"--set takes [CLAIM.]KEY=VALUE, got {pair!r}")
        scope = None
        head, dot, rest = key.partition(".")
        if dot and _is_claim_id(head):
            scope, key = get(head).id, rest
            if not key:
                raise ValueError(f"--set {pair!r}: no parameter name after {head}.")
        try:
            value = ast.literal_eval(raw.strip())
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            value = raw.strip()
        out.append(Override(scope, key, value))
    return out


def _is_claim_id(text: str) -> bool:
    return len(text) >= 2 and text[0].upper() in "HC" and text[1:].isdigit()


def plan(claims: list[Claim], profile: str, overrides: list[Override]) -> dict[str, dict[str, Any]]:
    """Each selected claim's overrides; a key that no selected claim has, or a scope not selected, is an error."""
    per: dict[str, dict[str, Any]] = {c.id: {} for c in claims}
    for o in overrides:
        if o.scope is not None:
            if o.scope not in per:
                raise ValueError(f"--set {o}: claim {o.scope} is not selected (--claims)")
            if resolve(next(c for c in claims if c.id == o.scope).params[profile], o.key) is None:
                raise ValueError(f"--set {o}: claim {o.scope} has no parameter {o.key!r} "
                                 f"(see `icl-verify list -v`)")
            per[o.scope][o.key] = o.value
            continue
        owners = [c for c in claims if resolve(c.params[profile], o.key) is not None]
        if not owners:
            raise ValueError(f"--set {o}: no selected claim has a parameter {o.key!r} (see `icl-verify list -v`)")
        for c in owners:
            per[c.id].setdefault(o.key, o.value)
    return per


def check_out_dir(out: str | Path) -> Path:
    """``out`` exists (or is created) as a writable folder, checked before any work (one-line error if not):
    not empty, no name over 255 bytes (refused before anything above it is created), not a file, writable."""
    if str(out).strip() == "":
        raise ValueError("--out must name a folder, got an empty path")
    out = Path(out)
    long = [p for p in out.parts if len(os.fsencode(p)) > 255]
    if long:
        raise ValueError(f"--out: the folder name {long[0][:40]!r}... is longer than 255 bytes "
                         f"(File name too long)")
    try:
        if out.exists() and not out.is_dir():
            raise ValueError(f"--out {out} exists and is not a folder")
        out.mkdir(parents=True, exist_ok=True)
        probe = out / f".write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise ValueError(f"--out {out} is not a writable folder ({exc.strerror or exc})") from None
    return out


def _key(claim: Claim, ctx: RunContext, params) -> str:
    blob = json.dumps({"id": claim.id, "profile": ctx.profile, "seed": ctx.seed, "device": ctx.device,
                       "params": params.to_dict(), "code": claim.code_version()}, sort_keys=True, default=repr)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _checksum(body: dict) -> str:
    """SHA-256 of the saved body without its checksum (canonical JSON): catches damage and hand edits."""
    rest = {k: v for k, v in body.items() if k != "checksum"}
    return hashlib.sha256(json.dumps(rest, sort_keys=True).encode()).hexdigest()


def _saved(out: Path, claim_id: str) -> Path:
    return out / "claims" / f"{claim_id}.json"


def load_saved(path: Path) -> dict:
    """A saved claim file, validated; a damaged one is a ``ValueError`` naming the file and what is wrong."""
    try:
        body = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: unreadable ({type(exc).__name__})") from None
    need = {"format": int, "key": str, "profile": str, "seed": int, "device": str, "overrides": dict,
            "result": dict}
    if not isinstance(body, dict):
        raise ValueError(f"{path}: not a saved claim result")
    for k, t in need.items():
        if not isinstance(body.get(k), t):
            raise ValueError(f"{path}: field {k!r} missing or not a {t.__name__}")
    if body["format"] != SAVED_FORMAT:
        raise ValueError(f"{path}: written by another version of the package")
    if body.get("checksum") != _checksum(body):
        raise ValueError(f"{path}: checksum does not match its content (edited or damaged)")
    try:
        result_from_json(body["result"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{path}: result is damaged ({type(exc).__name__}: {exc})") from None
    return body


def run_claims(ids: str | None = None, *, profile: str = "quick", out: str | Path = "report", seed: int = 0,
               device: str = "cpu", overrides: list[Override] | Mapping[str, Any] | None = None,
               resume: bool = False, progress: bool = True, scheduler: str | None = None,
               background: bool = True, echo=print) -> list[ClaimResult]:
    """Run the claims named in ``ids`` (comma-separated; all if None) and write the report.

    Every parameter is validated before any claim starts (``ValueError``). Each finished claim's data and
    result are saved at once; with ``resume=True`` a claim whose saved result has the same key (profile, seed,
    device, parameters and code version) is not run again, and a damaged saved file is reported and re-run.
    With ``scheduler`` (:func:`verify.distributed.parse_scheduler`) the claims' computations, and the trainings
    inside them, run as Dask tasks; judging, figures and every file are still done here, by this process. Without
    it, on a CPU with two or more cores, a background thread trains the runs of the claims still to come
    (:mod:`verify.pretrain`; ``background=False`` turns it off): the same runs and numbers, sooner.
    """
    RunContext(profile=profile, out_dir=Path(out), seed=seed, device=device)  # validates the common settings
    if scheduler is not None:
        from .distributed import parse_scheduler

        parse_scheduler(scheduler)
    claims = select(ids)
    if isinstance(overrides, Mapping):
        overrides = [Override(None, k, v) for k, v in overrides.items()]
    per = plan(claims, profile, list(overrides or []))
    try:
        params = {c.id: c.params_for(profile, per[c.id]) for c in claims}
    except ParamError as exc:
        raise ValueError(f"--set: {exc}") from None
    if device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise ValueError("device cuda requested but torch.cuda.is_available() is False; use --device cpu")
    out = check_out_dir(out)
    done: dict[str, ClaimResult] = {}
    start = time.perf_counter()
    meta = {"profile": profile, "seed": seed, "device": device, "finished": now(), "seconds": 0.0,
            "versions": _versions()}
    todo = []
    for c in claims:
        ctx = RunContext(profile=profile, out_dir=out, seed=seed, device=device, progress=progress, claim_id=c.id,
                         scheduler=scheduler)
        saved = _saved(out, c.id)
        key = _key(c, ctx, params[c.id])
        if resume and saved.exists():
            try:
                body = load_saved(saved)
                if body["key"] == key:
                    done[c.id] = result_from_json(body["result"])
                    echo(f"{c.id}: {done[c.id].verdict} (saved result reused)")
                    continue
                echo(f"{c.id}: saved result is for other settings or code; running again")
            except ValueError as exc:
                echo(f"{c.id}: {exc}; running again")
        todo.append((c, ctx, key))

    def finish(c, ctx, key, compute=None, timing: dict | None = None) -> None:
        """Judge, draw and save one claim; ``timing["compute"]``, set by a remote ``compute``, replaces the wait."""
        stem = out / "claims" / f"{c.id}.data"
        res, _ = run_claim(c, params[c.id], ctx, on_data=lambda data: save_data(stem, data), compute=compute)
        if timing is not None and "compute" in timing:
            res.seconds = timing["compute"] + (time.perf_counter() - timing["collected"])
        done[c.id] = res
        body = {"format": SAVED_FORMAT, "key": key, "profile": profile, "seed": seed, "device": device,
                "overrides": _jsonable(per[c.id]), "result": res.to_json()}
        body["checksum"] = _checksum(body)
        write_atomic(_saved(out, c.id), json.dumps(body, indent=1))
        echo(f"{c.id}: {res.verdict} in {res.seconds:.1f} s" + (f" — {res.error}" if res.error else ""))
        results = [done[x.id] for x in claims if x.id in done]
        meta.update(finished=now(), seconds=time.perf_counter() - start)
        write_results(out, profile, results, meta)
        write_report(out, [x for x in claims if x.id in done], results, meta)

    if scheduler is None:
        with _ahead(todo, params, enabled=background and device == "cpu", echo=echo):
            for c, ctx, key in todo:
                echo(f"{c.id}: running ({profile}) …")
                finish(c, ctx, key)
    elif todo:
        _run_distributed(todo, params, scheduler, finish, echo, profile)
    results = [done[c.id] for c in claims]
    meta.update(finished=now(), seconds=time.perf_counter() - start)
    write_results(out, profile, results, meta)
    write_report(out, claims, results, meta)
    return results


def _ahead(todo, params, *, enabled: bool, echo):
    """The :class:`verify.pretrain.Pretrainer` of ``todo``'s runs (a no-op context on one core or when disabled)."""
    runs = runs_ahead(todo, params) if enabled and cores() >= 2 and len(todo) >= 2 else []
    if not runs:
        return contextlib.nullcontext()
    echo(f"background: {len(runs)} training run(s) of the selected claims train ahead in a second thread")
    return Pretrainer(runs)


def _run_distributed(todo, params, scheduler: str, finish, echo, profile: str) -> None:
    """Submit every claim's compute to the cluster, then judge and save each here as it completes."""
    from distributed import as_completed

    from .distributed import cluster, compute_task

    with cluster(scheduler) as client:
        echo(f"dask: {len(client.scheduler_info().get('workers', {}))} worker(s) at {client.scheduler.address}")
        futures = {}
        for c, ctx, key in todo:
            ctx = dataclasses.replace(ctx, progress=False)
            fut = client.submit(compute_task, c.id, params[c.id], ctx, key=f"claim-{c.id}-{key}", pure=False)
            futures[fut] = (c, ctx, key)
            echo(f"{c.id}: submitted ({profile}) …")
        try:
            for fut in as_completed(list(futures)):
                c, ctx, key = futures[fut]
                timing: dict = {}

                def remote(p, ctx, fut=fut, timing=timing):
                    data, timing["compute"] = fut.result()
                    timing["collected"] = time.perf_counter()
                    return data

                finish(c, ctx, key, compute=remote, timing=timing)
        except BaseException:
            client.cancel(list(futures))
            raise


def rebuild_report(out: str | Path = "report", *, echo=print) -> list[ClaimResult]:
    """Rebuild ``report.md``, ``results.json`` and every figure from the data saved under ``<out>/claims``.

    Nothing is computed again: each claim's judge and display run on its saved data with the parameters it
    ran with. A claim whose data is missing (its compute failed) keeps its saved result.
    """
    out = Path(out)
    files = sorted((out / "claims").glob("[HC]*.json")) if (out / "claims").is_dir() else []
    files = [f for f in files if not f.name.endswith(".data.json")]
    if not files:
        raise ValueError(f"no saved claim results under {out / 'claims'}; run `icl-verify run --out {out}` first")
    bodies = {}
    for f in files:
        body = load_saved(f)
        bodies[get(f.stem).id] = body
    claims = [c for c in _ordered(bodies)]
    results = []
    for c in claims:
        body = bodies[c.id]
        old = result_from_json(body["result"])
        stem = out / "claims" / f"{c.id}.data"
        if not stem.with_name(stem.name + ".json").exists():
            results.append(old)
            echo(f"{c.id}: {old.verdict} (no saved data; result kept)")
            continue
        try:
            params = c.params_for(body["profile"], body["overrides"])
        except ParamError as exc:
            raise ValueError(f"{_saved(out, c.id)}: saved overrides no longer valid: {exc}") from None
        res = ClaimResult(id=c.id, profile=body["profile"], seconds=old.seconds)
        c.evaluate(load_data(stem), params, res, FigureDir(out))
        results.append(res)
        echo(f"{c.id}: {res.verdict} (rebuilt from saved data)")
    first = next(iter(bodies.values()))
    meta = {"profile": first["profile"], "seed": first["seed"], "device": first["device"], "finished": now(),
            "seconds": sum(r.seconds for r in results), "versions": _versions(), "rebuilt": True}
    write_results(out, meta["profile"], results, meta)
    write_report(out, claims, results, meta)
    return results


def _ordered(bodies: dict) -> list[Claim]:
    from .registry import all_claims

    return [c for c in all_claims() if c.id in bodies]


def _versions() -> str:
    import numpy
    import scipy
    import sympy
    import torch

    return f"numpy {numpy.__version__}, scipy {scipy.__version__}, sympy {sympy.__version__}, torch {torch.__version__}"
