"""H1 — random-init training produces diagonal, homogeneous KQ and last-entry-only OV (SPEC 2.1, 4, 6).

The shared ensembles (:mod:`verify.trained`) for H in {1, 2, 4, 8} are read with :mod:`numerics.patterns`. Per
seed, each metric is averaged over the *active* heads (dummy heads, whose contribution |mu_h omega_h| is below 5%
of the largest, carry no signal and are left out); the row is the median over seeds. Pass criteria ("the pattern
is present"), the same for every H:

* quick: diag ratio >= 0.9, OV last-entry ratio >= 0.9, homogeneity <= 0.05;
* paper: diag ratio >= 0.95, OV last-entry ratio >= 0.99, homogeneity <= 0.01
  (SPEC 4's published values, 0.978–0.999 / 0.9997–0.99997 / 3e-6–1.3e-4, are well inside these).

A final value on the wrong side is *inconclusive* (not converged) when the same median, logged over the last
``trend_window`` of training, still moves towards the threshold by more than 4 SE of its slope
(:func:`verify.stats.trend`); otherwise it is a fail.

SPEC 4's own averaging (over heads with diag ratio > 0.7) is reported next to its table in the notes and the bar
figure, as a reference, not as a pass criterion.
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
class H1Params(Params):
    """``training``: the shared protocol (:data:`verify.trained.PROTOCOLS`); ``heads``: the ensembles read."""

    problem: Problem = PAPER_POINT
    training: TrainingProtocol = PROTOCOLS["quick"]
    heads: tuple[int, ...] = HEADS
    min_diag: float = 0.9
    min_ov_last: float = 0.9
    max_homogeneity: float = 0.05
    trend_window: float = 0.2

    def check(self):
        if self.problem.kind != "isotropic":
            raise ValueError("H1 needs the isotropic data model (SPEC 1.1)")
        for H in self.heads:
            if not 1 <= H <= 64:
                raise ValueError(f"heads must be in [1, 64], got {H}")
            self.training.n_seeds(H)
        for name in ("min_diag", "min_ov_last"):
            if not 0 < getattr(self, name) <= 1:
                raise ValueError(f"{name} must be in (0, 1], got {getattr(self, name)}")
        if not 0 < self.max_homogeneity < 1:
            raise ValueError(f"max_homogeneity must be in (0, 1), got {self.max_homogeneity}")
        if not 0 < self.trend_window <= 1:
            raise ValueError(f"trend_window must be in (0, 1], got {self.trend_window}")


PARAMS = {
    "smoke": H1Params(training=PROTOCOLS["smoke"]),
    "quick": H1Params(training=PROTOCOLS["quick"]),
    "paper": H1Params(training=PROTOCOLS["paper"], min_diag=0.95, min_ov_last=0.99, max_homogeneity=0.01),
}

CLAIM = register(Claim(
    "H1", source="HPCY25 §5 (emergent patterns), SPEC 2.1, 4, 6",
    statement="Training the multi-head softmax attention from a random initialisation makes each active head's "
              "KQ x-block diagonal and homogeneous (omega_h I) and its OV supported on the last entry (mu_h).",
    params=PARAMS, compute=compute, judge=judge, display=display,
    sources=source_files(__name__, "verify.trained", "numerics.patterns", "numerics.training", "verify.stats",
                         "verify.result")))
