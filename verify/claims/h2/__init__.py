r"""H2 — zero-sum OV, :math:`\pm` head groups with a common :math:`|\omega|`, dummy heads, and
:math:`\sum_h\mu_h\omega_h\approx\eta^*` (SPEC 2.1, 3.1, 4, 6).

Read from the shared ensembles (:mod:`verify.trained`) for H in {2, 4, 8}, over the seeds whose active heads
split into both signs (how many do is H11's subject; a seed that did not split is single-head-like and has
zero-sum 1 by construction). The rows and where each tolerance comes from are in :mod:`.judge`.
"""
from __future__ import annotations

from dataclasses import dataclass

from theory import mean_field

from ...power import Mutant, patched
from ...registry import Claim, register, source_files
from ...trained import PROTOCOLS, TrainedParams
from .compute import compute, trainings
from .figures import display
from . import judge as _judge
from .judge import judge


def _eta_star_d_plus_1(*, d, L, sigma2, _f=mean_field.eta_star):
    return _f(d=d + 1, L=L, sigma2=sigma2)


def _eta_star_L_minus_1(*, d, L, sigma2, _f=mean_field.eta_star):
    return _f(d=d, L=L - 1, sigma2=sigma2)


MUTANTS = (
    Mutant("H2:eta-star-d+1", "eta* = 1/(1 + c(d+1)) instead of 1/(1 + cd) (0.858 vs 0.879 at the paper point)",
           lambda: patched(mean_field, "eta_star", _eta_star_d_plus_1)),
    Mutant("H2:eta-star-L-1", "eta* with L - 1 context tokens in c = (1+sigma2)/L (0.876 vs 0.879)",
           lambda: patched(mean_field, "eta_star", _eta_star_L_minus_1), quick_resolves=False,
           why_not="the effect (0.003) is below the eta row's resolution at the quick profile's seeds (4 SE + "
                   "allowance, about 0.005 at H=2)"),
    Mutant("H2:same-sign-heads", "the active heads share one sign, so sum mu/sum|mu| = 1 (no zero-sum)",
           lambda: patched(_judge, "predicted_zero_sum", lambda: 1.0)),
    Mutant("H2:loss-falls-with-heads", "extra heads keep helping: excess risk falls like 2/H (an averaging of heads)",
           lambda: patched(_judge, "extra_heads_excess_factor", lambda H: 2.0 / H)),
)


@dataclass(frozen=True)
class H2Params(TrainedParams):
    """``training``: the shared protocol (:data:`verify.trained.PROTOCOLS`); ``heads``: the ensembles read."""

    heads: tuple[int, ...] = (2, 4, 8)
    max_zero_sum: float = 0.05
    max_omega_spread: float = 0.2
    trend_window: float = 0.2

    def check(self):
        self.check_trained("H2", min_heads=2)   # a split needs two heads
        self.in_range(0, 1, "max_zero_sum", hi_open=True)
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
    params=PARAMS, compute=compute, trainings=trainings, judge=judge, display=display, mutants=MUTANTS,
    sources=source_files(__name__, "verify.trained", "numerics.patterns", "numerics.training", "theory.mean_field",
                         "theory.refined", "verify.stats", "verify.result")))
