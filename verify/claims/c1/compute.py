"""C1 compute: the shared model's excess risk at every n, and every method's (tuned on separate prompts)."""
from __future__ import annotations

import numpy as np

from numerics.training import evaluate

from ...sparse_model import method_risks, one_thread, sparse_ensemble, training_summary

METHODS = ("ols", "ridge", "gd", "pto", "lasso")


@one_thread
def compute(p, ctx) -> dict:
    res = sparse_ensemble(p.training, p.problem, ctx)
    E, K = res.model.n_member, len(p.ns)
    model, model_se = np.zeros((E, K)), np.zeros((E, K))
    meth = {m: np.zeros(K) for m in METHODS}
    meth_se = {m: np.zeros(K) for m in METHODS}
    param = {m: np.zeros(K) for m in METHODS}
    for i, n in enumerate(p.ns):
        prob = p.problem.replace(L=int(n))
        model[:, i], model_se[:, i] = evaluate(res.model, prob, n_prompts=p.n_prompts,
                                               seed=ctx.seed_int("model", n), excess=True)
        r = method_risks(prob, ("ridge", "gd", "pto", "lasso"), steps=p.steps, tune_prompts=p.tune_prompts,
                         n_prompts=p.n_prompts, tune_seed=ctx.seed_int("tune", n), eval_seed=ctx.seed_int("methods", n))
        if abs(n - p.problem.d) > 1:  # OLS is untuned and cheap: more prompts for its exact-risk check
            r.update(method_risks(prob, ("ols",), steps=p.steps, tune_prompts=2, n_prompts=p.ols_prompts,
                                  tune_seed=ctx.seed_int("tune-ols", n), eval_seed=ctx.seed_int("ols", n)))
        for m in METHODS:
            got = r.get(m, {"risk": np.inf, "se": np.nan, "param": np.nan})
            meth[m][i], meth_se[m][i], param[m][i] = got["risk"], got["se"], got["param"]
    return {"ns": np.asarray(p.ns), "model": model, "model_se": model_se,
            "methods": {m: {"risk": meth[m], "se": meth_se[m], "param": param[m]} for m in METHODS},
            "n_prompts": int(p.n_prompts), "ols_prompts": int(p.ols_prompts), "training": training_summary(res)}
