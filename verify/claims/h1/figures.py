"""H1 display: KQ and OV heatmaps of one seed per H (the notebooks' figure) and the three metrics per H."""
from __future__ import annotations

import matplotlib
import numpy as np

from numerics.patterns import patterns

from ... import style
from .judge import METRICS, SPEC4_PATTERNS, per_seed


def heatmaps(ens: dict, H: int, figures) -> str:
    """KQ^(h) and OV^(h) of one seed (the first that split) as heatmaps, one column per head."""
    kq, ov, d = np.asarray(ens["kq"]), np.asarray(ens["ov"]), ens["d"]
    pat = patterns(kq, ov, d)
    e = int(np.argmax(pat.split)) if pat.split.any() else 0
    fig, axes = style.figure(ncols=H, nrows=2, width=1.9, height=1.9)
    shown = kq[e].copy()
    shown[..., d:] = np.nan  # the columns acting on the query's zero label slot never matter (SPEC 2.1)
    lim_kq = float(np.nanmax(np.abs(shown))) or 1.0
    lim_ov = float(np.abs(ov[e]).max()) or 1.0
    cmap = matplotlib.colormaps["RdBu_r"].with_extremes(bad="0.8")
    for h in range(H):
        a, b = axes[0][h], axes[1][h]
        a.imshow(shown[h], cmap=cmap, vmin=-lim_kq, vmax=lim_kq)
        b.imshow(ov[e, h].T, cmap="RdBu_r", vmin=-lim_ov, vmax=lim_ov, aspect="auto")
        a.set_title(f"head {h + 1}: $\\omega$={pat.omega[e, h]:+.3f}" + (" (dummy)" if pat.dummy[e, h] else ""),
                    fontsize=7)
        b.set_title(f"$\\mu$={pat.mu[e, h]:+.2f}", fontsize=7)
        for ax in (a, b):
            ax.grid(False)
            ax.set_xticks([])
            ax.set_yticks([])
    axes[0][0].set_ylabel("KQ$^{(h)}$")
    axes[1][0].set_ylabel("OV$^{(h)\\top}$")
    fig.suptitle(f"H1: trained circuits, H={H}, seed {ens['seeds'][e]} ({ens['steps']} steps; grey: the query's "
                 f"zero slot, never used)", fontsize=8)
    return style.save(fig, figures(f"h1_kq_ov_heatmaps_H{H}.png"))


def bars(data: dict, p, figures) -> str:
    fig, axes = style.figure(ncols=3, width=3.2)
    Hs = list(p.heads)
    x = np.arange(len(Hs))
    seeds = {H: per_seed(data["ensembles"][str(H)])[1] for H in Hs}
    for i, (ax, (key, label, field, above)) in enumerate(zip(axes[0], METRICS)):
        per = [seeds[H][key] for H in Hs]
        med = np.array([np.median(v) for v in per])
        lo = med - np.array([np.min(v) for v in per])
        hi = np.array([np.max(v) for v in per]) - med
        ax.bar(x, med, color=style.COLORS[0], alpha=0.7, label="trained (median, min–max over seeds)")
        ax.errorbar(x, med, yerr=[lo, hi], fmt="none", color="k", capsize=3, lw=1)
        ref = [SPEC4_PATTERNS[H][i] if H in SPEC4_PATTERNS else np.nan for H in Hs]
        style.reference_points(ax, x, ref, label="SPEC 4 (published, 500k steps)")
        thr = getattr(p, field)
        style.baseline(ax, [-0.5, len(Hs) - 0.5], [thr, thr], label="pass threshold")
        ax.set_xticks(x, [f"H={H}" for H in Hs])
        ax.set_title(label.replace(" Var/mean^2 of diag", ""))
        if not above:
            ax.set_yscale("log")
        else:
            ax.set_ylim(min(0.5, float(np.min(med - lo)) - 0.05), 1.01)
    axes[0][0].legend(fontsize=6, loc="lower left")
    return style.save(fig, figures("h1_pattern_metrics.png"))


def display(data: dict, p, figures) -> list[str]:
    return [heatmaps(data["ensembles"][str(H)], H, figures) for H in p.heads] + [bars(data, p, figures)]
