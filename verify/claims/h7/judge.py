"""H7 judge: the symbolic identities, the bounds 1 <= r < 1 + 1/sigma2 over the grid, the float64 ratio at the
spot point, and the Monte Carlo rows (ridge = posterior variance, finite-size order of the Bayes gap, finite-L
ratios of the exact optimal GD / DGD excess over the Monte Carlo Bayes excess).

The theory is looked up through its modules at call time (``bayes.excess_ratio_proportional``,
``bayes.bayes_risk_proportional``, ``risks.gd_risk``), so a power-table mutant that patches them is judged by these
same rows; the grid is evaluated here, not stored.
"""
from __future__ import annotations

import math

import numpy as np

from theory import bayes, risks

from ...result import Z, at_least, at_most, decided, holds, within
from ...stats import crossing, weighted_fit

#: Relative rounding allowance of the float64 ratio against its 30-digit evaluation: at most 64 roundings of
#: 2^-53 each (the stable forms take about 20 operations and have no cancellation, so no error amplification).
ROUNDING = 64 * 2.0**-53

#: Row names of theory.bayes.identities(), in the claim's order.
LABELS = {
    "bayes_is_spec_form": "Bayes risk from the MP fixed point = SPEC 3.4 form",
    "gd_limit_is_infimum": "lim GD optimal risk (d = xi L, L -> inf) = sigma2 + xi(1+s2)/(1+xi(1+s2))",
    "dgd_limit_is_gd": "lim DGD optimal risk = lim GD optimal risk",
    "stable_branches_agree": "stable Bayes form: (sqrt D - b)(sqrt D + b) = 4 xi^2 sigma2",
    "ratio_limit_xi_0": "lim_{xi->0} r = 1 + 1/sigma2",
    "ratio_limit_xi_inf": "lim_{xi->inf} r = 1",
    "ratio_limit_sigma2_inf": "lim_{sigma2->inf} r = 1",
    "bound_identity": "bound identity: (1+xi(1+s2)) - 1/m = xi (2 - xi s2 m), so r < 1+1/s2 iff xi s2 m < 2",
    "ratio_closed_form": "r = (1+s2) / (s2 m (1 + xi(1+s2)))",
}


