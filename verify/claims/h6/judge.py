"""H6 judge: Rao–Blackwellised Monte Carlo against the exact finite-L GD / DGD risks (and their paired
difference), multi-head vs DGD extrapolated to omega -> 0 at fixed eta, the single head against the multi-head
(paired) and its effective-sample factor L / L_eff, the published SPEC 4 table, and the factor-e identity.

The theory is looked up through its module at call time (``risks.dgd_risk``), so a power-table mutant that patches
:mod:`theory.risks` is judged by these same rows.
"""
from __future__ import annotations

import math

import numpy as np

from theory import risks

from ...result import Z, Comparison, decided, holds, reported, within

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
    """``(mean, se)`` of the Rao–Blackwellised Monte Carlo stream ``name`` at the ``i``-th L."""
    return float(data["mean"][name][i]), float(data["se"][name][i])


def exact_risks(p, L: int) -> dict[str, float]:
    """Exact finite-L risks of GD and DGD at eta = 2 omega mu (SPEC 3.4, :mod:`theory.risks`, looked up now)."""
    eta = 2 * p.omega * p.mu
    d, s2 = p.problem.d, p.problem.sigma2
    return {"gd": risks.gd_risk(d=d, L=L, sigma2=s2, eta=eta), "dgd": risks.dgd_risk(d=d, L=L, sigma2=s2, eta=eta)}


def effective_factor(risk: float, se: float, *, L: int, d: int, sigma2: float) -> tuple[float, float]:
    r"""``(L / L_eff, SE)`` with :math:`L_{\rm eff}` solving :math:`R^*_{\rm DGD}(L_{\rm eff}) = ` ``risk``:
    :math:`L_{\rm eff} = \frac{d+1+d\sigma^2}{R-\sigma^2} - d - d\sigma^2` (:func:`theory.risks.dgd_effective_length`,
    no solve at call time), the SE by the delta method. NaN when ``risk <= sigma2`` (no such length)."""
    if not (math.isfinite(risk) and risk > sigma2):
        return math.nan, math.nan
    leff = risks.dgd_effective_length(risk=risk, d=d, sigma2=sigma2)
    slope = risks.dgd_effective_length_slope(risk=risk, d=d, sigma2=sigma2)
    return L / leff, L / leff**2 * abs(slope) * se


