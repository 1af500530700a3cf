"""H6 — risk vs context length L: multi-head attention ≈ debiased GD, a single head is worse (the factor e of
the mean-field theory), and the exact finite-L GD / DGD risks equal Monte Carlo (SPEC 3.4, SPEC 4 table)."""
from __future__ import annotations

import math

import numpy as np
import sympy as sp

from numerics import dgd_predict, gd_predict, reduced_attention_predict, ridge_predict
from numerics.montecarlo import mc_losses
from theory import symbols as sym
from theory.mean_field import single_head_optimum, single_head_optimum_expr
from theory.risks import dgd_optimal_risk_expr, dgd_risk, gd_optimal_risk_proportional_expr, gd_risk

from .. import style
from ..registry import RunContext, claim
from ..result import ClaimResult, Z, at_least, at_most, holds, within

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


def _paired_risks(predictors: dict, *, d: int, L: int, sigma2: float, n_prompts: int, chunk: int, seed: int,
                  device: str, pairs: dict) -> dict:
    """Monte Carlo risks of several estimators on the *same* prompts (common random numbers), and of the
    paired loss differences named in ``pairs`` ({name: (a, b)} -> loss_a - loss_b). Returns {name: (mean, se)}."""
    def losses(p):
        out = {name: (p.yq - f(p.x, p.y, p.xq)) ** 2 for name, f in predictors.items()}  # (k,) each
        out.update({name: out[a] - out[b] for name, (a, b) in pairs.items()})
        return out

    return mc_losses(losses, d=d, L=L, sigma2=sigma2, n_prompts=n_prompts, seed=seed, device=device, chunk=chunk)


def _effective_length_fn():
    """L' with R*_DGD(L') = R, solved by sympy from the exact optimal DGD risk (continuous L')."""
    R = sp.Symbol("R", positive=True)
    (sol,) = sp.solve(sp.Eq(dgd_optimal_risk_expr(), R), sym.L)
    f = sp.lambdify((R, sym.d, sym.sigma2), sol, "math")
    df = sp.lambdify((R, sym.d, sym.sigma2), sp.diff(sol, R), "math")
    return f, df


def _factor_e_identity() -> sp.Expr:
    """Mean-field single-head optimum at L minus the mean-field multi-head infimum (= proportional-limit GD
    optimum, xi = d/L) at L/e: identically 0 (SPEC 3.1)."""
    single = single_head_optimum_expr()["loss"].subs(sym.c, (1 + sym.sigma2) / sym.L)
    multi_at_l_over_e = gd_optimal_risk_proportional_expr().subs(sym.xi, sym.d * sp.E / sym.L)
    return sp.simplify(single - multi_at_l_over_e)


@claim("H6", source="HPCY25 §5 (Fig. estimator comparison), SPEC 3.4, 4",
       statement="Over L = 10..80 (d=5, sigma2=0.1) the multi-head reduced attention (omega=±0.13, mu=±3.45) "
                 "has the risk of debiased GD with eta = 2*0.13*3.45; the exact finite-L GD / DGD risks equal "
                 "Monte Carlo; a single head is worse at every L (mean-field: GD with L/e samples).",
       quick={"d": 5, "sigma2": 0.1, "Ls": (10, 20, 40, 60, 80), "omega": 0.13, "mu": 3.45,
              "n_prompts": 100_000, "chunk": 25_000, "trained_single": (-0.52, -1.55), "near_fraction": 0.1},
       paper={"d": 5, "sigma2": 0.1, "Ls": (10, 20, 40, 60, 80), "omega": 0.13, "mu": 3.45,
              "n_prompts": 2_000_000, "chunk": 50_000, "trained_single": (-0.52, -1.55), "near_fraction": 0.1})
