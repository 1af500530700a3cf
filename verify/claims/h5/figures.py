"""H5 display: the RMS gap against w (log-log) with its fitted order, and gap / w^2 against eta c3."""
from __future__ import annotations

import numpy as np

from ... import style
from .judge import gap_rms, order_fit


def display(data: dict, p, figures) -> list[str]:
    ws, gaps = np.asarray(data["w"]), gap_rms(data, p.eta)
    coef, se = order_fit(ws, gaps, 1)
    fig, axes = style.figure(ncols=2)
    ax = axes[0, 0]
    style.sim_points(ax, ws, gaps, None, "RMS gap (sampled prompts)", style.COLORS[0])
    wf = np.geomspace(ws[0], ws[-1], 100)
    style.theory_line(ax, wf, np.exp(coef[0] + coef[1] * np.log(wf) + coef[2] * wf**2),
                      f"fit: slope {coef[1]:.4f} ± {se[1]:.1e}", style.COLORS[1])
    style.baseline(ax, wf, gaps[0] * (wf / ws[0]) ** 2, "slope 2 reference")
    ax.set(xscale="log", yscale="log", xlabel="$w$ (pair $\\omega=\\pm w$, $\\mu=\\pm\\eta/2w$)",
           ylabel="RMS $|\\hat y_{\\rm attn} - \\hat y_{\\rm DGD}|$", title="H5: gap is $O(w^2)$")
    ax.legend()
    ax = axes[0, 1]
    style.sim_points(ax, ws, gaps / ws**2, None, "RMS gap / $w^2$", style.COLORS[0])
    style.theory_line(ax, wf, np.full_like(wf, data["lead_rms"]), "RMS $\\eta c_3$ (series)", style.COLORS[1])
    ax.set(xscale="log", xlabel="$w$", ylabel="RMS gap / $w^2$", title="leading coefficient")
    ax.legend()
    return [style.save(fig, figures("h5_gap_order.png"))]
