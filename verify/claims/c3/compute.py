"""C3 compute: best head per layer on selection prompts, then paired risks of the pruned and single-head models."""
from __future__ import annotations

import numpy as np

from numerics.interpret import head_importance, masked_risks

from ...sparse_model import one_thread, sparse_ensemble, training_summary


@one_thread
def compute(p, ctx) -> dict:
    res = sparse_ensemble(p.training, p.problem, ctx)
    model = res.model
    sel = head_importance(model, p.problem, n_prompts=p.n_select, seed=ctx.seed_int("select"))
    best = np.argmax(sel["rise"], -1)  # (E, nL)
    E, nL = best.shape
    H = model.n_head
    pruned = np.zeros((E, nL, H))
    single = np.zeros((E, nL, H))
    pruned[:, 0, :] = 1.0
    for e in range(E):
        for layer in range(nL):
            single[e, layer, best[e, layer]] = 1.0
            if layer > 0:
                pruned[e, layer, best[e, layer]] = 1.0
    out = masked_risks(model, p.problem, {"pruned": pruned, "single": single}, n_prompts=p.n_prompts,
                       seed=ctx.seed_int("evaluate"))
    data = {"best": best, "n_prompts": int(p.n_prompts), "n_select": int(p.n_select),
            "full": out["full"]["mean"], "full_se": out["full"]["se"], "training": training_summary(res)}
    for k in ("pruned", "single"):
        data[k], data[k + "_se"] = out[k]["mean"], out[k]["se"]
        data[k + "_diff"], data[k + "_diff_se"] = out[k]["diff"], out[k]["diff_se"]
    return data
