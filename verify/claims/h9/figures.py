"""H9 display: Γ (trained) beside Γ*_centred, Γ*_plain and Σ⁻¹ on one colour scale; the per-head Ω_h of one seed;
risk bars (trained model, centred GD at Γ*, plain debiased GD, ridge/Bayes)."""
from __future__ import annotations

import numpy as np

from ... import style
from .compute import GAMMAS
from .judge import active_heads, gamma_of, pattern_members, theory_matrices


def heatmaps(data: dict, p, figures) -> str:
    names = list(data["covs"])
    fig, axes = style.figure(ncols=4, nrows=len(names), width=2.2, height=2.2)
    for r, name in enumerate(names):
        cov = data["covs"][name]
        S = np.asarray(cov["mc"]["sigma"])
        mats = theory_matrices(S, p)
        keep = pattern_members(cov["trained"], p.min_ov_last)
        G = gamma_of(cov["trained"])[keep].mean(0) if keep.any() else np.full(S.shape, np.nan)
        panels = ((f"trained Γ (mean, {int(keep.sum())} seeds)", G), ("Γ*$_{centred}$", mats["centred"]),
                  ("Γ*$_{plain}$", mats["plain"]),
                  ("Σ$^{-1}$", mats["sigma_inv"]))
        lim = max(float(np.nanmax(np.abs(m))) for _, m in panels if np.isfinite(m).any())
        for c, (title, m) in enumerate(panels):
            ax = axes[r][c]
            im = ax.imshow(m, cmap="RdBu_r", vmin=-lim, vmax=lim)
            ax.set_title(f"{name}: {title}", fontsize=7)
            ax.grid(False)
            ax.set_xticks([])
            ax.set_yticks([])
            for (i, j), v in np.ndenumerate(m):
                if i == j:
                    ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=5)
        fig.colorbar(im, ax=axes[r][-1], shrink=0.8)
    fig.suptitle("H9: Γ = Σ_h μ_h Ω_h against the theory's preconditioners (one colour scale per row)", fontsize=8)
    return style.save(fig, figures("h9_gamma_heatmaps.png"))


def heads(data: dict, p, figures) -> str:
    names = list(data["covs"])
    H = p.n_head
    fig, axes = style.figure(ncols=H, nrows=len(names), width=1.9, height=1.9)
    for r, name in enumerate(names):
        tr = data["covs"][name]["trained"]
        Om, mu, act = np.asarray(tr["kq"]), np.asarray(tr["mu"]), active_heads(tr)
        lim = float(np.abs(Om[0]).max()) or 1.0
        for h in range(H):
            ax = axes[r][h]
            ax.imshow(Om[0, h], cmap="RdBu_r", vmin=-lim, vmax=lim)
            ax.set_title(f"{name} h{h + 1}: μ={mu[0, h]:+.2f}" + ("" if act[0, h] else " (dummy)"), fontsize=6)
            ax.grid(False)
            ax.set_xticks([])
            ax.set_yticks([])
    fig.suptitle(f"H9: per-head KQ x-blocks Ω_h, seed {data['covs'][names[0]]['trained']['seeds'][0]}", fontsize=8)
    return style.save(fig, figures("h9_heads.png"))


def bars(data: dict, p, figures) -> str:
    names = list(data["covs"])
    fig, axes = style.figure(ncols=len(names), width=3.6)
    i_opt, i_id = GAMMAS.index("opt_centred"), GAMMAS.index("scaled_identity")
    for ax, name in zip(axes[0], names):
        cov = data["covs"][name]
        mc, tr = cov["mc"], cov["trained"]
        loss = np.asarray(tr["final_loss"])[pattern_members(tr, p.min_ov_last)]
        loss_se = float(loss.std(ddof=1) / np.sqrt(loss.size)) if loss.size > 1 else 0.0
        vals = [(f"trained H={p.n_head}\n({loss.size} pattern seeds)", float(loss.mean()), loss_se),
                ("centred GD\nat Γ*$_c$", float(mc["centred"]["risk"][i_opt]), float(mc["centred"]["risk_se"][i_opt])),
                ("debiased GD\n(c*·I)", float(mc["centred"]["risk"][i_id]), float(mc["centred"]["risk_se"][i_id])),
                ("ridge/Bayes", float(mc["ridge"][0]), float(mc["ridge"][1]))]
        x = np.arange(len(vals))
        ax.bar(x, [v for _, v, _ in vals], yerr=[e for *_, e in vals], color=[style.COLORS[k] for k in range(4)],
               alpha=0.75, capsize=3)
        ax.set_xticks(x, [lab for lab, *_ in vals], fontsize=6.5)
        ax.set_ylabel("risk (MC, ±1 SE; trained: seed SE)")
        ax.set_title(f"H9 {name} Σ: risks", fontsize=8)
        style.baseline(ax, [-0.5, len(vals) - 0.5], [p.problem.sigma2] * 2, "σ² (irreducible)")
        ax.legend(fontsize=6)
    return style.save(fig, figures("h9_risk_bars.png"))


def display(data: dict, p, figures) -> list[str]:
    return [heatmaps(data, p, figures), heads(data, p, figures), bars(data, p, figures)]
