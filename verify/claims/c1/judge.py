"""C1 judge: OLS Monte Carlo vs its exact risk (theory.sparse_ols), the model's trend in n, and the model against
ridge and GD at its training n."""
from __future__ import annotations

import math

import numpy as np

from theory import sparse_ols

from ...result import Z, at_least, decided, reported, within


def judge(data: dict, p, result) -> None:
    ns = [int(v) for v in data["ns"]]
    d, s2 = p.problem.d, p.problem.sigma2
    n_mc = int(data.get("ols_prompts", data["n_prompts"]))
    meth = data["methods"]
    for i, n in enumerate(ns):
        if abs(n - d) >= 5:
            exact = sparse_ols.ols_excess_risk(d=d, n=n, sigma2=s2)
            result.add(within(f"OLS excess risk, n={n}: Monte Carlo vs exact", float(meth["ols"]["risk"][i]), exact,
                              Z * float(meth["ols"]["se"][i]), f"{Z:.0f} SE of the Monte Carlo mean ({n_mc} prompts)"))
    model, mse = np.asarray(data["model"]), np.asarray(data["model_se"])
    E = model.shape[0]
    last = len(ns) - 1
    for e in range(E):
        drop, se = float(model[e, 0] - model[e, last]), float(math.hypot(mse[e, 0], mse[e, last]))
        result.add(at_least(f"member {e}: model excess risk n={ns[0]} - n={ns[last]}", drop, Z * se,
                            f"> {Z:.0f} SE (SEs combined)", kind="trained"))
        for m in ("ridge", "gd"):
            diff = float(meth[m]["risk"][last] - model[e, last])
            dse = float(math.hypot(meth[m]["se"][last], mse[e, last]))
            result.add(decided(f"member {e}: {m} - model excess risk at n={ns[last]}", diff, diff - Z * dse,
                               diff + Z * dse, 0.0, f"model better when > 0; ± {Z:.0f} combined SE; pass above 0, "
                               "fail below, inconclusive straddling"))
    for i, n in enumerate(ns):
        for m in ("ols", "ridge", "gd", "pto", "lasso"):
            r = float(meth[m]["risk"][i])
            if math.isfinite(r):
                par = float(meth[m]["param"][i])
                result.add(reported(f"{m} excess risk, n={n} [± {float(meth[m]['se'][i]):.4f}]"
                                    + (f" (tuned {par:g})" if math.isfinite(par) else ""), r,
                                    "Monte Carlo, tuned on separate prompts"))
        result.add(reported(f"model excess risk, n={n} (mean of {E} members)", float(model[:, i].mean()),
                            "trained model, Monte Carlo", kind="trained"))
