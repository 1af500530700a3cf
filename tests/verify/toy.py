"""A toy claim for the platform tests: compute draws numbers, judge compares their mean with a parameter."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from theory.problem import PAPER_POINT, Problem
from verify import registry, style
from verify.params import Params
from verify.result import Z, within

CALLS = {"compute": 0}


@dataclass(frozen=True)
class ToyParams(Params):
    problem: Problem = PAPER_POINT
    n: int = 400
    shift: float = 0.0

    def check(self):
        self.positive("n")


def compute(p, ctx) -> dict:
    CALLS["compute"] += 1
    x = ctx.rng("draws").standard_normal(p.n)
    return {"x": x, "mean": float(x.mean()), "se": float(x.std(ddof=1) / np.sqrt(p.n))}


def judge(data, p, result) -> None:
    result.add(within("mean of standard normal draws", data["mean"] + p.shift, 0.0, Z * data["se"],
                      f"{Z:.0f} SE", kind="monte-carlo"))


def display(data, p, figures) -> list[str]:
    fig, axes = style.figure()
    axes[0, 0].hist(data["x"], bins=20)
    return [style.save(fig, figures("toy.png"))]


def toy_claim(cid: str = "C99") -> registry.Claim:
    return registry.Claim(cid, source="tests", statement="toy", params={
        "smoke": ToyParams(n=100), "quick": ToyParams(), "paper": ToyParams(n=4000)},
        compute=compute, judge=judge, display=display)
