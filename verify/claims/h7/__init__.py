"""H7 — "near Bayes-optimal up to a proportional factor", made precise: the ratio r(xi, sigma2) of the excess
risks of optimally tuned one-step GD / debiased GD over the Bayes risk, in the proportional limit (SPEC 3.4).

Theory: :mod:`theory.bayes` (Marchenko–Pastur Bayes risk, the ratio and its identities) and :mod:`theory.risks`
(exact finite-L optimal GD / DGD risks). ``compute`` proves the identities, evaluates r and the MP Stieltjes
transform over a (xi, sigma2) grid, and runs Monte Carlo of ridge and of the posterior-variance (Rao-Blackwellised
Bayes) estimator at finite (d, L = d / xi); ``judge`` checks the bounds, the finite-size order of the Bayes
risk and the finite-L ratios; ``display`` draws the ratio map, its sections and the finite-size gap.
"""
from __future__ import annotations

from dataclasses import dataclass

from theory.problem import PAPER_POINT, Problem

from ...params import Params
from ...registry import Claim, register, source_files
from .compute import compute
from .figures import display
from .judge import judge
from .mutants import MUTANTS


@dataclass(frozen=True)
class H7Params(Params):
    """``problem`` is the spot point: xi = d / L and sigma2 (the paper point gives xi = 0.125, sigma2 = 0.1); the
    Monte Carlo runs at ``spot_d`` (with L = round(d / xi), ``spot_prompts`` prompts each, the first entry also
    giving the finite-L ratios). ``xi_range`` x ``sigma2_range`` is the theory grid (``n_grid`` log-spaced points
    per axis)."""

    problem: Problem = PAPER_POINT
    xi_range: tuple[float, float] = (1e-2, 1e1)
    sigma2_range: tuple[float, float] = (1e-2, 1e1)
    n_grid: int = 121
    spot_d: tuple[int, ...] = (5, 10, 20, 40)
    spot_prompts: tuple[int, ...] = (40_000, 20_000, 8_000, 4_000)
    chunk: int = 4_000

    @property
    def spot_xi(self) -> float:
        return self.problem.d / self.problem.L

    def check(self):
        self.positive("n_grid", "chunk")
        self.require_kind("H7")
        if not self.problem.sigma2 > 0:
            raise ValueError(f"sigma2 must be > 0 (the ratio divides by the Bayes excess), got {self.problem.sigma2}")
        for name in ("xi_range", "sigma2_range"):
            lo, hi = getattr(self, name)
            if not 0 < lo < hi <= 1e4:
                raise ValueError(f"{name} must be (lo, hi) with 0 < lo < hi <= 1e4, got {(lo, hi)}")
        if not 3 <= self.n_grid <= 2001:
            raise ValueError(f"n_grid must be in [3, 2001], got {self.n_grid}")
        if len(self.spot_d) != len(self.spot_prompts):
            raise ValueError(f"spot_prompts must have one entry per spot_d ({len(self.spot_d)}), "
                             f"got {len(self.spot_prompts)}")
        if len(self.spot_d) < 2 or list(self.spot_d) != sorted(set(self.spot_d)) or self.spot_d[0] < 1:
            raise ValueError(f"spot_d must be >= 2 strictly increasing dimensions >= 1 (a slope fit), "
                             f"got {self.spot_d}")
        if any(n < 100 for n in self.spot_prompts):
            raise ValueError(f"spot_prompts must each be >= 100, got {self.spot_prompts}")
        if any(round(d / self.spot_xi) < 2 for d in self.spot_d):
            raise ValueError(f"every spot needs L = round(d / xi) >= 2; xi = {self.spot_xi:g} is too large "
                             f"for spot_d = {self.spot_d}")


PARAMS = {
    "smoke": H7Params(n_grid=21, spot_d=(5, 10), spot_prompts=(2_000, 1_000), chunk=1_000),
    "quick": H7Params(),
    "paper": H7Params(xi_range=(1e-3, 1e2), sigma2_range=(1e-3, 1e2), n_grid=301, spot_d=(5, 10, 20, 40, 80),
                      spot_prompts=(1_000_000, 400_000, 100_000, 40_000, 10_000), chunk=10_000),
}

CLAIM = register(Claim(
    "H7", source="HPCY25 §5 (near Bayes-optimal up to a proportional factor); SPEC 3.4",
    statement="In the proportional limit d, L -> inf, d/L -> xi, the excess risk of optimally tuned GD (and "
              "debiased GD) is within a factor r(xi, sigma2) of the Bayes excess risk, with "
              "1 <= r < 1 + 1/sigma2: r -> 1 + 1/sigma2 as xi -> 0 and r -> 1 as xi -> inf or sigma2 -> inf.",
    params=PARAMS, compute=compute, judge=judge, display=display,
    sources=source_files(__name__, "theory.bayes", "theory.risks", "theory.wick", "numerics.montecarlo",
                         "numerics.estimators"),
    mutants=MUTANTS))
