"""What a claim check returns: comparisons of measured against predicted numbers, each with its tolerance."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

from .stats import trend

#: z of every stochastic check ``|mean - theory| <= Z * SE`` (STYLE.md 3): a false alarm about once in 16,000.
Z = 4.0

Verdict = Literal["pass", "fail", "inconclusive", "error"]
#: What produced a measured number; the report labels every row with it.
Kind = Literal["symbolic", "theory", "monte-carlo", "ode", "trained", "benchmark"]


@dataclass(frozen=True)
class Comparison:
    """One measured-vs-predicted row.

    ``passed`` is decided by the check, not here, so that every kind of test (``|a-b| <= z*SE``,
    a fitted slope, an ordering, exact symbolic equality) can be expressed; ``tolerance`` is the
    numeric allowance and ``how`` says where it comes from (e.g. ``"4 SE of the Monte Carlo mean"``).
    """

    name: str
    measured: float
    predicted: float | None
    tolerance: float | None
    how: str
    passed: bool
    kind: Kind = "theory"
    #: an informational row: shown in the report, never part of the verdict
    info: bool = False
    #: the protocol could not decide, by a criterion stated in ``how`` (e.g. an interval straddling the threshold)
    inconclusive: bool = False

    def __post_init__(self):
        if not self.name:
            raise ValueError("Comparison.name must be a non-empty string")


def within(name: str, measured: float, predicted: float, tolerance: float, how: str,
           kind: Kind = "monte-carlo") -> Comparison:
    """A row that passes when ``|measured - predicted| <= tolerance`` (and both are finite)."""
    ok = math.isfinite(measured) and math.isfinite(predicted) and abs(measured - predicted) <= tolerance
    return Comparison(name, float(measured), float(predicted), float(tolerance), how, bool(ok), kind)


def at_most(name: str, measured: float, bound: float, how: str, kind: Kind = "theory") -> Comparison:
    """A row that passes when ``measured <= bound``."""
    ok = math.isfinite(measured) and measured <= bound
    return Comparison(name, float(measured), float(bound), None, how, bool(ok), kind)


def at_least(name: str, measured: float, bound: float, how: str, kind: Kind = "theory") -> Comparison:
    """A row that passes when ``measured >= bound``."""
    ok = math.isfinite(measured) and measured >= bound
    return Comparison(name, float(measured), float(bound), None, how, bool(ok), kind)


def reported(name: str, measured: float, how: str, kind: Kind = "monte-carlo") -> Comparison:
    """An informational number (a measured quantity with no pass criterion): shown, never judged."""
    return Comparison(name, float(measured), None, None, how, True, kind, info=True)


def decided(name: str, measured: float, lower: float, upper: float, threshold: float, how: str, *,
            above: bool = True, kind: Kind = "trained") -> Comparison:
    """A three-way row for an estimate with interval ``[lower, upper]`` against ``threshold`` (stated in advance).

    With ``above=True`` the claim is "the quantity is >= threshold": pass when ``lower >= threshold``, fail when
    ``upper < threshold``, inconclusive otherwise (the interval straddles the threshold: the protocol could not
    decide). ``above=False`` mirrors it for "<= threshold". ``tolerance`` records the interval's half-width.
    """
    vals = (measured, lower, upper, threshold)
    if not all(math.isfinite(v) for v in vals):
        return Comparison(name, float(measured), float(threshold), None, how, False, kind)
    if above:
        ok, bad = lower >= threshold, upper < threshold
    else:
        ok, bad = upper <= threshold, lower > threshold
    return Comparison(name, float(measured), float(threshold), float((upper - lower) / 2), how,
                      bool(ok), kind, inconclusive=not ok and not bad)


def holds(name: str, ok: bool, how: str, kind: Kind = "symbolic", measured: float = float("nan")) -> Comparison:
    """A yes/no row (exact symbolic identity, an ordering, a property over many draws)."""
    return Comparison(name, float(measured), None, None, how, bool(ok), kind)


@dataclass
class ClaimResult:
    """The outcome of one claim: rows, figures and free-form notes; the verdict follows from the rows."""

    id: str
    profile: str
    comparisons: list[Comparison] = field(default_factory=list)
    figures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    error: str | None = None
    #: the claim's power table (:class:`verify.power.PowerRow` per mutant) and its resolution
    power: list = field(default_factory=list)
    resolution: float = math.nan

    @property
    def verdict(self) -> Verdict:
        """error (an exception, or no checked row); fail (a decided row failed); inconclusive (no decided row
        failed, some row could not be decided); pass (every checked row passed)."""
        checks = [c for c in self.comparisons if not c.info]
        if self.error is not None or not checks:
            return "error"
        if any(not c.passed and not c.inconclusive for c in checks):
            return "fail"
        if any(c.inconclusive for c in checks):
            return "inconclusive"
        return "pass"

    def counts(self) -> dict[str, int]:
        """Checked rows by outcome, and empirical rows apart from symbolic identities."""
        checks = [c for c in self.comparisons if not c.info]
        return {"passed": sum(c.passed for c in checks), "failed": sum(not c.passed and not c.inconclusive
                                                                         for c in checks),
                "inconclusive": sum(c.inconclusive for c in checks), "checked": len(checks),
                "symbolic": sum(c.kind == "symbolic" for c in checks),
                "empirical": sum(c.kind != "symbolic" for c in checks)}

    @property
    def metrics(self) -> dict[str, float]:
        """Measured numbers keyed by row name (finite ones only, JSON-safe)."""
        return {c.name: c.measured for c in self.comparisons if math.isfinite(c.measured)}

    def add(self, *rows: Comparison) -> None:
        self.comparisons.extend(rows)

    def to_json(self) -> dict:
        def num(x):
            return x if x is None or math.isfinite(x) else None

        return {
            "id": self.id,
            "verdict": self.verdict,
            "metrics": self.metrics,
            "figures": list(self.figures),
            "profile": self.profile,
            "seconds": round(self.seconds, 3),
            "error": self.error,
            "notes": list(self.notes),
            "comparisons": [
                {"name": c.name, "measured": num(c.measured), "predicted": num(c.predicted),
                 "tolerance": num(c.tolerance), "how": c.how, "passed": c.passed, "kind": c.kind, "info": c.info,
                 "inconclusive": c.inconclusive}
                for c in self.comparisons
            ],
            "power": [p.to_json() for p in self.power],
            "resolution": num(self.resolution),
        }


def result_from_json(data: dict) -> ClaimResult:
    """Rebuild a :class:`ClaimResult` written by :meth:`ClaimResult.to_json` (for resumed runs)."""
    nan = float("nan")
    rows = [Comparison(c["name"], nan if c["measured"] is None else c["measured"], c["predicted"], c["tolerance"],
                       c["how"], c["passed"], c["kind"], c.get("info", False), c.get("inconclusive", False))
            for c in data["comparisons"]]
    from .power import row_from_json

    res = data.get("resolution")
    return ClaimResult(id=data["id"], profile=data["profile"], comparisons=rows, figures=list(data["figures"]),
                       notes=list(data["notes"]), seconds=data["seconds"], error=data["error"],
                       power=[row_from_json(p) for p in data.get("power", [])],
                       resolution=nan if res is None else float(res))


def converging(name: str, value: float, bound: float, how: str, t, y, *, above: bool, last: float,
               kind: Kind = "trained") -> tuple[Comparison, dict]:
    """Row "``value`` >= ``bound``" (``above``) or "<= ``bound``", with the not-converged rule for a value on the
    wrong side: inconclusive when the logged ``y(t)`` (the same statistic per log step) has an OLS slope over the
    last ``last`` fraction of training with ``|slope| > Z SE`` pointing towards passing; otherwise a fail.

    Returns the row and the trend numbers (``slope``, ``se``, ``change`` over the window; NaN when not needed).
    """
    row = (at_least if above else at_most)(name, value, bound, how, kind=kind)
    info = {"slope": math.nan, "se": math.nan, "change": math.nan, "moving": False}
    if row.passed or not math.isfinite(value):
        return row, info
    b, b_se, change = trend(t, y, last=last)
    if not (math.isfinite(b) and math.isfinite(b_se)):
        return (at_least if above else at_most)(name, value, bound, how + f"; too few logged points in the last "
                                                f"{last:.0%} of training for a trend test, so a fail",
                                                kind=kind), info
    towards = (b > 0) if above else (b < 0)
    moving = bool(abs(b) > Z * b_se and towards)
    info = {"slope": b, "se": b_se, "change": change, "moving": moving}
    detail = (f"; over the last {last:.0%} of training the median moves {change:+.3g} (slope {b:.3g} ± {b_se:.2g}"
              f" per step, {abs(b) / b_se if b_se > 0 else math.inf:.1f} SE)")
    if moving:
        return Comparison(name, float(value), float(bound), None,
                          how + detail + f" towards the bound: not converged, inconclusive (rule: |slope| > "
                          f"{Z:g} SE towards passing)", False, kind, inconclusive=True), info
    return (at_least if above else at_most)(name, value, bound, how + detail + f": no significant move towards "
                                            f"the bound (rule: |slope| > {Z:g} SE), so a fail", kind=kind), info


def converging_within(name: str, value: float, predicted: float, tolerance: float, how: str, t, y, *, last: float,
                      kind: Kind = "trained") -> tuple[Comparison, dict]:
    """Row ``|value - predicted| <= tolerance`` with the not-converged rule of :func:`converging`: a value outside
    is *inconclusive* when the logged ``y(t)`` still moves towards ``predicted`` by more than ``Z`` SE of its OLS
    slope over the last ``last`` fraction of training, and a fail otherwise."""
    row = within(name, value, predicted, tolerance, how, kind=kind)
    info = {"slope": math.nan, "se": math.nan, "change": math.nan, "moving": False}
    if row.passed or not (math.isfinite(value) and math.isfinite(predicted)):
        return row, info
    b, b_se, change = trend(t, y, last=last)
    if not (math.isfinite(b) and math.isfinite(b_se)):
        return within(name, value, predicted, tolerance, how + f"; too few logged points in the last {last:.0%} "
                      "of training for a trend test, so a fail", kind=kind), info
    towards = (b > 0) if value < predicted else (b < 0)
    moving = bool(abs(b) > Z * b_se and towards)
    info = {"slope": b, "se": b_se, "change": change, "moving": moving}
    detail = (f"; over the last {last:.0%} of training the median moves {change:+.3g} (slope {b:.3g} ± {b_se:.2g}"
              f" per step)")
    if moving:
        return Comparison(name, float(value), float(predicted), float(tolerance),
                          how + detail + f" towards the prediction: not converged, inconclusive (rule: |slope| > "
                          f"{Z:g} SE towards it)", False, kind, inconclusive=True), info
    return within(name, value, predicted, tolerance, how + detail + f": no significant move towards the "
                  f"prediction (rule: |slope| > {Z:g} SE), so a fail", kind=kind), info
