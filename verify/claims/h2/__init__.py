r"""H2 — zero-sum OV, :math:`\pm` head groups with a common :math:`|\omega|`, dummy heads, and
:math:`\sum_h\mu_h\omega_h\approx\eta^*` (SPEC 2.1, 3.1, 4, 6).

Read from the shared ensembles (:mod:`verify.trained`) for H in {2, 4, 8}, over the seeds whose active heads
split into both signs (how many do is H11's subject; a seed that did not split is single-head-like and has
zero-sum 1 by construction). Rows (median over the split seeds):

* zero-sum :math:`|\sum\mu_h|/\sum|\mu_h|` <= ``max_zero_sum``;
* common :math:`|\omega|`: (max - min)/mean of :math:`|\omega_h|` over active heads <= ``max_omega_spread``;
  a final value above it is *inconclusive* (not converged) when the median spread over the last
  ``trend_window`` of training still falls by more than 4 SE of its slope (:func:`verify.stats.trend`), else a fail;
* :math:`\eta_{\rm eff}=\sum_h\mu_h\omega_h` within :math:`\Delta\eta` of :math:`\eta^*=1/(1+cd)`, where
  :math:`\Delta\eta=\sqrt{\delta/\kappa}` (:func:`theory.risks.dgd_step_tolerance`) is the step error that costs an
  excess debiased-GD risk :math:`\delta` = ``eta_excess`` — about the resolution of the final-loss estimate.

Dummy heads: with a common :math:`\omega`, same-sign heads are interchangeable (only the sum of their :math:`\mu`
enters the output), so *how many* heads stay active is not fixed by the theory; the counts are reported.
"""
from __future__ import annotations

from dataclasses import dataclass

from ...registry import Claim, register, source_files
from ...trained import PROTOCOLS, TrainedParams
from .compute import compute
from .figures import display
from .judge import judge


@dataclass(frozen=True)
class H2Params(TrainedParams):
    """``training``: the shared protocol (:data:`verify.trained.PROTOCOLS`); ``heads``: the ensembles read."""

    heads: tuple[int, ...] = (2, 4, 8)
    max_zero_sum: float = 0.05
    max_omega_spread: float = 0.2
    eta_excess: float = 0.002
    trend_window: float = 0.2

    def check(self):
        self.check_trained("H2", min_heads=2)   # a split needs two heads
        self.in_range(0, 1, "max_zero_sum", "eta_excess", hi_open=True)
        self.in_range(0, 2, "max_omega_spread", hi_open=True)
        self.in_range(0, 1, "trend_window")


PARAMS = {
    "smoke": H2Params(training=PROTOCOLS["smoke"]),
    "quick": H2Params(training=PROTOCOLS["quick"]),
    "paper": H2Params(training=PROTOCOLS["paper"], max_omega_spread=0.1),
}

CLAIM = register(Claim(
    "H2", source="HPCY25 §5 (zero-sum, head groups), SPEC 2.1, 3.1, 4, 6",
    statement="In trained multi-head models OV is zero-sum, the active heads split into +/- groups with a common "
              "|omega|, extra heads go dummy, and sum_h mu_h omega_h approaches eta* = 1/(1+cd).",
    params=PARAMS, compute=compute, judge=judge, display=display,
    sources=source_files(__name__, "verify.trained", "numerics.patterns", "numerics.training", "theory.mean_field",
                         "theory.risks", "verify.stats")))
