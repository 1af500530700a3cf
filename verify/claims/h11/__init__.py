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

from ...registry import Claim, register, source_files
from ...trained import PROTOCOLS, TrainedParams
from .compute import compute
from .figures import display
from .judge import judge


@dataclass(frozen=True)
class H11Params(TrainedParams):
    """``training``: the shared protocol (:data:`verify.trained.PROTOCOLS`); ``heads``: the ensembles read."""

    min_fraction: float = 0.9

    def check(self):
        self.check_trained("H11")
        self.in_range(0, 1, "min_fraction")


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
