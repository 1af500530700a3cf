"""H2 display: (omega_h, mu_h) of every member and head against the slow manifold 2 mu omega = eta*, eta_eff per
seed against eta*, and the |omega| spread over training."""
from __future__ import annotations

import numpy as np

from numerics.patterns import patterns
from theory.mean_field import eta_star

from ... import style
from .judge import approximation_allowance, spread_trajectory


def display(data: dict, p, figures) -> list[str]:
    d, L, s2 = p.problem.d, p.problem.L, p.problem.sigma2
    es = eta_star(d=d, L=L, sigma2=s2)
    es_ref = approximation_allowance(d, L, s2)[1]
    Hs = list(p.heads)
    pats = {H: patterns(data["ensembles"][str(H)]["kq"], data["ensembles"][str(H)]["ov"],
                        data["ensembles"][str(H)]["d"]) for H in Hs}
    fig, axes = style.figure(ncols=len(Hs) + 2, width=3.0, height=2.9)
    for ax, H in zip(axes[0], Hs):
        pat = pats[H]
        for e in range(pat.n_member):
            c = style.COLORS[e % len(style.COLORS)]
            act = ~pat.dummy[e]
            ax.plot(pat.omega[e, act], pat.mu[e, act], "o", color=c, ms=4, mfc=c if pat.split[e] else "none")
            ax.plot(pat.omega[e, ~act], pat.mu[e, ~act], "x", color=c, ms=4)
        w = np.linspace(0.03, 0.6, 100)
        for sgn in (1, -1):
            style.theory_line(ax, sgn * w, sgn * es / (2 * w), "pair on the slow manifold $2\\mu\\omega=\\eta^*$"
                              if sgn > 0 else None, "0.3")
        ax.set_xlim(-0.7, 0.7)
        lim = float(np.nanmax(np.abs(pat.mu))) * 1.2 + 0.1
        ax.set_ylim(-lim, lim)
        ax.set_xlabel("$\\omega_h$")
        ax.set_ylabel("$\\mu_h$")
        ax.set_title(f"H={H} trained (o active, x dummy, open: no split)", fontsize=7)
    axes[0][0].legend(fontsize=6, loc="upper left")
    ax = axes[0][len(Hs)]
    for i, H in enumerate(Hs):
        pat = pats[H]
        ax.plot(np.full(pat.n_member, i) + np.linspace(-0.15, 0.15, pat.n_member), pat.eta_eff, "o", ms=4,
                color=style.COLORS[0], mfc="none", label="trained, per seed" if i == 0 else None)
    ax.axhline(es, color="k", lw=1.4, label="$\\eta^*=1/(1+cd)$ (theory)")
    ax.axhline(es_ref, color="k", lw=1.0, ls=":", label="refined pair optimum (theory)")
    ax.set_xticks(range(len(Hs)), [f"H={H}" for H in Hs])
    ax.set_ylabel("$\\eta_{eff}=\\sum_h\\mu_h\\omega_h$")
    ax.legend(fontsize=6)
    ax = axes[0][len(Hs) + 1]
    for i, H in enumerate(Hs):
        t, y = spread_trajectory(data["ensembles"][str(H)]["trajectory"], pats[H].split)
        ax.plot(t, y, color=style.COLORS[i % len(style.COLORS)], lw=1.2, label=f"H={H} (trained, median)")
        ax.axvspan(t[0] + (1 - p.trend_window) * (t[-1] - t[0]), t[-1], color="0.93", zorder=0)
    ax.axhline(p.max_omega_spread, color="0.5", ls="--", lw=1, label="pass threshold")
    ax.set(xlabel="step", ylabel="spread of active $|\\omega_h|$ (split seeds)", ylim=(0, 1.5))
    ax.set_title("spread over training (shaded: trend-test window)", fontsize=7)
    ax.legend(fontsize=6)
    return [style.save(fig, figures("h2_head_groups.png"))]
