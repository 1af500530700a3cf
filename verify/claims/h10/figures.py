"""H10 display: per-head KQ diagonal / OV heatmaps of trained members (the allocation), and the phase table from
theory (flow) and from training side by side."""
from __future__ import annotations

import numpy as np

from numerics import phases as ph
from numerics.phases import parse_supports

from ... import style
from .judge import _phases, trained_labels


def display(data: dict, p, figures) -> list[str]:
    out = []
    tr = data["trained"]
    keys = list(tr)
    if keys:
        fig, axes = style.figure(ncols=len(keys), nrows=1, width=2.2, height=2.6)
        for i, key in enumerate(keys):
            ens = tr[key]
            name, _, H = key.partition("|")
            sup = parse_supports(name, d=p.d)
            om, mu = np.asarray(ens["omega"])[0], np.asarray(ens["mu"])[0]
            ax = axes[0][i]
            both = np.hstack([om / max(1e-12, np.abs(om).max()), np.full((om.shape[0], 1), np.nan),
                              mu / max(1e-12, np.abs(mu).max())])
            ax.imshow(both, cmap="RdBu_r", vmin=-1, vmax=1, aspect="auto")
            ax.set_title(f"{name}\nH={H}: {ph.classify(om, mu, sup)}", fontsize=6)
            ax.set_xticks(list(range(p.d)) + [p.d + 1 + k for k in range(mu.shape[1])],
                          [f"x{j + 1}" for j in range(p.d)] + [f"y{k + 1}" for k in range(mu.shape[1])], fontsize=5)
            ax.set_yticks(range(om.shape[0]), [f"h{h + 1}" for h in range(om.shape[0])], fontsize=5)
        fig.suptitle("trained member 0: KQ diagonal (left, /max) | OV mu_{h,k} (right, /max)", fontsize=7)
        out.append(style.save(fig, figures("h10_allocation.png")))
    # phase table: theory (flow) and training
    names = list(data["flow"])
    fig, axes = style.figure(ncols=len(names), nrows=1, width=2.6, height=2.6)
    colors = {"split-up": style.COLORS[0], "superposition": style.COLORS[1], "other": "0.7"}
    for i, name in enumerate(names):
        fl = data["flow"][name]
        sup = parse_supports(name, d=p.d)
        heads = np.asarray(fl["heads"])
        lab = _phases(np.asarray(fl["omega"], float)[-1], np.asarray(fl["mu"], float)[-1], heads, sup)
        ax = axes[0][i]
        Hs = sorted(set(heads.tolist()))
        bottom = np.zeros(len(Hs))
        for q in ph.PHASES:
            fr = np.array([np.mean([lab[g] == q for g in np.where(heads == H)[0]]) for H in Hs])
            ax.bar(np.array(Hs) - 0.2, fr, 0.4, bottom=bottom, color=colors[q],
                   label=f"{q} (theory)" if i == 0 else None)
            bottom += fr
        for key, ens in data["trained"].items():
            nm, _, H = key.partition("|")
            if nm != name:
                continue
            f = ph.fractions(trained_labels(ens, sup)[0])
            b = 0.0
            for q in ph.PHASES:
                ax.bar(int(H) + 0.2, f[q], 0.4, bottom=b, color=colors[q], hatch="//", edgecolor="k", lw=0.3,
                       label=f"{q} (trained)" if key == next(iter(data["trained"])) else None)
                b += f[q]
        ax.set_xticks(Hs)
        ax.set_title(f"supports {name} (N={len(sup)})", fontsize=7)
        ax.set_xlabel("H (left bar: flow, right hatched: trained)", fontsize=6)
        ax.set_ylabel("fraction", fontsize=6)
    handles, labels = [], []
    for ax in axes[0]:
        for hd, lb in zip(*ax.get_legend_handles_labels()):
            if lb not in labels:
                handles.append(hd)
                labels.append(lb)
    axes[0][-1].legend(handles, labels, loc="center left", bbox_to_anchor=(1.02, 0.5), fontsize=5,
                       title="unsettled trained seeds count as other", title_fontsize=5)
    out.append(style.save(fig, figures("h10_phase_table.png")))
    return out
