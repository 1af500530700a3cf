r"""H8 — length generalisation: softmax models trained at L = 40 follow debiased GD at other lengths;
linear attention with the training length baked in does not (SPEC 2.3, 3.4, 4, 6).

Models: the shared softmax ensembles for H in ``heads`` (:mod:`verify.trained`) and, trained the same way at
the training length, the two linear-attention variants of SPEC 2.3 (one head: with linear attention extra
heads only add bilinear forms). ``compute`` evaluates every member by Monte Carlo (fresh prompts, query noise
included, the same prompts for every model at a given L) at each L of ``L_eval`` and reads its effective step
:math:`\eta=\sum_h\mu_h\omega_h` and split flag from its weights; ``judge`` sets the risks beside the exact
debiased-GD risk :math:`R_{\rm DGD}(L;\eta)` (SPEC 3.4, :func:`theory.risks.dgd_risk`). Rows:

* softmax, H >= 2, seeds that split: :math:`\max_L (|R(L) - R_{\rm DGD}(L;\eta)| - 4\,\mathrm{SE}_L)` (median
  over seeds) <= 0.02 — SPEC 4's "within about 0.02", after the Monte Carlo error at each L;
* linear, length baked in: the risk at L = 100 exceeds the risk at L = 40 (by more than 4 SE);
* linear, 1/L-normalised: the risk at L = 100 is below the risk at L = 40 (by more than 4 SE);
* SPEC 4's length-generalisation table as reference points: per H, the largest deviation of the median
  trained risk from the published one over the tabulated L, minus 4 SE, <= 0.02 (all profiles).
"""
from __future__ import annotations

from dataclasses import dataclass

from ...registry import Claim, register, source_files
from ...trained import PROTOCOLS, TrainedParams
from .compute import compute
from .figures import display
from .judge import judge

L_EVAL = (10, 20, 30, 40, 50, 60, 70, 80, 90, 100)


@dataclass(frozen=True)
class H8Params(TrainedParams):
    """``problem`` is the training setting (its L is the training length); ``L_eval`` the test lengths;
    ``n_eval`` Monte Carlo prompts per model and length; ``dgd_gap``/``ref_tol`` the SPEC 4 tolerances."""

    L_eval: tuple[int, ...] = L_EVAL
    n_eval: int = 32_768
    linear_heads: int = 1
    dgd_gap: float = 0.02
    ref_tol: float = 0.02

    def check(self):
        self.check_trained("H8", linear=True)
        if not 100 <= self.n_eval <= 10**8:
            raise ValueError(f"n_eval must be in [100, 1e8], got {self.n_eval}")
        if not all(2 <= L <= 10_000 for L in self.L_eval) or list(self.L_eval) != sorted(set(self.L_eval)):
            raise ValueError(f"L_eval must be increasing lengths in [2, 10000], got {self.L_eval}")
        if self.problem.L not in self.L_eval or self.L_eval[-1] <= self.problem.L:
            raise ValueError(f"L_eval must contain the training length L={self.problem.L} and a longer one, "
                             f"got {self.L_eval}")
        if not 1 <= self.linear_heads <= 64:
            raise ValueError(f"linear_heads must be in [1, 64], got {self.linear_heads}")
        self.in_range(0, 1, "dgd_gap", "ref_tol", hi_open=True)


PARAMS = {
    "smoke": H8Params(training=PROTOCOLS["smoke"], L_eval=(10, 40, 100), n_eval=2_048),
    "quick": H8Params(),
    "paper": H8Params(training=PROTOCOLS["paper"], n_eval=100_000),
}

CLAIM = register(Claim(
    "H8", source="HPCY25 §6 (length generalisation), SPEC 2.3, 3.4, 4, 6",
    statement="Softmax attention trained at L=40 generalises to other lengths and follows debiased GD with its "
              "effective step at every test length; linear attention with the training length baked into its "
              "weights degrades for L > 40, the 1/L-normalised variant does not.",
    params=PARAMS, compute=compute, judge=judge, display=display,
    sources=source_files(__name__, "theory.risks", "numerics.patterns", "numerics.training.evaluate",
                         "verify.trained")))
