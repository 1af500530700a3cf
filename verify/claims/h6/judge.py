"""H6 judge: Monte Carlo against the exact finite-L GD / DGD risks, multi-head vs DGD and vs one head (paired),
the single head's effective-sample factor L / L_eff, the published SPEC 4 table, and the factor-e identity."""
from __future__ import annotations

import math

import numpy as np

from theory.risks import dgd_effective_length, dgd_effective_length_slope, dgd_risk, gd_risk

from ...result import Z, at_least, at_most, holds, within

#: SPEC 4, estimator comparison (50k prompts per point, d=5, sigma2=0.1).
SPEC4 = {
    10: {"multi": 0.604, "gd": 0.643, "dgd": 0.614, "single": 0.875, "ridge": 0.194},
    20: {"multi": 0.367, "gd": 0.371, "dgd": 0.369, "single": 0.586, "ridge": 0.135},
    40: {"multi": 0.243, "gd": 0.241, "dgd": 0.243, "single": 0.405, "ridge": 0.115},
    60: {"multi": 0.200, "gd": 0.198, "dgd": 0.199, "single": 0.339, "ridge": 0.109},
    80: {"multi": 0.176, "gd": 0.174, "dgd": 0.176, "single": 0.302, "ridge": 0.106},
}
SPEC4_PROMPTS = 50_000
SPEC4_ROUNDING = 0.0005  # the table has three decimals


def mc(data: dict, name: str, i: int) -> tuple[float, float]:
    """``(mean, se)`` of Monte Carlo stream ``name`` at the ``i``-th L."""
    return float(data["mean"][name][i]), float(data["se"][name][i])


def exact_risks(p, L: int) -> dict[str, float]:
    """Exact finite-L risks of GD and DGD at eta = 2 omega mu (SPEC 3.4, theory.risks)."""
    eta = 2 * p.omega * p.mu
    d, s2 = p.problem.d, p.problem.sigma2
    return {"gd": gd_risk(d=d, L=L, sigma2=s2, eta=eta), "dgd": dgd_risk(d=d, L=L, sigma2=s2, eta=eta)}


def effective_factor(risk: float, se: float, *, L: int, d: int, sigma2: float) -> tuple[float, float]:
    r"""``(L / L_eff, SE)`` with :math:`L_{\rm eff}` solving :math:`R^*_{\rm DGD}(L_{\rm eff}) = ` ``risk``:
    :math:`L_{\rm eff} = \frac{d+1+d\sigma^2}{R-\sigma^2} - d - d\sigma^2` (:func:`theory.risks.dgd_effective_length`),
    the SE by the delta method. NaN when ``risk <= sigma2`` (no such length)."""
    if not (math.isfinite(risk) and risk > sigma2):
        return math.nan, math.nan
    leff = dgd_effective_length(risk=risk, d=d, sigma2=sigma2)
    slope = dgd_effective_length_slope(risk=risk, d=d, sigma2=sigma2)
    return L / leff, L / leff**2 * abs(slope) * se


