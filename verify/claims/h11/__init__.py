r"""H11 — how consistently the patterns emerge: for each H, the fraction of seeds that end in the :math:`\pm` split
with a low loss (SPEC 4's caveat, SPEC 6).

Every seed of the shared ensembles (:mod:`verify.trained`) is classified:

* **split, low loss** — its active heads carry both signs of :math:`\omega` and its final risk (Monte Carlo, fresh
  prompts) is below the midpoint between the multi-head infimum and the single-head optimum of
  :math:`\tilde{\mathcal L}` (SPEC 3.1, :func:`theory.mean_field.small_omega_infimum` and
  :func:`theory.mean_field.single_head_optimum`);
* otherwise — reported with its loss (SPEC 4 expects single-head-like seeds near 0.38–0.40).

"Consistently" = at least ``min_fraction`` of seeds for every H >= 2, decided by the 95% Wilson interval of the
seed frequency k/n (stated in advance): pass when its lower bound is >= ``min_fraction``, fail when its upper bound
is below, inconclusive when it straddles (too few seeds to decide). H = 1 cannot split; its row checks that no seed
is classified as split.
"""
from __future__ import annotations

from dataclasses import dataclass

from theory.problem import PAPER_POINT, Problem

from ...params import Params, TrainingProtocol
from ...registry import Claim, register, source_files
from ...trained import HEADS, PROTOCOLS
from .compute import compute
from .figures import display
from .judge import judge


@dataclass(frozen=True)
class H11Params(Params):
    """``training``: the shared protocol (:data:`verify.trained.PROTOCOLS`); ``heads``: the ensembles read."""

    problem: Problem = PAPER_POINT
    training: TrainingProtocol = PROTOCOLS["quick"]
    heads: tuple[int, ...] = HEADS
    min_fraction: float = 0.9

    def check(self):
        if self.problem.kind != "isotropic":
            raise ValueError("H11 needs the isotropic data model (SPEC 1.1)")
        for H in self.heads:
            if not 1 <= H <= 64:
                raise ValueError(f"heads must be in [1, 64], got {H}")
            self.training.n_seeds(H)
        if not 0 < self.min_fraction <= 1:
            raise ValueError(f"min_fraction must be in (0, 1], got {self.min_fraction}")


PARAMS = {
    "smoke": H11Params(training=PROTOCOLS["smoke"]),
    "quick": H11Params(training=PROTOCOLS["quick"]),
    "paper": H11Params(training=PROTOCOLS["paper"]),
}

CLAIM = register(Claim(
    "H11", source="HPCY25 §5 and SPEC 4 (caveat on H=2), SPEC 6",
    statement="The +/- split with a low loss emerges consistently over random seeds for every H >= 2 "
              "(measured as the fraction of seeds, per H).",
    params=PARAMS, compute=compute, judge=judge, display=display,
    sources=source_files(__name__, "verify.trained", "numerics.patterns", "numerics.training", "theory.mean_field",
                         "verify.stats")))
