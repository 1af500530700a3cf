"""C2 judge: per member and layer, the heads used (rise > 4 SE and >= share x the layer's largest rise) against the
expected pattern (:data:`EXPECTED`: layer 1 several, later layers one), and the verdict's sensitivity to ``share``."""
from __future__ import annotations

import numpy as np

from ...result import Z, holds, reported, within

#: Expected usage per layer: "several" (>= 2 used heads), "one" (exactly one used head) or "uniform" (all heads
#: of the layer equally important: max rise - min rise within 4 SE). ``EXPECTED(layer)``; the mutants swap it.
def PAPER(layer: int) -> str:
    return "several" if layer == 0 else "one"


def UNIFORM(layer: int) -> str:
    return "uniform"


def ALL_ONE(layer: int) -> str:
    return "one"


def ALL_SEVERAL(layer: int) -> str:
    return "several"


EXPECTED = PAPER
SHARES = (0.05, 0.1, 0.2, 0.3, 0.5)


def used_heads(rise: np.ndarray, se: np.ndarray, share: float) -> np.ndarray:
    """Boolean ``(..., H)``: rise > Z SE and rise >= share x the largest rise of the layer."""
    top = rise.max(-1, keepdims=True)
    return (rise - Z * se > 0) & (rise >= share * top)


def pattern_holds(rise, se, share: float, expected=PAPER) -> bool:
    """Whether every member and layer shows the ``expected`` usage under the ``share`` convention."""
    used = used_heads(rise, se, share).sum(-1)  # (E, nL)
    for layer in range(rise.shape[1]):
        want = expected(layer)
        if want == "several" and not (used[:, layer] >= 2).all():
            return False
        if want == "one" and not (used[:, layer] == 1).all():
            return False
    return True


def judge(data: dict, p, result) -> None:
    rise, se = np.asarray(data["rise"]), np.asarray(data["rise_se"])
    E, nL, H = rise.shape
    n = int(data["n_prompts"])
    used = used_heads(rise, se, p.share)
    for e in range(E):
        for layer in range(nL):
            want = EXPECTED(layer)
            k = int(used[e, layer].sum())
            what = (f"member {e}, layer {layer + 1}: heads used {k} of {H} (rises "
                    + ", ".join(f"{r:.3f}±{s:.3f}" for r, s in zip(rise[e, layer], se[e, layer])) + ")")
            how = (f"used = paired rise > {Z:.0f} SE and >= {p.share:g} x the layer's largest rise ({n} prompts)")
            if want == "several":
                result.add(holds(f"{what}: several (>= 2)", k >= 2, how, kind="trained", measured=k))
            elif want == "one":
                result.add(holds(f"{what}: one dominant", k == 1, how, kind="trained", measured=k))
            else:
                hi, lo = int(np.argmax(rise[e, layer])), int(np.argmin(rise[e, layer]))
                spread = float(rise[e, layer, hi] - rise[e, layer, lo])
                tol = Z * float(np.hypot(se[e, layer, hi], se[e, layer, lo]))
                result.add(within(f"member {e}, layer {layer + 1}: spread of head rises", spread, 0.0, tol,
                                  f"equal importance: max - min rise within {Z:.0f} combined SE", kind="trained"))
    for s in SHARES:
        result.add(reported(f"pattern holds for every member with share = {s:g}",
                            float(pattern_holds(rise, se, s, EXPECTED)),
                            "sensitivity of the verdict to the 'used' convention (1 = holds)", kind="trained"))
    risk, rse = np.asarray(data["risk"]), np.asarray(data["risk_se"])
    result.notes.append("Full-model excess risk per member: " + ", ".join(
        f"{r:.4f}±{s:.4f}" for r, s in zip(risk, rse)) + f" (Monte Carlo, {n} prompts; trained model).")
    rel = rise / np.maximum(rise.max(-1, keepdims=True), 1e-300)
    result.notes.append("Rise relative to the layer's largest, per member and layer: " + "; ".join(
        f"m{e} L{layer + 1}: " + " ".join(f"{v:.2f}" for v in rel[e, layer]) for e in range(E) for layer in range(nL)))
