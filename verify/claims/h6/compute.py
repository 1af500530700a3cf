"""H6 compute: paired Monte Carlo of six estimators on common prompts at every L, and the factor-e identity."""
from __future__ import annotations

import numpy as np
import sympy as sp

from numerics import dgd_predict, gd_predict, reduced_attention_predict, ridge_predict
from numerics.montecarlo import mc_losses
from theory.mean_field import identities, single_head_optimum

#: Estimators (each a squared-error stream) and paired differences on the same prompts (a - b).
ESTIMATORS = ("multi", "gd", "dgd", "single", "single_trained", "ridge")
PAIRS = {"multi-dgd": ("multi", "dgd"), "single-multi": ("single", "multi")}


def _predictors(p, L: int) -> dict:
    """The six estimators at context length ``L``: the multi-head pair, GD and DGD at eta = 2 omega mu, the
    mean-field-optimal single head at this L, the trained single head held fixed, and ridge at lambda = d sigma2."""
    w, m = p.omega, p.mu
    eta = 2 * w * m
    d, s2 = p.problem.d, p.problem.sigma2
    om1, mu1, _ = single_head_optimum(d=d, L=L, sigma2=s2)
    om_t, mu_t = p.trained_single
    return {
        "multi": lambda x, y, q: reduced_attention_predict(x, y, q, omega=[w, -w], mu=[m, -m]),
        "gd": lambda x, y, q: gd_predict(x, y, q, eta=eta),
        "dgd": lambda x, y, q: dgd_predict(x, y, q, eta=eta),
        "single": lambda x, y, q: reduced_attention_predict(x, y, q, omega=[om1], mu=[mu1]),
        "single_trained": lambda x, y, q: reduced_attention_predict(x, y, q, omega=[om_t], mu=[mu_t]),
        "ridge": lambda x, y, q: ridge_predict(x, y, q, lam=d * s2),
    }


def compute(p, ctx) -> dict:
    # the factor-e entry does not depend on n_heads; () skips building the per-H identities (seconds)
    factor_e = bool(sp.simplify(identities(n_heads=())["single_head_factor_e"]) == 0)
    names = ESTIMATORS + tuple(PAIRS)
    mean = {k: np.zeros(len(p.Ls)) for k in names}
    se = {k: np.zeros(len(p.Ls)) for k in names}
    for i, L in enumerate(p.Ls):
        preds = _predictors(p, L)

        def losses(pr, preds=preds):
            out = {name: (pr.yq - f(pr.x, pr.y, pr.xq)) ** 2 for name, f in preds.items()}  # (k,) each
            out.update({name: out[a] - out[b] for name, (a, b) in PAIRS.items()})
            return out

        mc = mc_losses(losses, p.problem.replace(L=L), n_prompts=p.n_prompts, seed=ctx.seed_int("prompts", L),
                       device=ctx.device, chunk=p.chunk)
        for k in names:
            mean[k][i], se[k][i] = mc[k]
    return {"Ls": np.array(p.Ls), "mean": mean, "se": se, "factor_e_identity": factor_e,
            "n_prompts": int(p.n_prompts)}
