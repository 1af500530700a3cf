"""C5 — preprocess-then-optimize beats GD and ridge at equal step counts when s << d, and Lasso stays best
(SPEC 7.2, the package's own precise version of [CZZ24]'s public claim; its full text is not available to us).

``compute`` tunes and evaluates ridge, T-step GD, T-step PtO (and PtO without its normalisation, for the power
table) and Lasso on paired prompts over a grid of (n, sigma^2) and at SPEC 7.2's reference setting; ``judge``
decides each paired difference against 0 with 4-SE intervals and compares the reference setting with the quoted
numbers; ``display`` draws risk against n.
"""
from __future__ import annotations

from dataclasses import dataclass

from ...params import Params
from ...registry import Claim, register, source_files
from .compute import compute
from .figures import display
from .judge import judge
from .mutants import MUTANTS


@dataclass(frozen=True)
class C5Params(Params):
    """SPEC 7.1 data (x ~ N(0, I_d), |support| = s, beta_S ~ N(0, 1/s)) at every n of ``ns`` and sigma^2 of
    ``sigma2s``; T = ``steps``; ``prompts`` evaluation and ``tune_prompts`` separate tuning prompts per setting.
    The claimed regime is n <= d or sigma^2 >= ``noisy_sigma2`` (stated in advance); ``reference`` lists the n of
    SPEC 7.2's reference setting to reproduce (subset of {20, 40}; empty to skip)."""

    d: int = 20
    s: int = 3
    ns: tuple[int, ...] = (10, 20, 40)
    sigma2s: tuple[float, ...] = (0.0, 0.01, 0.25)
    steps: int = 10
    prompts: int = 1000
    tune_prompts: int = 1000
    noisy_sigma2: float = 0.25
    reference: tuple[int, ...] = (20, 40)

    def check(self):
        self.positive("d", "s", "steps", "tune_prompts")
        if self.s > self.d:
            raise ValueError(f"s must be in [1, d={self.d}], got {self.s}")
        if self.prompts < 10:
            raise ValueError(f"prompts must be >= 10, got {self.prompts}")
        if not self.ns or any(n < 1 for n in self.ns):
            raise ValueError(f"ns must be context sizes >= 1, got {self.ns}")
        if not self.sigma2s or any(not v >= 0 for v in self.sigma2s):
            raise ValueError(f"sigma2s must be noise variances >= 0, got {self.sigma2s}")
        if any(n not in (20, 40) for n in self.reference):
            raise ValueError(f"reference must be a subset of (20, 40) (SPEC 7.2's quoted points), got {self.reference}")


PARAMS = {
    "smoke": C5Params(ns=(10, 40), sigma2s=(0.25,), prompts=60, tune_prompts=60, reference=(20,)),
    "quick": C5Params(),
    "paper": C5Params(ns=(5, 10, 20, 40, 80), prompts=20_000, tune_prompts=5_000),
}

CLAIM = register(Claim(
    "C5", source="CZZ24 (abstract-level claim), SPEC 7.2 — package's own definitions",
    statement="Sparse regression (d=20, s=3, T=10 steps): preprocess-then-optimize has lower excess risk than "
              "T-step GD and ridge where n <= d or sigma^2 = 0.25, and Lasso is lower still at every setting; "
              "SPEC 7.2's reference numbers are reproduced. Definitions are the package's own (SPEC 7): "
              "[CZZ24]'s full text is not available.",
    params=PARAMS, compute=compute, judge=judge, display=display,
    sources=source_files(__name__, "numerics.sparse.estimators", "numerics.sparse.tuning", "numerics.data"),
    mutants=MUTANTS))
