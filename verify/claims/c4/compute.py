"""C4 compute: probe risk per depth and member; tuned PtO and GD risks after 1..n_layer steps."""
from __future__ import annotations

import numpy as np

from numerics.interpret import probe_risks

from ...sparse_model import method_risks, one_thread, sparse_ensemble, training_summary


@one_thread
def compute(p, ctx) -> dict:
    res = sparse_ensemble(p.training, p.problem, ctx)
    pr = probe_risks(res.model, p.problem, n_fit=p.n_fit, n_prompts=p.n_prompts, seed=ctx.seed_int("probes"))
    nL = res.model.n_layer
    curves = {k: np.zeros(nL + 1) for k in ("pto", "gd", "pto_se", "gd_se", "pto_eta", "gd_eta")}
    for k in ("pto", "gd"):
        curves[k][0], curves[k + "_eta"][0] = 1.0, np.nan  # 0 steps: predict 0, excess risk E(beta.x)^2 = 1
    for t in range(1, nL + 1):
        m = method_risks(p.problem, ("gd", "pto"), steps=t, tune_prompts=p.tune_prompts, n_prompts=p.n_prompts,
                         tune_seed=ctx.seed_int("tune", t), eval_seed=ctx.seed_int("methods", t))
        for k in ("pto", "gd"):
            curves[k][t], curves[k + "_se"][t], curves[k + "_eta"][t] = m[k]["risk"], m[k]["se"], m[k]["param"]
    return {"probe": pr["risk"], "probe_se": pr["se"], "drop": pr["drop"], "drop_se": pr["drop_se"], "model": pr["model_risk"], "model_se": pr["model_se"],
            **curves, "n_prompts": int(p.n_prompts), "n_fit": int(p.n_fit), "training": training_summary(res)}