def check_h6(p, ctx: RunContext, result: ClaimResult) -> None:
    d, s2 = int(p["d"]), float(p["sigma2"])
    w, m = float(p["omega"]), float(p["mu"])
    eta = 2 * w * m
    n = int(p["n_prompts"])
    Ls = [int(v) for v in p["Ls"]]
    om_t, mu_t = (float(v) for v in p["trained_single"])
    frac = float(p["near_fraction"])
    l_eff, dl_eff = _effective_length_fn()
    k_ref = math.sqrt(n / SPEC4_PROMPTS)  # SE of a published point ~ our SE * sqrt(n / 50k)

    rows = {}
    for i, L in enumerate(Ls):
        om1, mu1, loss1 = single_head_optimum(d=d, L=L, sigma2=s2)
        preds = {
            "multi": lambda x, y, q: reduced_attention_predict(x, y, q, omega=[w, -w], mu=[m, -m]),
            "gd": lambda x, y, q: gd_predict(x, y, q, eta=eta),
            "dgd": lambda x, y, q: dgd_predict(x, y, q, eta=eta),
            "single": lambda x, y, q, o=om1, u=mu1: reduced_attention_predict(x, y, q, omega=[o], mu=[u]),
            "single_trained": lambda x, y, q: reduced_attention_predict(x, y, q, omega=[om_t], mu=[mu_t]),
            "ridge": lambda x, y, q: ridge_predict(x, y, q, lam=d * s2),
        }
        mc = _paired_risks(preds, d=d, L=L, sigma2=s2, n_prompts=n, chunk=int(p["chunk"]),
                           seed=ctx.seed * 1000 + 600 + i, device=ctx.device,
                           pairs={"multi-dgd": ("multi", "dgd"), "single-multi": ("single", "multi")})
        exact = {"gd": gd_risk(d=d, L=L, sigma2=s2, eta=eta), "dgd": dgd_risk(d=d, L=L, sigma2=s2, eta=eta)}
        R1, se1 = mc["single"]
        leff = l_eff(R1, d, s2)
        ratio = L / leff
        ratio_se = L / leff**2 * abs(dl_eff(R1, d, s2)) * se1
        rows[L] = {"mc": mc, "exact": exact, "single_mf": loss1, "omega1": om1, "mu1": mu1,
                   "ratio": ratio, "ratio_se": ratio_se}

        for name in ("gd", "dgd"):
            mean, se = mc[name]
            result.add(within(f"{name.upper()} risk, L={L}: Monte Carlo vs exact", mean, exact[name], Z * se,
                              f"{Z:.0f} SE of the Monte Carlo mean ({n} prompts)", kind="monte-carlo"))
        diff, dse = mc["multi-dgd"]
        gap, gse = mc["single-multi"]
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
                mean, se = mc[name]
                tol = Z * math.hypot(se, se * k_ref) + SPEC4_ROUNDING
                result.add(within(f"SPEC 4 reference, {key} (L={L})", mean, ref[key], tol,
                                  f"{Z:.0f} x combined SE (ours; published ~ ours*sqrt({n}/50k)) + 0.0005 "
                                  "rounding" + ("; single = trained head (-0.52, -1.55) held fixed"
                                                if key == "single" else ""), kind="monte-carlo"))
            for name in ("gd", "dgd"):
                tol = Z * mc[name][1] * k_ref + SPEC4_ROUNDING
                result.add(within(f"SPEC 4 reference, {name} (L={L})", exact[name], ref[name], tol,
                                  f"exact closed form vs published MC: {Z:.0f} x its SE (~ ours*sqrt({n}/50k)) "
                                  "+ 0.0005 rounding", kind="monte-carlo"))

    result.add(holds("mean-field single-head optimum at L = mean-field multi-head infimum at L/e",
                     _factor_e_identity() == 0,
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
    diffs = [rows[L]["mc"]["multi-dgd"] for L in Ls]
    sign_note = ("; the multi-head is *better* than DGD at the smallest L (by more than 4 SE: the O(omega^2) "
                 "terms help there)" if diffs[0][0] + Z * diffs[0][1] < 0 else "")
    result.notes.append("multi-head - DGD (paired): " + fmt(
        f"L={L}: {dm:+.4f}±{ds:.4f}" for L, (dm, ds) in zip(Ls, diffs)) + sign_note + ".")
    ratios = [rows[L]["ratio"] for L in Ls]
    trend = ("it grows with L over this range" if all(np.diff(ratios) > 0)
             else "it is not monotone in L over this range")
    result.notes.append("single-head effective-sample factor L/L_eff (MC, vs e=2.718 in the mean-field theory): "
                        + fmt(f"L={L}: {r['ratio']:.2f}±{r['ratio_se']:.2f}" for L, r in rows.items())
                        + f"; {trend}. The factor e is exact only for the mean-field loss (symbolic row).")
    off = []
    for L, r in rows.items():
        if L in SPEC4:
            mean, se = r["mc"]["single"]
            zval = (mean - SPEC4[L]["single"]) / math.hypot(se, se * k_ref)
            off.append(f"L={L}: {mean:.3f} vs {SPEC4[L]['single']:.3f} (z={zval:+.1f})")
    result.notes.append(
        "The SPEC 4 'single head' column is compared with the trained L=40 head (-0.52, -1.55) held fixed at every "
        "L, which it matches; the per-L mean-field optimum head (omega=1/sqrt(d)) differs from it: " + fmt(off)
        + " (z with the combined SE), so that column is not the per-L optimum.")

    # ---- figure
    fig, axes = style.figure(ncols=2, width=4.6)
    ax = axes[0, 0]
    Lf = np.arange(min(Ls), max(Ls) + 1)
    style.theory_line(ax, Lf, [gd_risk(d=d, L=int(L), sigma2=s2, eta=eta) for L in Lf], "GD exact", style.COLORS[1])
    style.theory_line(ax, Lf, [dgd_risk(d=d, L=int(L), sigma2=s2, eta=eta) for L in Lf], "DGD exact",
                      style.COLORS[2])
    style.theory_line(ax, Lf, [single_head_optimum(d=d, L=int(L), sigma2=s2)[2] for L in Lf],
                      "single head, mean-field $\\tilde{L}$", style.COLORS[3], alpha=0.5)
    series = (("multi", "multi-head (MC)", 0, "o"), ("gd", "GD (MC)", 1, "v"), ("dgd", "DGD (MC)", 2, "^"),
              ("single", "single head, $\\tilde{L}$-opt (MC)", 3, "D"),
              ("single_trained", "single head, trained (MC)", 5, "d"), ("ridge", "ridge/Bayes (MC)", 4, "s"))
    for key, label, ci, mk in series:
        style.sim_points(ax, Ls, [rows[L]["mc"][key][0] for L in Ls], [rows[L]["mc"][key][1] for L in Ls],
                         label, style.COLORS[ci], marker=mk)
    refL = [L for L in SPEC4]
    for j, key in enumerate(("multi", "gd", "dgd", "single", "ridge")):
        style.reference_points(ax, refL, [SPEC4[L][key] for L in refL], "SPEC 4 (published)" if j == 0 else None)
    ax.set(xlabel="context length $L$", ylabel="risk $\\mathbb{E}(y_q-\\hat y)^2$",
           title=f"H6: $d={d}$, $\\sigma^2={s2}$, $\\eta={eta:.3f}$")
    ax.legend(fontsize=6.5)
    ax = axes[0, 1]
    style.sim_points(ax, Ls, [rows[L]["mc"]["multi-dgd"][0] for L in Ls],
                     [rows[L]["mc"]["multi-dgd"][1] for L in Ls], "multi-head $-$ DGD (paired MC)", style.COLORS[0])
    style.sim_points(ax, Ls, [rows[L]["mc"]["single-multi"][0] for L in Ls],
                     [rows[L]["mc"]["single-multi"][1] for L in Ls], "single $-$ multi-head (paired MC)",
                     style.COLORS[3], marker="D")
    style.baseline(ax, Lf, np.zeros_like(Lf, dtype=float), "0")
    ax.set(xlabel="context length $L$", ylabel="risk difference", title="paired differences")
    ax.legend(fontsize=7)
    result.figures.append(style.save(fig, ctx.figure("h6_risk_vs_L.png")))
