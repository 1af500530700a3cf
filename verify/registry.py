"""The claims registry: every claim of SPEC sections 6-7 with its parameters per profile and its check.

A claim module registers itself with :func:`claim`; :func:`get` and :func:`select` look claims up and
raise a one-line ``ValueError`` for an unknown id.
"""
from __future__ import annotations

import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from .result import ClaimResult

PROFILES = ("quick", "paper")


@dataclass(frozen=True)
class RunContext:
    """Where and how a check runs. ``overrides`` replace entries of the claim's profile parameters."""

    profile: str = "quick"
    out_dir: Path = Path("report")
    seed: int = 0
    device: str = "cpu"
    overrides: Mapping[str, Any] = field(default_factory=dict)
    progress: bool = True

    def __post_init__(self):
        if self.profile not in PROFILES:
            raise ValueError(f"profile must be one of {', '.join(PROFILES)}, got {self.profile!r}")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool) or self.seed < 0:
            raise ValueError(f"seed must be an integer >= 0, got {self.seed!r}")
        if self.device not in ("cpu", "cuda") and not str(self.device).startswith("cuda:"):
            raise ValueError(f"device must be cpu or cuda[:N], got {self.device!r}")
        object.__setattr__(self, "out_dir", Path(self.out_dir))

    def figure(self, name: str) -> Path:
        """Path for a figure file inside ``<out>/figures`` (the folder is created)."""
        path = self.out_dir / "figures" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def cache_dir(self) -> Path:
        """Folder for cached intermediate results (trained models, long simulations)."""
        path = self.out_dir / "cache"
        path.mkdir(parents=True, exist_ok=True)
        return path


CheckFn = Callable[[Mapping[str, Any], RunContext, ClaimResult], None]


@dataclass(frozen=True)
class Claim:
    """One verifiable statement. ``check(params, ctx, result)`` fills ``result`` with comparisons and figures."""

    id: str
    source: str
    statement: str
    params: Mapping[str, Mapping[str, Any]]
    check: CheckFn

    def params_for(self, profile: str, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
        base = dict(self.params[profile])
        for key, value in (overrides or {}).items():
            if key not in base:
                raise ValueError(f"unknown parameter {key!r} for claim {self.id}; "
                                 f"allowed: {', '.join(sorted(base))}")
            base[key] = value
        return base

    def run(self, ctx: RunContext) -> ClaimResult:
        """Run the check; an exception becomes verdict ``error`` with its message."""
        result = ClaimResult(id=self.id, profile=ctx.profile)
        start = time.perf_counter()
        try:
            self.check(self.params_for(ctx.profile, ctx.overrides), ctx, result)
        except KeyboardInterrupt:
            raise
        except Exception as exc:  # reported, never swallowed silently
            result.error = f"{type(exc).__name__}: {exc}"
            result.notes.append("traceback (last frames):\n" + "".join(traceback.format_exc(limit=-4)))
        result.seconds = time.perf_counter() - start
        return result


_REGISTRY: dict[str, Claim] = {}


def claim(id: str, *, source: str, statement: str, quick: Mapping[str, Any],
          paper: Mapping[str, Any] | None = None) -> Callable[[CheckFn], CheckFn]:
    """Decorator registering ``check`` as the claim ``id`` (``paper`` defaults to ``quick``)."""

    def deco(fn: CheckFn) -> CheckFn:
        if id in _REGISTRY:
            raise ValueError(f"claim {id} registered twice")
        _REGISTRY[id] = Claim(id, source, statement,
                              {"quick": dict(quick), "paper": dict(paper if paper is not None else quick)}, fn)
        return fn

    return deco


def _load() -> None:
    from . import claims  # noqa: F401  (registers every claim module)


def all_claims() -> list[Claim]:
    _load()
    return sorted(_REGISTRY.values(), key=lambda c: (c.id[0], int(c.id[1:])))


def get(claim_id: str) -> Claim:
    _load()
    try:
        return _REGISTRY[claim_id.strip().upper()]
    except KeyError:
        known = ", ".join(c.id for c in all_claims())
        raise ValueError(f"unknown claim id {claim_id!r}; known: {known}") from None


def select(ids: str | None) -> list[Claim]:
    """Claims named in a comma-separated list (all when ``ids`` is None or empty)."""
    if not ids:
        return all_claims()
    names = [s for s in (p.strip() for p in ids.split(",")) if s]
    if not names:
        raise ValueError("--claims must name at least one claim id, e.g. H3,H5")
    return [get(n) for n in names]
