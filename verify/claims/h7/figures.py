"""H7 display: the ratio map r(xi, sigma2) with contours, its sections (theory), and the finite-size gap of the
Monte Carlo Bayes risk with its fitted order."""
from __future__ import annotations

import numpy as np

from theory.bayes import excess_ratio_proportional

from ... import style
from .judge import bayes_gap_fit, ratio_grid


def display(data: dict, p, figures) -> list[str]:
    xs, ss, R = np.asarray(data["xi"]), np.asarray(data["sigma2"]), ratio_grid(data)
    spots = np.asarray(data["spots"])
    xs0, s0 = p.spot_xi, p.problem.sigma2
    fig, axes = style.figure(ncols=3, width=3.9)
    ax = axes[0, 0]
    mesh = ax.pcolormesh(xs, ss, np.log10(R.T), shading="auto", cmap="viridis")
    levels, dashes = (1.1, 1.5, 2, 5), ("solid", "dashed", "dotted", "dashdot")
    ax.contour(xs, ss, R.T, levels=list(levels), colors="w", linestyles=list(dashes), linewidths=1.1)
    for lev, ls in zip(levels, dashes):
        ax.plot([], [], color="k", ls=ls, lw=1.1, label=f"$r={lev:g}$")
    style.reference_points(ax, [xs0], [s0], "paper point")
    ax.set(xscale="log", yscale="log", xlabel="$\\xi = d/L$", ylabel="$\\sigma^2$",
           title="excess-risk ratio GD/Bayes (theory)")
    fig.colorbar(mesh, ax=ax, label="$\\log_{10} r$")
    ax.legend(loc="upper right", fontsize=6.5, framealpha=0.8, frameon=True)
    ax.grid(False)
    ax = axes[0, 1]
    for ci, s_show in enumerate((0.01, 0.1, 1.0, 10.0)):
        style.theory_line(ax, xs, excess_ratio_proportional(xi=xs, sigma2=s_show), f"$\\sigma^2={s_show:g}$",
                          style.COLORS[ci])
        style.baseline(ax, xs, np.full_like(xs, 1 + 1 / s_show), "$1+1/\\sigma^2$" if ci == 0 else None)
    ax.set(xscale="log", yscale="log", xlabel="$\\xi = d/L$", ylabel="excess-risk ratio $r$",
           title="proportional limit (theory)")
    ax.legend(fontsize=7)
    ax = axes[0, 2]
    gap, gap_se, coef, _ = bayes_gap_fit(data, p)
    style.sim_points(ax, spots[:, 0], gap, gap_se, "Bayes MC $-$ limit", style.COLORS[0])
    if np.all(np.isfinite(coef)):
        dd = np.geomspace(spots[0, 0], spots[-1, 0], 50)
        style.theory_line(ax, dd, np.exp(coef[0]) * dd ** coef[1], f"fit to MC: slope {coef[1]:.2f}",
                          style.COLORS[1])
    ax.set_xscale("log")
    ax.set_xticks(spots[:, 0], [f"{int(v)}" for v in spots[:, 0]])
    ax.minorticks_off()
    ax.set(yscale="log", xlabel="$d$ ($L = d/\\xi$)", ylabel="finite-size gap of the Bayes risk",
           title=f"$\\xi={xs0:g}$, $\\sigma^2={s0:g}$")
    ax.legend(fontsize=7)
    return [style.save(fig, figures("h7_excess_ratio.png"))]
