r"""H4 — gradient flow of the reduced model (SPEC 3.2): three stages, zero-sum from the damped common mode,
the long-time limit, agreement with discrete gradient descent and with torch training of the reduced model;
and, beside it, the trained full models' :math:`(\omega_h,\mu_h)` on the flow's time axis (:mod:`.overlay`).

``compute`` proves the derived L~ equal to SPEC 3.1 (and its flow to SPEC 3.2), runs discrete descent and the
torch reduced model (:func:`numerics.reduced_model.train_reduced`), and reads the shared trained ensembles
(:mod:`verify.trained`); ``judge`` integrates the theory's flows (:mod:`.flows`: :func:`theory.flow.flow_rhs`
through :func:`numerics.ode.integrate_flow`) and turns them and the data into rows; ``display`` draws the stages
and the overlay.
"""
from __future__ import annotations

from dataclasses import dataclass

from theory.problem import PAPER_POINT, Problem

from ...params import Params, TrainingProtocol
from ...registry import Claim, register, source_files
from ...trained import PROTOCOLS
from .compute import compute
from .overlay import trainings
from .figures import display
from .judge import judge
from .mutants import MUTANTS


@dataclass(frozen=True)
class H4Params(Params):
    """The flow's setting and start, the discrete-GD step sizes, the torch reduced model's SGD protocol
    (``train_*``, H4's own), and the full-model overlay (``training``: the shared ensembles' protocol,
    ``overlay_heads``, ``peak_drop``, ``delta_risk``: the excess DGD risk that sets the tolerance on eta)."""

    problem: Problem = PAPER_POINT
    t_end: float = 1e4
    start: float = 1e-3
    random_heads: int = 4
    refined_from_omega: float = 0.2
    gd_lrs: tuple[float, ...] = (0.2, 0.1, 0.05, 0.025)
    gd_window: float = 10.0
    train_lr: float = 0.05
    train_steps: int = 160
    train_batch: int = 2048
    train_start: float = 0.02
    train_seeds: int = 4
    trained_full: bool = True
    training: TrainingProtocol = PROTOCOLS["quick"]
    overlay_heads: tuple[int, ...] = (2, 4)
    peak_drop: float = 0.9
    delta_risk: float = 0.002

    def check(self):
        self.positive("train_steps", "train_batch")
        self.require_kind("H4")
        if not 30.0 < self.t_end <= 1e7:
            raise ValueError(f"t_end must be in (30, 1e7] (the stage grid runs to t=30), got {self.t_end}")
        if not 0 < self.start <= 0.05:
            raise ValueError(f"start must be in (0, 0.05] (a small start: the linear stage), got {self.start}")
        if not 2 <= self.random_heads <= 8:  # theory.flow.flow_rhs is lambdified symbolically up to 8 heads
            raise ValueError(f"random_heads must be in [2, 8], got {self.random_heads}")
        if not 0 < self.refined_from_omega <= 0.5:
            raise ValueError(f"refined_from_omega must be in (0, 0.5], got {self.refined_from_omega}")
        if len(self.gd_lrs) < 2 or not all(0 < lr <= 1 for lr in self.gd_lrs):
            raise ValueError(f"gd_lrs must hold >= 2 step sizes in (0, 1], got {self.gd_lrs}")
        if not 0 < self.gd_window <= 100:
            raise ValueError(f"gd_window must be in (0, 100], got {self.gd_window}")
        if not 0 < self.train_lr <= 1:
            raise ValueError(f"train_lr must be in (0, 1], got {self.train_lr}")
        if not 0 < self.train_start <= 0.5:
            raise ValueError(f"train_start must be in (0, 0.5], got {self.train_start}")
        if not 2 <= self.train_seeds <= 1000:
            raise ValueError(f"train_seeds must be in [2, 1000] (a standard error needs 2), got {self.train_seeds}")
        if not all(2 <= h <= 8 for h in self.overlay_heads):
            raise ValueError(f"overlay_heads must be head counts in [2, 8] (the symbolic flow), "
                             f"got {self.overlay_heads}")
        if self.trained_full:
            missing = [h for h in self.overlay_heads if str(h) not in self.training.seeds]
            if missing:
                raise ValueError(f"overlay_heads {missing} have no ensemble size in training.seeds "
                                 f"(has {', '.join(self.training.seeds)})")
        if not 0 < self.peak_drop < 1:
            raise ValueError(f"peak_drop must be in (0, 1), got {self.peak_drop}")
        if not 0 < self.delta_risk < 1:
            raise ValueError(f"delta_risk must be in (0, 1), got {self.delta_risk}")


PARAMS = {
    "smoke": H4Params(t_end=100.0, gd_lrs=(0.2, 0.1, 0.05), train_steps=80, train_batch=128, train_seeds=2,
                      training=PROTOCOLS["smoke"]),
    "quick": H4Params(),
    "paper": H4Params(gd_lrs=(0.1, 0.05, 0.025, 0.0125), train_lr=0.02, train_steps=400, train_batch=16384,
                      train_seeds=8, training=PROTOCOLS["paper"]),
}

CLAIM = register(Claim(
    "H4", source="HPCY25 §4 (training dynamics); SPEC 3.2",
    statement="The gradient flow of the reduced loss shows three stages (slow zero-sum growth, fast loss drop, "
              "slow drift omega->0, mu->inf with mu*omega fixed); zero-sum follows from the damped common "
              "mode; the flow matches discrete gradient descent (t = lr*steps) and torch training of the "
              "reduced model.",
    params=PARAMS, compute=compute, trainings=trainings, judge=judge, display=display,
    sources=source_files(__name__, "theory.flow", "theory.mean_field", "theory.mean_field_eval", "theory.refined",
                         "theory.refined_eval", "theory.risks", "numerics.ode", "numerics.reduced_model",
                         "verify.trained"),
    mutants=MUTANTS))
