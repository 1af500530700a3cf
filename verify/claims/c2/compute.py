"""C2 compute: the shared sparse transformer and the paired rise in excess risk when each head alone is masked."""
from __future__ import annotations

import numpy as np

from numerics.interpret import head_importance

from ...sparse_model import one_thread, sparse_ensemble, training_summary


@one_thread
def compute(p, ctx) -> dict:
    res = sparse_ensemble(p.training, p.problem, ctx)
    imp = head_importance(res.model, p.problem, n_prompts=p.n_prompts, seed=ctx.seed_int("masking"))
    return {"rise": np.asarray(imp["rise"]), "rise_se": np.asarray(imp["rise_se"]),
            "risk": np.asarray(imp["risk"]), "risk_se": np.asarray(imp["risk_se"]),
            "n_prompts": int(p.n_prompts), "training": training_summary(res)}
