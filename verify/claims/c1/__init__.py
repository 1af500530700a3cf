"""C1 — the trained transformer's excess risk against the number of context examples n, beside OLS, ridge, GD, PtO and
Lasso (SPEC 7, 7.1–7.3).

The shared sparse transformer (:mod:`verify.sparse_model`, trained at n = ``problem.L``) is evaluated at every n of
``ns`` (Monte Carlo excess risk on fresh prompts; no positional encoding, so any n is a valid input — n < L is
outside its training distribution). Every method is tuned on separate prompts over a stated grid
(:func:`verify.sparse_model.method_risks`; GD and PtO with ``steps`` steps) and evaluated on others.

Checked rows, stated in advance:

* independent theory: minimum-norm OLS's Monte Carlo excess risk equals its exact value
  (:func:`theory.sparse_ols.ols_excess_risk`) within 4 SE at every n with ``|n - d| >= 5``;
* trained: the model's excess risk falls from the smallest n to the training n (by > 4 SE); at the training n the
  model beats ridge and beats GD with ``steps`` steps (decided: the difference ± 4 SE, independent prompts with
  the SEs combined, above 0 passes, below fails, straddling is inconclusive).

Every other comparison (Lasso, PtO, OLS at each n) is reported with its SE.
"""
from __future__ import annotations

from dataclasses import dataclass

from theory import sparse_ols

from ... import power
from ...registry import Claim, register, source_files
from ...sparse_model import OWN_DEFINITIONS, SPARSE_POINTS, SPARSE_TRAINING, SparseParams, sparse_trainings
from .compute import compute
from .figures import display
from .judge import judge


@dataclass(frozen=True)
class C1Params(SparseParams):
    """``ns``: context sizes evaluated (the last must be ``problem.L``); ``steps``: T of GD and PtO;
    ``n_prompts`` / ``tune_prompts``: evaluation / tuning prompts per n; ``ols_prompts``: OLS's prompts (cheap)."""

    ns: tuple[int, ...] = (5, 10, 15, 20)
    steps: int = 10
    n_prompts: int = 4_096
    tune_prompts: int = 512
    ols_prompts: int = 32_768

    def check(self):
        self.check_sparse("C1")
        self.positive("n_prompts", "tune_prompts", "steps", "ols_prompts")
        if min(self.n_prompts, self.tune_prompts) < 100:
            raise ValueError("n_prompts and tune_prompts must be >= 100")
        if list(self.ns) != sorted(set(self.ns)) or self.ns[0] < 1 or self.ns[-1] != self.problem.L:
            raise ValueError(f"ns must be increasing context sizes >= 1 ending at problem.L = {self.problem.L}, "
                             f"got {self.ns}")


PARAMS = {
    "smoke": C1Params(problem=SPARSE_POINTS["smoke"], training=SPARSE_TRAINING["smoke"], ns=(6, 12), steps=3,
                      n_prompts=512, tune_prompts=256, ols_prompts=2_048),
    "quick": C1Params(),
    "paper": C1Params(problem=SPARSE_POINTS["paper"], training=SPARSE_TRAINING["paper"], ns=(5, 10, 15, 25, 30, 40),
                      n_prompts=65_536, tune_prompts=8_192, ols_prompts=262_144),
}


def _ols_mutant(fn):
    return lambda: power.patched(sparse_ols, "ols_excess_risk", fn)


def _off_by_one(*, d, n, sigma2, beta_norm2=1.0):
    if n >= d + 2:
        return sigma2 * d / (n - d)
    return beta_norm2 * (1 - n / d) + sigma2 * n / (d - n)


def _no_bias(*, d, n, sigma2, beta_norm2=1.0):
    return sigma2 * d / (n - d - 1) if n >= d + 2 else sigma2 * n / (d - n - 1)


MUTANTS = (
    power.Mutant("C1:ols-dof-off-by-one", "OLS noise term with n - d (d - n) instead of n - d - 1 (d - n - 1)",
                 _ols_mutant(_off_by_one)),
    power.Mutant("C1:ols-no-bias", "OLS for n < d without the missed-signal term (1 - n/d) E|beta|^2",
                 _ols_mutant(_no_bias)),
    power.Mutant("C1:ols-x1.05", "OLS excess risk 5% high",
                 lambda: power.scaled(sparse_ols, "ols_excess_risk", 1.05)),
)

CLAIM = register(Claim(
    "C1", source="CZZ24 (abstract: comparison with baselines), SPEC 7, 7.1–7.3",
    statement="Excess risk against n of the trained multi-layer transformer beside OLS, ridge, GD, PtO and Lasso on "
              "sparse linear regression; the transformer improves with n and, at its training n, beats ridge and GD. "
              + OWN_DEFINITIONS,
    params=PARAMS, compute=compute, trainings=sparse_trainings, judge=judge, display=display, mutants=MUTANTS,
    sources=source_files(__name__, "verify.sparse_model", "theory.sparse_ols", "numerics.transformer",
                         "numerics.sparse.estimators", "numerics.training", "verify.result")))
