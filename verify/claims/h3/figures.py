"""H3 display: |relative error| of L~ and of the refined form over the grid, and against the expansion parameter."""
from __future__ import annotations

import matplotlib.colors as mcolors
import numpy as np

from ... import style
from .judge import grid_table


def display(data: dict, p, figures) -> list[str]:
    R = grid_table(data)
    mcg, seg = R[:, 0], R[:, 1]
    err_lt, err_ref = np.abs(R[:, 2] - mcg) / mcg, np.abs(R[:, 3] - mcg) / mcg
    fig, axes = style.figure(ncols=3, width=4.0, height=3.3)
    norm = mcolors.LogNorm(vmin=max(min(err_lt.min(), err_ref.min()), 1e-5), vmax=max(err_lt.max(), 1.0))
    near = np.array([pt["near_optimal"] for pt in data["grid"]])
    for ax, err, title in ((axes[0, 0], err_lt, r"$\tilde L$ (SPEC 3.1, theory)"),
                           (axes[0, 1], err_ref, r"refined, $O(L^{-2})$ (SPEC 3.5, theory)")):
        for mask, marker, lab in ((near, "o", r"$\mu=\mu^*_{\tilde L}$"), (~near, "^", r"random $\mu$")):
            sc = ax.scatter(R[mask, 6], R[mask, 7], c=np.maximum(err[mask], 1e-5), norm=norm, cmap="viridis",
                            marker=marker, s=28)
            ax.plot([], [], marker, color="0.4", ms=5, label=lab)  # grey legend proxy
        ax.set_yscale("log")
        ax.set_xlabel(r"$d\,\max_h\omega_h^2$")
        ax.set_ylabel(r"$L$")
        ax.set_title(f"|rel. error| vs Monte Carlo: {title}", fontsize=8)
        ax.legend(loc="upper right")
    fig.colorbar(sc, ax=axes[0, 1], label="|rel. error|")
    ax = axes[0, 2]
    eps = np.maximum(R[:, 5], 1e-6)
    ax.plot(eps, err_lt, "o", color=style.COLORS[0], ms=4, label=r"$\tilde L$")
    ax.plot(eps, err_ref, "s", color=style.COLORS[1], ms=4, label="refined")
    ax.plot(eps, seg / mcg, "_", color="0.5", ms=6, label="MC rel. SE")
    ax.set(xscale="log", yscale="log", xlabel=r"$\epsilon = ((1-2\omega_{\max}^2)^{-d/2}-1)/L$",
           ylabel="|rel. error| vs Monte Carlo")
    ax.legend()
    return [style.save(fig, figures("h3_error_map.png"))]
