"""H8 display: softmax risks against test length with debiased GD at the median effective step (theory) and
SPEC 4's published points; linear attention (length baked in vs 1/L) beside softmax H=2."""
from __future__ import annotations

import numpy as np

from theory.risks import dgd_risk

from ... import style
from .judge import SPEC4_LENGTH, good_members


def display(data: dict, p, figures) -> list[str]:
    Ls = np.asarray(data["L_eval"], dtype=int)
    curves = data["models"]
    d, s2, L_train = p.problem.d, p.problem.sigma2, p.problem.L
    fig, axes = style.figure(ncols=2, width=4.4, height=3.4)
    ax = axes[0][0]
    Lg = np.arange(int(Ls.min()), int(Ls.max()) + 1)
    for i, (name, c) in enumerate(curves.items()):
        if not name.startswith("softmax"):
            continue
        H = int(name.split("=")[1])
        good = good_members(c, H)
        mean, se = np.asarray(c["mean"]), np.asarray(c["se"])
        col = style.COLORS[i % len(style.COLORS)]
        style.sim_points(ax, Ls + (i - 1.5) * 0.6, np.median(mean[good], 0), 4 * se[good].max(0),
                         f"{name} (trained)", col)
        if H >= 2:
            eta = float(np.median(np.asarray(c["eta"])[good]))
            style.theory_line(ax, Lg, [dgd_risk(d=d, L=int(L), sigma2=s2, eta=eta) for L in Lg],
                              f"DGD at $\\eta$={eta:.3f} (theory)" if H == 2 else None, col, alpha=0.7)
        ref = SPEC4_LENGTH.get(H)
        if ref is not None:
            style.reference_points(ax, SPEC4_LENGTH["L"], ref, label="SPEC 4 (published)" if H == 1 else None)
    ax.set_xlabel(f"test context length $L$ (trained at {L_train})")
    ax.set_ylabel("test risk (noise included)")
    ax.set_title("softmax attention vs debiased GD")
    ax.legend(fontsize=6)
    ax = axes[0][1]
    for i, name in enumerate(("softmax H=2", "linear", "linear-normalised")):
        if name not in curves:
            continue
        c = curves[name]
        style.sim_points(ax, Ls, np.median(np.asarray(c["mean"]), 0), 4 * np.asarray(c["se"]).max(0),
                         f"{name} (trained)", style.COLORS[(i + 4) % len(style.COLORS)])
    ax.axvline(L_train, color="0.6", lw=1, ls=":")
    ax.set_yscale("log")
    ax.set_xlabel(f"test context length $L$ (trained at {L_train})")
    ax.set_ylabel("test risk")
    ax.set_title("linear attention: length baked in vs 1/L")
    ax.legend(fontsize=6)
    return [style.save(fig, figures("h8_length_generalisation.png"))]