def bayes_gap_fit(data: dict, p, first: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    r"""Finite-size gap of the Monte Carlo Bayes risk over its proportional limit at fixed xi, and the weighted fit
    :math:`\log(\text{gap}) = a + b\log d` over the spots from index ``first`` on (SE of log gap = SE / gap;
    :func:`verify.stats.weighted_fit`).

    Returns ``(gap, gap_se, coef, coef_se)``; ``coef`` is NaN when some gap is not positive (noise-dominated)
    or fewer than two spots are fitted."""
    spots = np.asarray(data["spots"])
    gap = spots[:, 4] - bayes.bayes_risk_proportional(xi=p.spot_xi, sigma2=p.problem.sigma2)
    gap_se = spots[:, 5]
    g, e, dd = gap[first:], gap_se[first:], spots[first:, 0]
    if len(g) < 2 or not np.all(g > 0):
        return gap, gap_se, np.full(2, np.nan), np.full(2, np.nan)
    X = np.column_stack([np.ones(len(g)), np.log(dd)])
    coef, coef_se = weighted_fit(X, np.log(g), e / g)
    return gap, gap_se, coef, coef_se


def ratio_grid(data: dict) -> np.ndarray:
    """``(n_xi, n_s2)``: r(xi, sigma2) of :func:`theory.bayes.excess_ratio_proportional` on the stored grid."""
    xs, ss = np.asarray(data["xi"]), np.asarray(data["sigma2"])
    return np.asarray(bayes.excess_ratio_proportional(xi=xs[:, None], sigma2=ss[None, :]), dtype=float)


def judge(data: dict, p, result) -> None:
    for key, label in LABELS.items():
        result.add(holds(label, bool(data["identities"][key]), "sympy: simplify(difference) == 0", kind="symbolic"))

    xs, ss = np.asarray(data["xi"]), np.asarray(data["sigma2"])
    R = ratio_grid(data)                                                               # (n_xi, n_s2)
    xsm = xs[:, None] * ss[None, :] * bayes.mp_stieltjes(xi=xs[:, None], sigma2=ss[None, :])
    result.add(
        at_most("max of xi sigma2 m(-xi sigma2) over the grid (must be < 1, hence < 2)",
                float(np.max(xsm)), 1.0,
                "m(-lam) = int dMP(x)/(x+lam) < 1/lam (MP support in [0, inf)); numeric on the grid"),
        at_least("min excess-risk ratio over the grid", float(R.min()), 1.0,
                 "Bayes is optimal: r >= 1 (float64 on the grid)"),
        at_most("max excess-risk ratio over the grid", float(R.max()), 1 + 1 / ss.min(),
                "sup_xi r = 1 + 1/sigma2 (limit xi -> 0, symbolic rows), at the smallest grid sigma2"),
        holds("r decreasing in xi and in sigma2 on the grid",
              bool(np.all(np.diff(R, axis=0) < 0) and np.all(np.diff(R, axis=1) < 0)),
              "finite differences on the grid", kind="theory"),
    )
    xs0, s0 = p.spot_xi, p.problem.sigma2
    r_paper = bayes.excess_ratio_proportional(xi=xs0, sigma2=s0)
    r_exact = float(data["r_exact"])
    result.add(within(f"r at xi={xs0:g}, sigma2={s0:g} (float64 stable form vs 30-digit evalf)", r_paper, r_exact,
                      ROUNDING * r_exact, "deterministic: 64 float64 roundings (64 x 2^-53 relative; the stable "
                      "forms take about 20 operations without cancellation); the 30-digit value is the derived "
                      "expression's, evaluated at compute time", kind="theory"))

    spots = np.asarray(data["spots"])        # d, L, ridge mean, ridge se, rb mean, rb se, diff mean, diff se
    for (d, L, *_, diff, dse), n in zip(spots, data["spot_prompts"]):
        result.add(within(f"ridge MC - posterior-variance MC, d={int(d)}, L={int(L)}", diff, 0.0, Z * dse,
                          f"{Z:.0f} SE of the paired difference ({int(n)} prompts)", kind="monte-carlo"))
    gap, gap_se, coef, coef_se = bayes_gap_fit(data, p)
    _, _, coef_hi, _ = bayes_gap_fit(data, p, first=1)
    trunc = abs(coef_hi[1] - coef[1]) if len(spots) >= 3 else 0.0
    result.add(within("finite-size Bayes gap: slope of log(gap) vs log d (xi fixed)", coef[1], -1.0,
                      Z * coef_se[1] + trunc,
                      f"{Z:.0f} SE of the weighted fit (MC SEs propagated) + truncation allowance {trunc:.2g} = "
                      "|slope without the smallest d - slope| (the O(1/d^2) term bends the log-log line); the gap "
                      "is the Monte Carlo Bayes risk minus the theory's proportional limit, so a wrong limit bends "
                      "or breaks it; O(1/d) is the mean term of the real-Wishart CLT for linear spectral statistics "
                      "(Bai & Silverstein 2004)", kind="monte-carlo"))
    d0, L0 = int(spots[0, 0]), int(spots[0, 1])
    bayes_excess_finite, be_se = spots[0, 4] - s0, spots[0, 5]
    fin = {k: f(d=d0, L=L0, sigma2=s0) - s0 for k, f in (("GD", risks.gd_risk), ("DGD", risks.dgd_risk))}
    for k, v in fin.items():
        ratio = v / bayes_excess_finite
        rse = ratio * be_se / bayes_excess_finite
        result.add(decided(f"finite ratio {k}/Bayes excess at d={d0}, L={L0}", ratio, ratio - Z * rse,
                           ratio + Z * rse, 1.0,
                           f"exact optimal-step risk over the Monte Carlo Bayes excess ± {Z:.0f} SE (delta method); "
                           "Bayes is optimal: pass when the interval is above 1, fail when below; the proportional "
                           f"limit is r = {r_paper:.3f}", kind="monte-carlo"))

    # ---- notes
    i_max = np.unravel_index(np.argmax(R), R.shape)
    lines = []
    for s_show in (0.01, 0.1, 1.0):
        j = int(np.argmin(abs(ss - s_show)))
        x15, x11 = (crossing(xs, R[:, j], lev, direction="down", log_x=True) for lev in (1.5, 1.1))
        lines.append(f"sigma2={ss[j]:.3g}: r <= 1.5 for xi >= {x15:.3g}, "
                     f"r <= 1.1 for xi >= {x11:.3g} (sup 1+1/sigma2 = {1 + 1 / ss[j]:.3g})")
    result.notes.append(
        "Population theory only in the heat map and curves: proportional limits of the exact optimal GD/DGD "
        "risks (both have the same limit, so one ratio serves both) and the Marchenko–Pastur Bayes risk. "
        "Monte Carlo: ridge at lambda=d*sigma2 and the posterior-variance estimator at finite (d, L=d/xi).")
    result.notes.append(
        f"Maximum ratio over the grid: {R.max():.3g} at xi={xs[i_max[0]]:.3g}, sigma2={ss[i_max[1]]:.3g} "
        "(the sup 1 + 1/sigma2 is approached as xi -> 0). The ratio is close to 1 only when data are scarce "
        "(large xi, where both risks approach the trivial 1 + sigma2) or the noise is large: r < 1.1 for every xi "
        "iff sigma2 >= 10, r < 1.5 for every xi iff sigma2 >= 2. Small xi (many samples) is where GD is "
        "*farthest* from Bayes: its excess ~ xi(1+sigma2) vs Bayes ~ xi sigma2. " + "; ".join(lines) + " (xi "
        "where r crosses the level, interpolated linearly in log xi between grid points: verify.stats.crossing).")
    b_inf = bayes.bayes_risk_proportional(xi=xs0, sigma2=s0)
    result.notes.append(
        f"At the paper point xi={xs0:g}, sigma2={s0:g}: r = {r_paper:.3f} (proportional limit); at d={d0}, L={L0} "
        f"the exact optimal GD / DGD excess {fin['GD']:.4f} / {fin['DGD']:.4f} over the Monte Carlo Bayes excess "
        f"{bayes_excess_finite:.5f}±{be_se:.5f} gives {fin['GD'] / bayes_excess_finite:.2f} / "
        f"{fin['DGD'] / bayes_excess_finite:.2f}. Finite-size Bayes gap (MC - limit {b_inf:.5f}): "
        + ", ".join(f"d={int(row[0])}: {g:.2e}±{e:.1e}" for row, g, e in zip(spots, gap, gap_se))
        + f"; fitted order {coef[1]:.3f}±{coef_se[1]:.3f}.")
