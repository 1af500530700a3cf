"""C4 display: probe excess risk per depth (each member) beside tuned PtO and GD after the same number of steps."""
from __future__ import annotations

import numpy as np

from ... import style


def display(data: dict, p, figures) -> list[str]:
    P, Pse = np.asarray(data["probe"]), np.asarray(data["probe_se"])
    E, depth = P.shape
    x = np.arange(depth)
    fig, axes = style.figure()
    ax = axes[0, 0]
    for e in range(E):
        style.sim_points(ax, x, P[e], Pse[e], f"probe, member {e} (trained)", style.COLORS[3 + e % 4], marker="o")
    style.sim_points(ax, x, data["pto"], data["pto_se"], "PtO, $t$ steps (MC)", style.COLORS[0], marker="s")
    style.sim_points(ax, x, data["gd"], data["gd_se"], "GD, $t$ steps (MC)", style.COLORS[1], marker="v")
    ax.set(yscale="log", xlabel="depth $l$ (layers) / steps $t$", ylabel="excess risk",
           title="C4: layer-wise probes", xticks=x)
    ax.legend(fontsize=7)
    return [style.save(fig, figures("c4_probes.png"))]
