"""H6 display: risks against L (exact GD / DGD and the mean-field single head as theory lines, Monte Carlo as
markers, SPEC 4 as grey squares) and the paired Monte Carlo differences."""
from __future__ import annotations

import numpy as np

from theory.mean_field import single_head_optimum
from theory.risks import dgd_risk, gd_risk

from ... import style
from .judge import SPEC4

SERIES = (("multi", "multi-head (MC)", 0, "o"), ("gd", "GD (MC)", 1, "v"), ("dgd", "DGD (MC)", 2, "^"),
          ("single", "single head, $\\tilde{L}$-opt (MC)", 3, "D"),
          ("single_trained", "single head, trained (MC)", 5, "d"), ("ridge", "ridge/Bayes (MC)", 4, "s"))


def display(data: dict, p, figures) -> list[str]:
    d, s2 = p.problem.d, p.problem.sigma2
    eta = 2 * p.omega * p.mu
    Ls = [int(v) for v in data["Ls"]]
    mean, se = data["mean"], data["se"]
    fig, axes = style.figure(ncols=2, width=4.6)
    ax = axes[0, 0]
    Lf = np.arange(min(Ls), max(Ls) + 1)
    style.theory_line(ax, Lf, [gd_risk(d=d, L=int(L), sigma2=s2, eta=eta) for L in Lf], "GD exact (theory)",
                      style.COLORS[1])
    style.theory_line(ax, Lf, [dgd_risk(d=d, L=int(L), sigma2=s2, eta=eta) for L in Lf], "DGD exact (theory)",
                      style.COLORS[2])
    style.theory_line(ax, Lf, [single_head_optimum(d=d, L=int(L), sigma2=s2)[2] for L in Lf],
                      "single head, mean-field $\\tilde{L}$ (theory)", style.COLORS[3], alpha=0.5)
    for key, label, ci, mk in SERIES:
        style.sim_points(ax, Ls, mean[key], se[key], label, style.COLORS[ci], marker=mk)
    refL = list(SPEC4)
    for j, key in enumerate(("multi", "gd", "dgd", "single", "ridge")):
        style.reference_points(ax, refL, [SPEC4[L][key] for L in refL], "SPEC 4 (published)" if j == 0 else None)
    ax.set(xlabel="context length $L$", ylabel="risk $\\mathbb{E}(y_q-\\hat y)^2$",
           title=f"H6: $d={d}$, $\\sigma^2={s2}$, $\\eta={eta:.3f}$")
    ax.legend(fontsize=6.5)
    ax = axes[0, 1]
    style.sim_points(ax, Ls, mean["multi-dgd"], se["multi-dgd"], "multi-head $-$ DGD (paired MC)", style.COLORS[0])
    style.sim_points(ax, Ls, mean["single-multi"], se["single-multi"], "single $-$ multi-head (paired MC)",
                     style.COLORS[3], marker="D")
    style.baseline(ax, Lf, np.zeros_like(Lf, dtype=float), "0")
    ax.set(xlabel="context length $L$", ylabel="risk difference", title="paired differences")
    ax.legend(fontsize=7)
    return [style.save(fig, figures("h6_risk_vs_L.png"))]