def judge(data: dict, p, result) -> None:
    d, s2 = p.problem.d, p.problem.sigma2
    eta = 2 * p.omega * p.mu
    n = int(data["n_prompts"])
    Ls = [int(v) for v in data["Ls"]]
    om_t, mu_t = p.trained_single
    frac = p.near_fraction
    k_ref = math.sqrt(n / SPEC4_PROMPTS)  # SE of a published point ~ our SE * sqrt(n / 50k)

    ratios = []
    for i, L in enumerate(Ls):
        exact = exact_risks(p, L)
        for name in ("gd", "dgd"):
            mean, se = mc(data, name, i)
            result.add(within(f"{name.upper()} risk, L={L}: Monte Carlo vs exact", mean, exact[name], Z * se,
                              f"{Z:.0f} SE of the Monte Carlo mean ({n} prompts)", kind="monte-carlo"))
        diff, dse = mc(data, "multi-dgd", i)
        gap, gse = mc(data, "single-multi", i)
        ratio, ratio_se = effective_factor(*mc(data, "single", i), L=L, d=d, sigma2=s2)
        ratios.append((ratio, ratio_se))
        result.add(at_most(f"|multi-head - DGD| (+{Z:.0f} SE), L={L}", abs(diff) + Z * dse, frac * gap,
                           f"paired difference on common prompts, at most {frac:g} x the single-head gap "
                           f"(single - multi = {gap:.4f})", kind="monte-carlo"))
        result.add(at_least(f"single head - multi-head, L={L}", gap, Z * gse,
                            f"paired difference exceeds {Z:.0f} SE", kind="monte-carlo"))
        result.add(at_least(f"single head: effective-sample factor L/L_eff, L={L}", ratio, 1 + Z * ratio_se,
                            "L_eff solves R*_DGD(L_eff) = single-head MC risk; > 1 (+4 SE) means the head needs "
                            "more samples than tuned DGD; the mean-field theory predicts e = 2.718",
                            kind="monte-carlo"))
        # SPEC 4 reference points: our SE and theirs (estimated for 50k prompts) combined, plus rounding
        ref = SPEC4.get(L)
        if ref is not None:
            for name, key in (("multi", "multi"), ("ridge", "ridge"), ("single_trained", "single")):
                mean, se = mc(data, name, i)
                tol = Z * math.hypot(se, se * k_ref) + SPEC4_ROUNDING
                result.add(within(f"SPEC 4 reference, {key} (L={L})", mean, ref[key], tol,
                                  f"{Z:.0f} x combined SE (ours; published ~ ours*sqrt({n}/50k)) + 0.0005 "
                                  "rounding" + (f"; single = trained head ({om_t}, {mu_t}) held fixed"
                                                if key == "single" else ""), kind="monte-carlo"))
            for name in ("gd", "dgd"):
                tol = Z * mc(data, name, i)[1] * k_ref + SPEC4_ROUNDING
                result.add(within(f"SPEC 4 reference, {name} (L={L})", exact[name], ref[name], tol,
                                  f"exact closed form vs published MC: {Z:.0f} x its SE (~ ours*sqrt({n}/50k)) "
                                  "+ 0.0005 rounding", kind="monte-carlo"))

    result.add(holds("mean-field single-head optimum at L = mean-field multi-head infimum at L/e",
                     bool(data["factor_e_identity"]),
                     "sympy: single_head_optimum_expr loss - (sigma2 + xi(1+sigma2)/(1+xi(1+sigma2)) at "
                     "xi = e d / L) simplifies to 0", kind="symbolic"))

    # ---- notes
    fmt = ", ".join
    result.notes.append(
        "Population theory (solid lines): exact finite-L risks of GD and debiased GD at eta = "
        f"{eta:.4f} (theory.risks, derived by Wick contractions) and the mean-field single-head optimum "
        "(theory.mean_field). Monte Carlo (markers, ±1 SE): reduced multi-head attention, GD, DGD, single head "
        f"at its mean-field optimum (omega=1/sqrt(d)), the trained single head (omega, mu)=({om_t}, {mu_t}) held "
        f"fixed, and ridge at lambda=d*sigma2 (Bayes), all on common prompts ({n} per L). Grey squares: SPEC 4.")
    diffs = [mc(data, "multi-dgd", i) for i in range(len(Ls))]
    sign_note = ("; the multi-head is *better* than DGD at the smallest L (by more than 4 SE: the O(omega^2) "
                 "terms help there)" if diffs[0][0] + Z * diffs[0][1] < 0 else "")
    result.notes.append("multi-head - DGD (paired): " + fmt(
        f"L={L}: {dm:+.4f}±{ds:.4f}" for L, (dm, ds) in zip(Ls, diffs)) + sign_note + ".")
    trend = ("it grows with L over this range" if all(np.diff([r for r, _ in ratios]) > 0)
             else "it is not monotone in L over this range")
    result.notes.append("single-head effective-sample factor L/L_eff (MC, vs e=2.718 in the mean-field theory): "
                        + fmt(f"L={L}: {r:.2f}±{rs:.2f}" for L, (r, rs) in zip(Ls, ratios))
                        + f"; {trend}. The factor e is exact only for the mean-field loss (symbolic row).")
    off = []
    for i, L in enumerate(Ls):
        if L in SPEC4:
            mean, se = mc(data, "single", i)
            zval = (mean - SPEC4[L]["single"]) / math.hypot(se, se * k_ref)
            off.append(f"L={L}: {mean:.3f} vs {SPEC4[L]['single']:.3f} (z={zval:+.1f})")
    result.notes.append(
        f"The SPEC 4 'single head' column is compared with the trained L=40 head ({om_t}, {mu_t}) held fixed at "
        "every L, which it matches; the per-L mean-field optimum head (omega=1/sqrt(d)) differs from it: "
        + fmt(off) + " (z with the combined SE), so that column is not the per-L optimum.")
