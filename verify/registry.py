"""The claims registry: every claim of SPEC sections 6-7 as compute → judge → display, with typed parameters.

A claim module builds a :class:`Claim` and calls :func:`register`. :func:`get` and :func:`select` look claims
up and raise a one-line ``ValueError`` for an unknown id.

* ``compute(params, ctx) -> dict`` does the expensive work once (sampling, integration, training) and returns
  a small dict of numbers, text and arrays; the runner saves it beside the result (:mod:`verify.store`).
* ``judge(data, params, result)`` is pure: it reads the data and the parameters and adds the rows (and notes)
  to ``result``; unit tests run it on small stored data.
* ``display(data, params, figures) -> list[str]`` draws the figures from the data (``figures(name)`` is the
  path of a figure file), so ``icl-verify report`` rebuilds every figure without re-running anything.
"""
from __future__ import annotations

import hashlib
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from numerics import seeds

from .params import Params, apply_overrides
from .result import ClaimResult

PROFILES = ("smoke", "quick", "paper")


@dataclass(frozen=True)
class RunContext:
    """Where and how a claim runs: profile, output folder, run seed, device, progress bars.

    ``claim_id`` keys the claim's random streams: :meth:`stream` / :meth:`seed` / :meth:`rng` give independent
    streams per (run seed, claim id, purpose) (:mod:`numerics.seeds`). ``scheduler`` (a Dask scheduler spec, see
    :mod:`verify.distributed`) makes the claim's trainings Dask tasks; it never changes a result.
    """

    profile: str = "quick"
    out_dir: Path = Path("report")
    seed: int = 0
    device: str = "cpu"
    progress: bool = True
    claim_id: str = ""
    scheduler: str | None = None

    def __post_init__(self):
        if self.profile not in PROFILES:
            raise ValueError(f"profile must be one of {', '.join(PROFILES)}, got {self.profile!r}")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool) or not 0 <= self.seed <= seeds.MAX_SEED:
            raise ValueError(f"seed must be an integer in [0, 2**63 - 1], got {self.seed!r}")
        if self.device not in ("cpu", "cuda") and not str(self.device).startswith("cuda:"):
            raise ValueError(f"device must be cpu or cuda[:N], got {self.device!r}")
        object.__setattr__(self, "out_dir", Path(self.out_dir))

    def stream(self, *purpose: str | int) -> np.random.SeedSequence:
        """The claim's independent stream for ``purpose`` (e.g. ``ctx.stream("prompts")``)."""
        return seeds.stream(self.seed, self.claim_id, *purpose)

    def seed_int(self, *purpose: str | int) -> int:
        """One integer seed (for ``torch.Generator``) from :meth:`stream`."""
        return seeds.as_int(self.stream(*purpose))

    def rng(self, *purpose: str | int) -> np.random.Generator:
        """A numpy ``Generator`` on :meth:`stream`."""
        return np.random.default_rng(self.stream(*purpose))

    def cache_dir(self) -> Path:
        """Folder for cached intermediate results (trained models, long simulations)."""
        path = self.out_dir / "cache"
        path.mkdir(parents=True, exist_ok=True)
        return path


class FigureDir:
    """``figures(name)`` -> the path ``<out>/figures/<name>`` (the folder is created on first use)."""

    def __init__(self, out_dir: str | Path):
        self.root = Path(out_dir) / "figures"

    def __call__(self, name: str) -> Path:
        self.root.mkdir(parents=True, exist_ok=True)
        return self.root / name


ComputeFn = Callable[[Any, RunContext], dict]
JudgeFn = Callable[[dict, Any, ClaimResult], None]
DisplayFn = Callable[[dict, Any, FigureDir], list]


