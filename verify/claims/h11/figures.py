"""H11 display: the seed frequency per H with its Wilson interval, and every member's final risk."""
from __future__ import annotations

import numpy as np

from ... import style
from ...stats import wilson
from .judge import classify, loss_levels, split_frequency


def display(data: dict, p, figures) -> list[str]:
    multi, single = loss_levels(p.problem)
    cut = 0.5 * (multi + single)
    Hs = list(p.heads)
    ens = {H: data["ensembles"][str(H)] for H in Hs}
    good = {H: classify(ens[H], cut)[0] for H in Hs}
    fig, axes = style.figure(ncols=3, width=3.8)
    x = np.arange(len(Hs))
    fr = np.array([good[H].mean() for H in Hs])
    ci = np.array([wilson(int(good[H].sum()), len(good[H])) for H in Hs])
    ax = axes[0][0]
    ax.bar(x, fr, color=style.COLORS[0], alpha=0.7, label="split with low loss (trained)")
    ax.errorbar(x, fr, yerr=[fr - ci[:, 0], ci[:, 1] - fr], fmt="none", color="k", capsize=3, lw=1,
                label="95% Wilson interval")
    style.baseline(ax, [-0.5, len(Hs) - 0.5], [p.min_fraction] * 2, label="threshold")
    ax.set_xticks(x, [f"H={H}\n(n={len(good[H])})" for H in Hs])
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("fraction of seeds")
    ax.legend(fontsize=6, loc="upper left")
    ax = axes[0][1]
    for i, H in enumerate(Hs):
        loss, se, g = np.asarray(ens[H]["final_loss"]), np.asarray(ens[H]["final_loss_se"]), good[H]
        jitter = np.linspace(-0.2, 0.2, len(loss))
        ax.errorbar(i + jitter[g], loss[g], yerr=4 * se[g], fmt="o", ms=4, color=style.COLORS[0],
                    label="split, low loss (trained)" if i == 1 else None)
        ax.errorbar(i + jitter[~g], loss[~g], yerr=4 * se[~g], fmt="s", ms=4, color=style.COLORS[1],
                    mfc="none", label="other seeds (trained)" if i == 0 else None)
    ax.axhline(multi, color="k", lw=1.2, label="multi-head optimum of $\\tilde L$ (theory)")
    ax.axhline(single, color="k", lw=1.2, ls=":", label="single-head optimum of $\\tilde L$ (theory)")
    ax.axhline(cut, color="0.5", lw=1, ls="--", label="classification cut")
    ax.set_xticks(range(len(Hs)), [f"H={H}" for H in Hs])
    ax.set_ylabel(f"final risk at L={p.problem.L} (±4 SE)")
    ax.legend(fontsize=6)
    ax = axes[0][2]
    for i, H in enumerate(Hs):
        if "omega" not in ens[H]["trajectory"]:
            continue
        t, f = split_frequency(ens[H]["trajectory"])
        ax.plot(t, f, color=style.COLORS[i % len(style.COLORS)], lw=1.2, label=f"H={H} (trained, n={len(good[H])})")
    span = ens[Hs[-1]]["trajectory"]["step"]
    ax.axvspan(span[0] + (1 - p.trend_window) * (span[-1] - span[0]), span[-1], color="0.93", zorder=0)
    ax.set(xlabel="Adam step", ylabel="fraction of seeds split", ylim=(0, 1.05))
    ax.set_title("split frequency over training (shaded: settledness window)", fontsize=7)
    ax.legend(fontsize=6)
    return [style.save(fig, figures("h11_seed_frequency.png"))]
