"""C3 judge: pruned vs full (decided against tol x the single-head gap) and single-head vs pruned, per member."""
from __future__ import annotations

import math

import numpy as np

from ...result import Z, at_least, decided, reported, within

#: The theory under test: "paper" (pruned near full, single-head worse); the mutants set "single-enough" (the
#: single-head model is as good as the full one) or "pruned-as-single" (pruning the later layers costs as much as
#: the single-head model).
EXPECTED = "paper"
TOLS = (0.1, 0.25, 0.5)


def judge(data: dict, p, result) -> None:
    E = len(data["full"])
    n = int(data["n_prompts"])
    for e in range(E):
        dp, dps = float(data["pruned_diff"][e]), float(data["pruned_diff_se"][e])
        ds, dss = float(data["single_diff"][e]), float(data["single_diff_se"][e])
        gap_se = math.hypot(dps, dss)
        if EXPECTED == "paper":
            result.add(decided(f"member {e}: pruned - full excess risk vs {p.tol:g} x single-head gap ({ds:.4f})",
                               dp, dp - Z * dps, dp + Z * dps, p.tol * ds,
                               f"paired difference ± {Z:.0f} SE ({n} prompts); pass below the threshold, fail above, "
                               "inconclusive straddling; tol is a convention (sensitivity below)", above=False))
            result.add(at_least(f"member {e}: single-head - pruned excess risk", ds - dp, Z * gap_se,
                                f"> {Z:.0f} SE (paired differences' SEs combined, conservative)", kind="trained"))
        elif EXPECTED == "single-enough":
            result.add(within(f"member {e}: single-head - full excess risk", ds, 0.0, Z * dss,
                              f"{Z:.0f} SE of the paired difference", kind="trained"))
        else:
            result.add(within(f"member {e}: pruned - full vs single-head - full", dp, ds, Z * gap_se,
                              f"{Z:.0f} combined SE", kind="trained"))
        for t in TOLS:
            result.add(reported(f"member {e}: pruned near full with tol = {t:g}",
                                float(dp + Z * dps <= t * ds), "sensitivity to the 'near' convention (1 = holds)",
                                kind="trained"))
    best = np.asarray(data["best"])
    result.notes.append("Best head per layer (1-based, chosen on separate prompts): " + "; ".join(
        f"member {e}: " + ", ".join(f"L{layer + 1}:h{int(best[e, layer]) + 1}" for layer in range(best.shape[1]))
        for e in range(E)))
    result.notes.append("Excess risk (full / pruned / single-head), trained model, Monte Carlo: " + "; ".join(
        f"member {e}: {data['full'][e]:.4f} / {data['pruned'][e]:.4f} / {data['single'][e]:.4f}" for e in range(E)))
