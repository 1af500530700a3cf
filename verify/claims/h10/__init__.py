r"""H10 — multi-task superposition (SPEC 1.3, 3.7, 4): which head allocation a model with :math:`H` heads takes for
:math:`N` tasks — *split-up* (one :math:`\pm` pair per task, KQ on the task's coordinates) for :math:`H\ge2N`,
*superposition* (heads shared between tasks, each task still zero-sum) for :math:`2<H<2N`.

* **Theory** (:mod:`theory.multitask`): the mean-field loss for :math:`N` tasks with per-head, per-coordinate KQ
  and per-head, per-task OV, derived from Gaussian integrals (symbolic rows: = its matrix form; at :math:`N=1` it
  is :math:`d(\tilde{\mathcal L}-\sigma^2)`; the numpy flow = the lambdified derived flow). Its gradient flow is
  integrated from ``n_start`` random starts (:math:`\mathcal N(0,\text{init\_scale}^2)` entries) per
  :math:`(H, N, \text{supports})` to ``t_end`` (:mod:`numerics.multitask_flow`) and the end states classified
  (:mod:`numerics.phases`): the theory's (H, N) phase table.
* **Monte Carlo**: at :math:`\Omega=0` the mean-field loss is exact, its common-mode weight is
  :math:`c_k=\mathbb E(\bar y^{(k)})^2=|S_k|(1+\sigma^2)/L` (SPEC 1.3's noise :math:`|S_k|\sigma^2`): checked per task.
* **Training** (the one engine, :func:`numerics.training.cached_train`): each ``train_plan`` entry
  ``"supports|H,H,..."`` trains ``training.seeds['all']`` seeds per H; the same classifier reads per-head,
  per-coordinate :math:`\omega` and per-task :math:`\mu` from the circuits.

Phase rows are three-way (stated in advance): a cell *agrees* with a predicted phase when the 95% Wilson lower
bound of the fraction of seeds (or starts) in it is >= 1/2 (pass); it *disagrees* when even counting every seed
classified ``"other"`` (not settled: a task not zero-sum yet) as agreeing, the Wilson upper bound is < 1/2
(fail); otherwise inconclusive. A trained seed whose phase changed between the previous checkpoint (mid-training)
and the end counts as ``"other"``.

**Profiles.** quick (about 60 s of CPU time, one core): the theory table (6 supports x H = 1..8 x 8 starts to
t = 200), 200k Monte Carlo prompts, and 8 ensembles of 4 seeds x 1,500 Adam steps (lr 2e-3, batch 128: the
phases are visible by then — measured, H = 3 superposes by 1.5-3k steps — but a later change cannot be excluded;
the mid-training check only catches changes within the run). paper (GPU): 64 starts to t = 400, 2M prompts,
16 seeds x 100k steps (SPEC 4's lr 1e-3, batch 256), and the SPEC 4 losses checked.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from ...params import Params, TrainingProtocol
from ...power import Mutant
from ...registry import Claim, register, source_files
from .compute import compute, trainings
from .figures import display
from .judge import judge, mutant_patches


@dataclass(frozen=True)
class H10Params(Params):
    """``theory_supports``: the supports (1-based ranges, ``numerics.phases.parse_supports``) of the theory table,
    for every H in ``theory_heads``; ``train_plan``: ``"supports|H,H,..."`` entries; ``published``: SPEC 4's losses
    (overlapping supports, N = 2) by H, quoted to 3 decimals."""

    d: int = 6
    L: int = 48
    sigma2: float = 0.1
    theory_supports: tuple[str, ...] = ("1-6", "1-4", "1-4,3-6", "1-3,4-6", "1-4,3-6,1-2+5-6", "1-2,3-4,5-6")
    theory_heads: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 7, 8)
    n_start: int = 8
    t_end: float = 200.0
    init_scale: float = 0.01
    train_plan: tuple[str, ...] = ("1-4,3-6|2,3,4,6", "1-3,4-6|3,4", "1-4,3-6,1-2+5-6|4,6")
    training: TrainingProtocol = TrainingProtocol(steps=1_500, batch=128, lr=2e-3, log_every=500, eval_prompts=8_192,
                                                  seeds={"all": 4}, checkpoint_every=750)
    mc_prompts: int = 200_000
    mc_supports: str = "1-4,3-6"
    published: Mapping[str, float] = field(default_factory=lambda: {"2": 0.565, "3": 0.414, "4": 0.425, "6": 0.418})
    check_published: bool = False

    def check(self):
        from numerics.phases import parse_supports

        self.positive("d", "L", "n_start", "mc_prompts")
        if self.L < 2:
            raise ValueError(f"L must be >= 2, got {self.L}")
        self.in_range(0, 10, "sigma2", lo_open=False)
        self.in_range(0, 1e5, "t_end")
        self.in_range(0, 1, "init_scale")
        if not self.theory_supports or not self.theory_heads:
            raise ValueError("theory_supports and theory_heads must not be empty")
        for s in self.theory_supports + (self.mc_supports,):
            parse_supports(s, d=self.d)
        if any(not 1 <= H <= 16 for H in self.theory_heads):
            raise ValueError(f"theory_heads must be in [1, 16], got {self.theory_heads}")
        for entry in self.train_plan:
            plan_entry(entry, self.d)
        self.training.n_seeds("all")


def plan_entry(entry: str, d: int) -> tuple[tuple[tuple[int, ...], ...], tuple[int, ...]]:
    """``"1-4,3-6|2,3,4,6"`` -> ``(supports, heads)`` (one-line ``ValueError`` otherwise)."""
    from numerics.phases import parse_supports

    sup, sep, hs = entry.partition("|")
    if not sep:
        raise ValueError(f"train_plan entries must read 'supports|H,H,...', got {entry!r}")
    try:
        heads = tuple(int(h) for h in hs.split(","))
    except ValueError:
        raise ValueError(f"train_plan: head counts must be integers, got {hs!r}") from None
    if not heads or any(not 1 <= h <= 64 for h in heads):
        raise ValueError(f"train_plan: head counts must be in [1, 64], got {hs!r}")
    return parse_supports(sup, d=d), heads


_paper_training = TrainingProtocol(steps=100_000, batch=256, lr=1e-3, log_every=2_000, eval_prompts=100_000,
                                   seeds={"all": 16}, checkpoint_every=50_000)
PARAMS = {
    "smoke": H10Params(theory_heads=(1, 2, 3, 4), n_start=4, t_end=100.0, train_plan=("1-4,3-6|2,4",),
                       training=TrainingProtocol(steps=200, batch=64, lr=1e-3, log_every=100, eval_prompts=1_024,
                                                 seeds={"all": 2}, checkpoint_every=100), mc_prompts=20_000),
    "quick": H10Params(),
    "paper": H10Params(n_start=64, t_end=400.0, training=_paper_training, mc_prompts=2_000_000,
                       train_plan=("1-4,3-6|2,3,4,6", "1-3,4-6|2,3,4,6", "1-4,3-6,1-2+5-6|3,4,5,6",
                                   "1-2,3-4,5-6|3,4,6"), check_published=True),
}

MUTANTS = tuple(Mutant(f"H10:{name}", spec[0], spec[1], *spec[2:]) for name, spec in mutant_patches().items())

CLAIM = register(Claim(
    "H10", source="HPCY25 multi-task section, SPEC 1.3, 3.7, 4",
    statement="With N tasks, H >= 2N heads split up (one +/- pair per task, KQ on the task's coordinates) and "
              "2 < H < 2N heads superpose (heads shared between tasks, every task zero-sum); theory (mean-field "
              "flow) and training agree.",
    params=PARAMS, compute=compute, trainings=trainings, judge=judge, display=display,
    sources=source_files(__name__, "theory.multitask", "theory.mean_field", "numerics.phases",
                         "numerics.multitask_flow", "numerics.training", "numerics.data"),
    mutants=MUTANTS))
