"""H5 — multi-head softmax attention ≈ debiased GD: the symbolic small-omega expansion and the O(omega^2)
pointwise gap of a symmetric pair at fixed effective step (SPEC 3.3).

``compute`` proves the identities of :func:`theory.expansion.identities` and stores, per fixed prompt, the gap
between a symmetric pair and debiased GD over a grid of w; ``judge`` rebuilds the RMS gap to the theory's
first-order term (:func:`theory.expansion.first_order_coefficient`) and fits its convergence order against the
theory's (:func:`theory.expansion.pair_gap_order`);
``display`` draws the gap against w.
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
class H5Params(Params):
    """``eta`` is the fixed effective step 2 m w of the pair (default: the trained 2 x 0.13 x 3.45)."""

    problem: Problem = PAPER_POINT
    eta: float = 2 * 0.13 * 3.45
    n_prompts: int = 20_000
    w_min: float = 10**-2.5
    w_max: float = 0.2
    n_w: int = 10
    n_tokens: int = 3
    order: int = 6
    n_head: int = 3

    def check(self):
        self.positive("n_prompts")
        self.require_kind("H5")
        if not 0 < self.w_min < self.w_max <= 1.0:
            raise ValueError(f"need 0 < w_min < w_max <= 1, got w_min={self.w_min}, w_max={self.w_max}")
        if self.eta <= 0:
            raise ValueError(f"eta must be > 0, got {self.eta}")
        if not 5 <= self.n_w <= 200:
            raise ValueError(f"n_w must be in [5, 200] (a 4-coefficient fit needs 5 points), got {self.n_w}")
        if not 2 <= self.n_tokens <= 5:
            raise ValueError(f"n_tokens must be in [2, 5] (explicit softmax series), got {self.n_tokens}")
        if not 4 <= self.order <= 8:
            raise ValueError(f"order must be in [4, 8], got {self.order}")
        if not 1 <= self.n_head <= 6:
            raise ValueError(f"n_head must be in [1, 6], got {self.n_head}")
        if self.n_prompts < 100:
            raise ValueError(f"n_prompts must be >= 100, got {self.n_prompts}")


PARAMS = {
    "smoke": H5Params(n_prompts=2_000, n_w=6, n_tokens=2, order=4, n_head=2),
    # 3000 fixed prompts: the gap is measured on the same prompts at every w (common random numbers), so the
    # fitted order does not need more; per-prompt data stay small (~200 kB)
    "quick": H5Params(n_prompts=3_000),
    "paper": H5Params(n_prompts=200_000, w_min=10**-3, n_w=16, n_tokens=4, n_head=4),
}

CLAIM = register(Claim(
    "H5", source="HPCY25 §5 (softmax attention implements debiased GD); SPEC 3.3",
    statement="Expanding the reduced multi-head softmax attention in omega gives (sum_h mu_h) ybar plus "
              "debiased GD with eta = sum_h mu_h omega_h at first order; a symmetric pair cancels all even "
              "orders exactly, so at fixed eta = 2 m w the pointwise gap to debiased GD is O(w^2).",
    params=PARAMS, compute=compute, judge=judge, display=display,
    sources=source_files(__name__, "theory.expansion", "numerics.estimators"),
    mutants=MUTANTS))
