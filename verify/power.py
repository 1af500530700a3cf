"""Power of a claim's check: the plausible wrong theories (mutants) it rejects, judged on the *same* data.

A :class:`Mutant` names one wrong alternative a referee would try — a dropped term, an off-by-one in ``L`` or
``d``, a wrong constant, the neighbouring formula — as a patch applied while the claim's judge runs again on the
data already computed (no re-simulation). The mutant is *rejected* when a checked row that did not fail under
the true theory fails under the patch (so a claim that already fails does not reject mutants for free). Its *effect* is how far its predictions move from the true theory's: the largest relative change of the
``predicted`` column over the rows the two judgements share (or a claim-specific number from ``Mutant.effect``).

The check's *resolution* is the smallest relative effect it can resolve: the tightest ``tolerance / |predicted|``
among its checked rows. A mutant whose effect is below it cannot be rejected at this profile's sample size, and the
report says so.

Patches are context managers (:func:`patched`, :func:`scaled`); they replace a module attribute for the duration
of the judge, so a judge must look theory functions up through the module (``refined.refined_loss(...)``) or the
mutant must patch the name in the judge's own module.
"""
from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, field
from typing import Any, Callable, ContextManager, Iterator

from .result import ClaimResult

#: row kinds whose tolerance comes from a sample (the resolution is the sample size's)
STOCHASTIC = ("monte-carlo", "trained")


@dataclass(frozen=True)
class Mutant:
    """One wrong alternative to the theory (or to the simulation's independent ingredient) under test.

    ``id`` is ``"CLAIM:name"`` (e.g. ``"H3:tau2-frozen-d5"``); ``change`` says in one line what is wrong;
    ``patch()`` returns a context manager that applies it; ``effect(data, params)`` (optional) returns the
    relative size of the change when the generic measure (the ``predicted`` column) does not see it, e.g. a
    mutant that moves a simulation ingredient; ``quick_resolves`` is False when the quick profile's sample is
    too small to reject it (the paper profile does, and the report says so with the resolution figure).
    """

    id: str
    change: str
    patch: Callable[[], ContextManager]
    effect: Callable[[dict, Any], float] | None = None
    quick_resolves: bool = True
    #: when ``quick_resolves`` is False: why the quick profile cannot reject it (shown in the report)
    why_not: str = ""

    def __post_init__(self):
        claim, _, name = self.id.partition(":")
        if not claim or not name:
            raise ValueError(f"mutant id must be 'CLAIM:name', got {self.id!r}")
        if not self.quick_resolves and not self.why_not:
            raise ValueError(f"mutant {self.id}: say why the quick profile cannot reject it (why_not=...)")


@dataclass(frozen=True)
class PowerRow:
    """How a claim's check fared against one mutant."""

    mutant: str
    change: str
    effect: float
    rejected: bool
    #: the rows that failed under the mutant (what rejected it), or why it was not rejected
    by: str
    quick_resolves: bool = True

    def to_json(self) -> dict:
        return {"mutant": self.mutant, "change": self.change,
                "effect": self.effect if math.isfinite(self.effect) else None,
                "rejected": self.rejected, "by": self.by, "quick_resolves": self.quick_resolves}


def row_from_json(d: dict) -> PowerRow:
    eff = d.get("effect")
    return PowerRow(d["mutant"], d.get("change", ""), math.nan if eff is None else float(eff), bool(d["rejected"]),
                    d.get("by", ""), bool(d.get("quick_resolves", True)))


@contextlib.contextmanager
def patched(owner: Any, name: str, value: Any) -> Iterator[None]:
    """Replace ``owner.name`` by ``value`` inside the block (``owner`` a module, class or object)."""
    if not hasattr(owner, name):
        raise AttributeError(f"{getattr(owner, '__name__', owner)!r} has no attribute {name!r} to patch")
    old = getattr(owner, name)
    setattr(owner, name, value)
    try:
        yield
    finally:
        setattr(owner, name, old)


def scaled(owner: Any, name: str, factor: float) -> ContextManager:
    """Patch the function ``owner.name`` so that its (numeric or array) return value is multiplied by ``factor``."""
    fn = getattr(owner, name)

    def wrong(*args, **kwargs):
        return fn(*args, **kwargs) * factor

    return patched(owner, name, wrong)


@contextlib.contextmanager
def together(*patches: Callable[[], ContextManager]) -> Iterator[None]:
    """Apply several patches at once."""
    with contextlib.ExitStack() as stack:
        for p in patches:
            stack.enter_context(p())
        yield


def prediction_shift(base: ClaimResult, other: ClaimResult) -> float:
    """Largest relative change of the ``predicted`` column over rows present (by name) in both results."""
    old = {c.name: c.predicted for c in base.comparisons if c.predicted is not None}
    worst = 0.0
    for c in other.comparisons:
        p0 = old.get(c.name)
        if p0 is None or c.predicted is None or not (math.isfinite(p0) and math.isfinite(c.predicted)):
            continue
        scale = abs(p0) if p0 != 0 else 1.0
        worst = max(worst, abs(c.predicted - p0) / scale)
    return worst


def resolution(result: ClaimResult) -> float:
    """The smallest relative effect the check can resolve at its sample size: min ``tolerance / |predicted|`` over
    the checked Monte Carlo and trained rows that have both (``tolerance`` itself where the prediction is 0, as in
    :func:`prediction_shift`); exact rows (symbolic, closed-form, rounding checks) are left out, their resolution is
    not a sample size's. NaN when no such row has a tolerance."""
    vals = [c.tolerance / (abs(c.predicted) if c.predicted != 0 else 1.0) for c in result.comparisons
            if not c.info and c.kind in STOCHASTIC and c.tolerance is not None and c.predicted is not None
            and math.isfinite(c.tolerance) and math.isfinite(c.predicted)]
    return min(vals) if vals else math.nan


def _failed(c) -> bool:
    return not c.info and not c.passed and not c.inconclusive


def run_power(mutants, judge: Callable[[dict, Any, ClaimResult], None], data: dict, params: Any,
              base: ClaimResult) -> list[PowerRow]:
    """Judge ``data`` once per mutant (patch applied) and compare with the true judgement ``base``."""
    rows = []
    res = resolution(base)
    base_failed = {c.name for c in base.comparisons if _failed(c)}
    for m in mutants:
        scratch = ClaimResult(id=base.id, profile=base.profile)
        try:
            with m.patch():
                judge(data, params, scratch)
        except KeyboardInterrupt:
            raise
        except Exception as exc:  # a mutant that crashes the judge is not a rejection: say so
            rows.append(PowerRow(m.id, m.change, math.nan, False,
                                 f"the judge raised under the mutant: {type(exc).__name__}: {exc}", m.quick_resolves))
            continue
        effect = float(m.effect(data, params)) if m.effect is not None else prediction_shift(base, scratch)
        failed = [c.name for c in scratch.comparisons if _failed(c) and c.name not in base_failed]
        rejected = bool(failed)
        if rejected:
            by = "; ".join(failed[:3]) + (f" (+{len(failed) - 3} more)" if len(failed) > 3 else "")
        elif math.isfinite(res) and effect < res:
            by = (f"not rejected: effect {effect:.2g} is below the check's resolution {res:.2g} at this profile's "
                  "sample size")
        else:
            by = f"not rejected: verdict under the mutant is {scratch.verdict}"
        if not rejected and m.why_not:
            by += f"; expected: {m.why_not}"
        rows.append(PowerRow(m.id, m.change, effect, bool(rejected), by, m.quick_resolves))
    return rows