@dataclass(frozen=True)
class Claim:
    """One verifiable statement with its parameters per profile and its compute, judge and display steps."""

    id: str
    source: str
    statement: str
    params: Mapping[str, Params]
    compute: ComputeFn
    judge: JudgeFn
    display: DisplayFn
    #: source files whose change invalidates a saved result (the claim's module and its theory)
    sources: tuple[str, ...] = field(default_factory=tuple)
    #: the wrong theories the check must reject (:mod:`verify.power`), judged on the same data
    mutants: tuple = field(default_factory=tuple)
    #: ``trainings(params, ctx) -> [(configs, shard), ...]``: the runs ``compute`` trains through
    #: :func:`verify.trained.train_many` (with that ``shard``), so the runner can train them ahead
    #: (:mod:`verify.pretrain`); None for claims that train nothing
    trainings: Callable[[Any, RunContext], list] | None = None

    def __post_init__(self):
        ids = [m.id for m in self.mutants]
        bad = [i for i in ids if not i.startswith(self.id + ":")]
        if bad or len(set(ids)) != len(ids):
            raise ValueError(f"claim {self.id}: mutant ids must be unique and start with '{self.id}:', got {ids}")
        missing = [p for p in PROFILES if p not in self.params]
        if missing:
            raise ValueError(f"claim {self.id} has no parameters for profile(s) {', '.join(missing)}")

    def params_for(self, profile: str, overrides: Mapping[str, Any] | None = None) -> Params:
        """The profile's parameters with ``overrides`` applied (typed and validated; ``ParamError`` if bad)."""
        if profile not in self.params:
            raise ValueError(f"profile must be one of {', '.join(PROFILES)}, got {profile!r}")
        return apply_overrides(self.params[profile], overrides or {})

    def code_version(self) -> str:
        """Hash of the package version and of this claim's source files (keys saved results and caches)."""
        from importlib.metadata import PackageNotFoundError, version

        try:
            ver = version("icl-verify")
        except PackageNotFoundError:  # pragma: no cover - running from a plain checkout
            ver = "0"
        h = hashlib.sha256(ver.encode())
        for src in self.sources:
            try:
                h.update(Path(src).read_bytes())
            except OSError:
                h.update(src.encode())
        return h.hexdigest()[:16]

    def evaluate(self, data: dict, params: Params, result: ClaimResult, figures: FigureDir | None) -> None:
        """Judge ``data`` into ``result`` and, if ``figures`` is given, draw the figures; errors are recorded."""
        try:
            self.judge(data, params, result)
        except KeyboardInterrupt:
            raise
        except Exception as exc:  # reported, never swallowed silently
            _record_error(result, "judge", exc)
        if self.mutants and result.error is None:
            from .power import resolution, run_power

            result.power = run_power(self.mutants, self.judge, data, params, result)
            result.resolution = resolution(result)
        if figures is not None:
            try:
                result.figures.extend(str(f) for f in self.display(data, params, figures))
            except KeyboardInterrupt:
                raise
            except Exception as exc:
                result.notes.append(f"figures could not be drawn: {type(exc).__name__}: {exc}")


def _record_error(result: ClaimResult, step: str, exc: BaseException) -> None:
    result.error = f"{step}: {type(exc).__name__}: {exc}"
    result.notes.append("traceback (last frames):\n" + "".join(traceback.format_exc(limit=-4)))


def run_claim(claim: Claim, params: Params, ctx: RunContext, *, on_data: Callable[[dict], None] | None = None,
              figures: bool = True, compute: ComputeFn | None = None) -> tuple[ClaimResult, dict | None]:
    """compute → (``on_data`` saves it) → judge → display; an exception becomes verdict ``error``.

    ``compute`` replaces ``claim.compute`` (the runner passes one that collects a Dask task's result)."""
    result = ClaimResult(id=claim.id, profile=ctx.profile)
    start = time.perf_counter()
    data = None
    try:
        data = (compute or claim.compute)(params, ctx)
        if not isinstance(data, dict):
            raise TypeError(f"compute must return a dict, got {type(data).__name__}")
        if on_data is not None:
            on_data(data)
    except KeyboardInterrupt:
        raise
    except Exception as exc:
        _record_error(result, "compute", exc)
    if data is not None:
        claim.evaluate(data, params, result, FigureDir(ctx.out_dir) if figures else None)
    result.seconds = time.perf_counter() - start
    return result, data


def source_files(*modules: str) -> tuple[str, ...]:
    """Paths of the named modules' source files (for :attr:`Claim.sources`); a package counts as all its files."""
    import importlib.util

    out: list[str] = []
    for name in modules:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            raise ValueError(f"no source for module {name!r}")
        origin = Path(spec.origin)
        out += sorted(str(p) for p in origin.parent.glob("*.py")) if origin.name == "__init__.py" else [str(origin)]
    return tuple(out)


_REGISTRY: dict[str, Claim] = {}


def register(c: Claim) -> Claim:
    """Add ``c`` to the registry (an id may be registered once)."""
    if c.id in _REGISTRY:
        raise ValueError(f"claim {c.id} registered twice")
    _REGISTRY[c.id] = c
    return c


def _load() -> None:
    from . import claims  # noqa: F401  (registers every claim module)


def all_claims() -> list[Claim]:
    _load()
    return sorted(_REGISTRY.values(), key=lambda c: ("HC".find(c.id[0]) % 3, c.id[0], int(c.id[1:])))  # H, then C


def get(claim_id: str) -> Claim:
    _load()
    key = claim_id.strip().upper() if isinstance(claim_id, str) else claim_id
    try:
        return _REGISTRY[key]
    except (KeyError, TypeError):
        known = ", ".join(c.id for c in all_claims())
        raise ValueError(f"unknown claim id {claim_id!r}; known: {known}") from None


def select(ids: str | None) -> list[Claim]:
    """Claims named in a comma-separated list, each once, in the order given (all when ``ids`` is None)."""
    if ids is None:
        return all_claims()
    names = [s for s in (p.strip() for p in ids.split(",")) if s]
    if not names:
        raise ValueError("--claims must name at least one claim id, e.g. H3,H5")
    out: list[Claim] = []
    for n in names:
        c = get(n)
        if c not in out:
            out.append(c)
    return out
