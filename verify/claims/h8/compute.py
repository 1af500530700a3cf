"""H8 compute: Monte Carlo risk of every member of every model at every test length, and each member's
effective step and split flag (read from its final weights)."""
from __future__ import annotations

import numpy as np

from numerics.patterns import model_patterns
from numerics.training import evaluate_many

from ...trained import trained_ensemble


def model_names(p) -> list[str]:
    """``"softmax H=<H>"`` for each H in ``p.heads``, then ``"linear"`` and ``"linear-normalised"``."""
    return [f"softmax H={H}" for H in p.heads] + ["linear", "linear-normalised"]


def compute(p, ctx) -> dict:
    runs = {f"softmax H={H}": trained_ensemble(p.training, p.problem, ctx, n_head=H) for H in p.heads}
    for kind in ("linear", "linear-normalised"):
        runs[kind] = trained_ensemble(p.training, p.problem, ctx, n_head=p.linear_heads, model=kind)
    models = [res.model for res in runs.values()]
    out = {}
    for name, res in runs.items():
        pat = model_patterns(res.model)
        out[name] = {"mean": np.zeros((pat.n_member, len(p.L_eval))),  # (E, nL) risk, noise included
                     "se": np.zeros((pat.n_member, len(p.L_eval))),  # (E, nL) its Monte Carlo standard error
                     "eta": np.asarray(pat.eta_eff, dtype=float),  # (E,) sum_h mu_h omega_h
                     "split": np.asarray(pat.split, dtype=bool)}  # (E,) active heads of both signs
    for j, L in enumerate(p.L_eval):
        # one prompt stream per length, shared by every model (common random numbers across models)
        risks = evaluate_many(models, p.problem.replace(L=L), n_prompts=p.n_eval, seed=ctx.seed_int("eval", L))
        for name, (mean, se) in zip(runs, risks):
            out[name]["mean"][:, j], out[name]["se"][:, j] = mean, se
    return {"L_eval": np.array(p.L_eval), "models": out}