def judge(data: dict, p, result) -> None:
    d, s2 = p.problem.d, p.problem.sigma2
    eta = 2 * p.omega * p.mu
    n = int(data["n_prompts"])
    Ls = [int(v) for v in data["Ls"]]
    om_t, mu_t = p.trained_single
    k_ref = math.sqrt(n / SPEC4_PROMPTS)  # SE of a published (plain) point ~ our plain SE * sqrt(n / 50k)
    rb = f"{Z:.0f} SE of the Rao-Blackwellised Monte Carlo mean ({n} prompts; beta and the noise integrated out)"

    ratios = []
    for i, L in enumerate(Ls):
        exact = exact_risks(p, L)
        for name in ("gd", "dgd"):
            mean, se = mc(data, name, i)
            result.add(within(f"{name.upper()} risk, L={L}: Monte Carlo vs exact", mean, exact[name], Z * se, rb,
                              kind="monte-carlo"))
        mean, se = mc(data, "gd-dgd", i)
        result.add(within(f"GD - DGD, L={L}: paired Monte Carlo vs exact", mean, exact["gd"] - exact["dgd"], Z * se,
                          f"{Z:.0f} SE of the paired Rao-Blackwellised difference (same prompts; the centring "
                          "term alone)", kind="monte-carlo"))
        # multi-head -> DGD as omega -> 0 at fixed eta (SPEC 3.3): the gap is a series in omega^2; Richardson on
        # (omega/2, omega/4) removes the omega^2 term, the one on (omega, omega/2) bounds what is left
        gap, gap_se = mc(data, "multi-dgd", i)
        half, _ = mc(data, "multi_half-dgd", i)
        r1, _ = mc(data, "richardson", i)
        lim, lim_se = mc(data, "richardson2", i)
        trunc = abs(r1 - lim)
        result.add(within(f"multi-head - DGD extrapolated to omega -> 0 at fixed eta, L={L}", lim, 0.0,
                          Z * lim_se + trunc,
                          f"Richardson (4 gap(omega/4) - gap(omega/2)) / 3 of the paired gaps of the pair at omega = "
                          f"{p.omega:g}/2, /4 (mu scaled up, eta fixed): {Z:.0f} SE + truncation allowance "
                          f"|R(omega, omega/2) - R(omega/2, omega/4)| = {trunc:.2g} (15x the O(omega^4) remainder it "
                          "estimates); SPEC 3.3: the pair is DGD + O(omega^2) at fixed eta", kind="monte-carlo"))
        result.add(reported(f"multi-head - DGD at omega={p.omega:g}, L={L} (the O(omega^2) gap)", gap,
                            f"paired, ±{gap_se:.1g}; at omega/2: {half:+.2g} (ratio {gap / half if half else math.nan:.2f}"
                            f", 4 for a pure omega^2 gap); the single-head gap is {mc(data, 'single-multi', i)[0]:.3f}"
                            f", the DGD risk {exact['dgd']:.3f}"))
        sgap, sgse = mc(data, "single-multi", i)
        result.add(decided(f"single head - multi-head, L={L}", sgap, sgap - Z * sgse, sgap + Z * sgse, 0.0,
                           f"paired Rao-Blackwellised difference ± {Z:.0f} SE; pass when the interval is above 0, "
                           "fail when below", kind="monte-carlo"))
        ratio, ratio_se = effective_factor(*mc(data, "single", i), L=L, d=d, sigma2=s2)
        ratios.append((ratio, ratio_se))
        ok = math.isfinite(ratio) and ratio - Z * ratio_se > 1.0
        result.add(Comparison(
            f"single head: effective-sample factor L/L_eff, L={L}", ratio, math.e, math.e - 1.0,
            f"theory (mean-field, SPEC 3.1): e; checked: the factor exceeds 1 by more than {Z:.0f} SE "
            f"(SE {ratio_se:.2g}; the tolerance e - 1 is the distance from e to that bound), i.e. one head needs more "
            "samples than tuned DGD. Not checked against e itself: e is exact only for the mean-field loss, whose "
            "error at finite L is H3's subject (the Monte Carlo factor approaches e as L grows, notes)", bool(ok),
            "monte-carlo"))
        # SPEC 4 reference points: our SE and theirs (a plain 50k-prompt mean, estimated from our plain SE)
        ref = SPEC4.get(L)
        if ref is not None:
            for name, key in (("multi", "multi"), ("ridge", "ridge"), ("single_trained", "single")):
                mean, se = mc(data, name, i)
                theirs = float(data["raw_se"][name][i]) * k_ref
                tol = Z * math.hypot(se, theirs) + SPEC4_ROUNDING
                result.add(within(f"SPEC 4 reference, {key} (L={L})", mean, ref[key], tol,
                                  f"published number: {Z:.0f} x combined SE (ours; published ~ our plain-MC SE x "
                                  f"sqrt({n}/50k)) + 0.0005 rounding" + (f"; single = trained head ({om_t}, {mu_t})"
                                                                           " held fixed" if key == "single" else ""),
                                  kind="monte-carlo"))
            for name in ("gd", "dgd"):
                tol = Z * float(data["raw_se"][name][i]) * k_ref + SPEC4_ROUNDING
                result.add(within(f"SPEC 4 reference, {name} (L={L})", exact[name], ref[name], tol,
                                  f"published number vs the exact closed form: {Z:.0f} x its SE (~ our plain-MC SE x "
                                  f"sqrt({n}/50k)) + 0.0005 rounding", kind="monte-carlo"))

    result.add(holds("mean-field single-head optimum at L = mean-field multi-head infimum at L/e",
                     bool(data["factor_e_identity"]),
                     "sympy: single_head_optimum_expr loss - (sigma2 + xi(1+sigma2)/(1+xi(1+sigma2)) at "
                     "xi = e d / L) simplifies to 0", kind="symbolic"))

    # ---- notes
    fmt = ", ".join
    result.notes.append(
        "Population theory (solid lines): exact finite-L risks of GD and debiased GD at eta = "
        f"{eta:.4f} (theory.risks, derived by Wick contractions) and the mean-field single-head optimum "
        "(theory.mean_field). Monte Carlo (markers, ±1 SE): reduced multi-head attention (and the same pair at "
        "omega/2 and omega/4, mu scaled up), GD, DGD, single head at its mean-field optimum (omega=1/sqrt(d)), the trained single "
        f"head (omega, mu)=({om_t}, {mu_t}) held fixed, and ridge at lambda=d*sigma2 (Bayes), all on common prompts "
        f"({n} per L). Every estimator is linear in the labels, so each prompt's squared error is averaged over beta "
        "and the noise in closed form (Rao-Blackwell; the weights are checked against the package's predictors); "
        "no theory under test enters the simulation. Grey squares: SPEC 4.")
    diffs = [mc(data, "multi-dgd", i) for i in range(len(Ls))]
    result.notes.append("multi-head - DGD (paired, omega = 0.13): " + fmt(
        f"L={L}: {dm:+.4f}±{ds:.4f}" for L, (dm, ds) in zip(Ls, diffs)) + "; extrapolated to omega -> 0: " + fmt(
        f"L={L}: {mc(data, 'richardson2', i)[0]:+.1e}" for i, L in enumerate(Ls)) + ".")
    trend = ("it grows with L over this range" if all(np.diff([r for r, _ in ratios]) > 0)
             else "it is not monotone in L over this range")
    result.notes.append("single-head effective-sample factor L/L_eff (MC, vs e=2.718 in the mean-field theory): "
                        + fmt(f"L={L}: {r:.2f}±{rs:.2f}" for L, (r, rs) in zip(Ls, ratios))
                        + f"; {trend}. The factor e is exact only for the mean-field loss (symbolic row).")
    off = []
    for i, L in enumerate(Ls):
        if L in SPEC4:
            mean, se = mc(data, "single", i)
            zval = (mean - SPEC4[L]["single"]) / math.hypot(se, float(data["raw_se"]["single"][i]) * k_ref)
            off.append(f"L={L}: {mean:.3f} vs {SPEC4[L]['single']:.3f} (z={zval:+.1f})")
    result.notes.append(
        f"The SPEC 4 'single head' column is compared with the trained L=40 head ({om_t}, {mu_t}) held fixed at "
        "every L, which it matches; the per-L mean-field optimum head (omega=1/sqrt(d)) differs from it: "
        + fmt(off) + " (z with the combined SE), so that column is not the per-L optimum.")
