"""C1 display: excess risk vs n — trained model members and every method (Monte Carlo ± SE), OLS exact as a line."""
from __future__ import annotations

import numpy as np

from theory.sparse_ols import ols_excess_risk

from ... import style

MARKERS = {"ols": "x", "ridge": "s", "gd": "v", "pto": "^", "lasso": "D"}


def display(data: dict, p, figures) -> list[str]:
    ns = np.asarray(data["ns"])
    fig, axes = style.figure(width=4.8)
    ax = axes[0, 0]
    d, s2 = p.problem.d, p.problem.sigma2
    nf = [n for n in range(1, int(ns.max()) + 1) if abs(n - d) >= 2]
    lo, hi = [n for n in nf if n < d], [n for n in nf if n > d]
    for part in (lo, hi):
        if part:
            style.theory_line(ax, part, [ols_excess_risk(d=d, n=n, sigma2=s2) for n in part],
                              "OLS exact (theory)" if part is lo or not lo else None, style.COLORS[5], alpha=0.6)
    for i, (m, mk) in enumerate(MARKERS.items()):
        r = data["methods"][m]
        ok = np.isfinite(r["risk"])
        label = f"{m} (MC, T={p.steps})" if m in ("gd", "pto") else f"{m} (MC)"
        style.sim_points(ax, ns[ok], r["risk"][ok], r["se"][ok], label, style.COLORS[i], marker=mk)
    model, mse = np.asarray(data["model"]), np.asarray(data["model_se"])
    for e in range(model.shape[0]):
        style.sim_points(ax, ns, model[e], mse[e], f"transformer, member {e} (trained)", "k", marker="o",
                         alpha=0.8)
    ax.set(yscale="log", xlabel="context examples $n$", ylabel="excess risk $\\mathbb{E}(\\hat y-\\beta^\\top x_q)^2$",
           title=f"C1: $d={d}$, $s={p.problem.s}$, $\\sigma^2={s2}$ (trained at $n={p.problem.L}$)")
    ax.legend(fontsize=6)
    return [style.save(fig, figures("c1_risk_vs_n.png"))]
