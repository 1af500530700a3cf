"""C4 judge: probe risk falls with depth; the probe curve is closer (log scale) to PREDICTED's steps than to
ALTERNATIVE's (PtO and GD; the mutants swap them, or expect a flat curve)."""
from __future__ import annotations

import math

import numpy as np

from ...result import Z, at_least, decided, reported, within

PREDICTED, ALTERNATIVE = "pto", "gd"
#: "falls": the probe risk falls with depth; the mutant "flat": it does not change.
TREND = "falls"
#: t(l) = l + OFFSET steps at depth l; OFFSET = 0 is the criterion, -1 the reported alternative.
OFFSETS = (0, -1)


def distance_gap(P, Pse, a, ase, b, bse, offset: int) -> tuple[float, float]:
    """``D_b - D_a`` and its delta-method SE. ``D_x`` is the scale-free (shape) distance
    ``mean_l (e_l - mean(e))^2`` with ``e_l = log P_l - log x_{l+offset}`` over depths ``l >= 1`` with
    ``l + offset >= 0`` — the log-scale distance after the best constant factor, so only the curve's *shape*
    counts, not its level; all inputs are indexed by depth / step (0..n_layer)."""
    ls = [l for l in range(1, len(P)) if 0 <= l + offset < len(a)]
    k = len(ls)
    lp = np.log([P[l] for l in ls])
    la = np.log([a[l + offset] for l in ls])
    lb = np.log([b[l + offset] for l in ls])
    ea, eb = lp - la, lp - lb
    ca, cb = ea - ea.mean(), eb - eb.mean()  # centred residuals
    gap = float((cb**2).mean() - (ca**2).mean())
    # gradient of gap w.r.t. log P_l, log a_t, log b_t (d mean(c^2)/d e_l = 2 c_l / k)
    vp = np.array([(Pse[l] / P[l]) ** 2 for l in ls])
    va = np.array([(ase[l + offset] / a[l + offset]) ** 2 for l in ls])
    vb = np.array([(bse[l + offset] / b[l + offset]) ** 2 for l in ls])
    var = ((2 * (cb - ca) / k) ** 2 * vp + (2 * ca / k) ** 2 * va + (2 * cb / k) ** 2 * vb).sum()
    return gap, float(math.sqrt(var))


def judge(data: dict, p, result) -> None:
    P, Pse = np.asarray(data["probe"]), np.asarray(data["probe_se"])  # (E, nL+1)
    E, depth = P.shape
    a, ase = np.asarray(data[PREDICTED]), np.asarray(data[PREDICTED + "_se"])
    b, bse = np.asarray(data[ALTERNATIVE]), np.asarray(data[ALTERNATIVE + "_se"])
    n = int(data["n_prompts"])
    for e in range(E):
        for l in range(1, depth):
            if "drop" in data:  # paired on the same prompts
                drop, se = float(data["drop"][e, l - 1]), float(data["drop_se"][e, l - 1])
                how = f"SE of the paired per-prompt difference ({n} prompts)"
            else:
                drop, se = float(P[e, l - 1] - P[e, l]), float(math.hypot(Pse[e, l - 1], Pse[e, l]))
                how = "SEs combined, conservative"
            name = f"member {e}: probe risk depth {l - 1} - depth {l}"
            if TREND == "falls":
                result.add(at_least(name, drop, Z * se, f"> {Z:.0f} {how}", kind="trained"))
            else:
                result.add(within(name, drop, 0.0, Z * se, f"{Z:.0f} {how}", kind="trained"))
        for off in OFFSETS:
            g, gse = distance_gap(P[e], Pse[e], a, ase, b, bse, off)
            name = (f"member {e}: D_{ALTERNATIVE} - D_{PREDICTED} (shape distance of the probe curve, log scale up "
                    f"to a constant factor; depth l vs {'l' if off == 0 else f'l{off:+d}'} steps)")
            if off == 0:
                result.add(decided(name, g, g - Z * gse, g + Z * gse, 0.0,
                                   f"positive: closer to {PREDICTED}; ± {Z:.0f} SE by the delta method; pass when "
                                   "the interval is above 0, fail below, inconclusive straddling"))
            else:
                result.add(reported(name + f" [± {gse:.3f}]", g, "alternative depth-to-step matching, reported "
                                    "as the convention's sensitivity", kind="trained"))
    result.notes.append("Probe excess risk per depth (0 = embedding), trained model: " + "; ".join(
        f"member {e}: " + " ".join(f"{v:.3f}" for v in P[e]) for e in range(E)))
    result.notes.append("Tuned PtO / GD excess risk after t = 0..n_layer steps (Monte Carlo): PtO "
                        + " ".join(f"{v:.3f}" for v in data["pto"]) + "; GD " + " ".join(f"{v:.3f}" for v in data["gd"])
                        + "; step sizes PtO " + " ".join(f"{v:g}" for v in data["pto_eta"][1:]) + ", GD "
                        + " ".join(f"{v:g}" for v in data["gd_eta"][1:]) + ".")
