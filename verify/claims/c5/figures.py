"""C5 display: excess risk against n per noise level (all methods, Monte Carlo with 4-SE bars), and SPEC 7.2's
reference setting beside the quoted numbers."""
from __future__ import annotations

from ... import style

SERIES = (("ridge", "ridge", 1, "s"), ("gd", "GD (T steps)", 2, "v"), ("pto", "PtO (T steps)", 0, "o"),
          ("pto_nonorm", "PtO without normalisation", 5, "x"), ("lasso", "Lasso", 3, "D"))


def display(data, p, figures) -> list[str]:
    from .judge import REFERENCE
    s2s = sorted({r["sigma2"] for r in data["settings"]})
    fig, axes = style.figure(ncols=len(s2s) + 1, width=3.6)
    for ax, s2 in zip(axes[0], s2s):
        rows = sorted((r for r in data["settings"] if r["sigma2"] == s2), key=lambda r: r["n"])
        ns = [r["n"] for r in rows]
        for key, label, ci, mk in SERIES:
            if key == "pto_nonorm":  # for the power table only: it diverges, and would hide the others
                continue
            style.sim_points(ax, ns, [r["mean"][key] for r in rows], [4 * r["se"][key] for r in rows], label,
                             style.COLORS[ci], marker=mk)
        ax.axvline(p.d, color="grey", lw=0.6, ls=":")
        ax.set(xscale="log", yscale="log", xlabel="context examples $n$", ylabel="excess risk",
               title=f"C5: $d={p.d}$, $s={p.s}$, $\\sigma^2={s2:g}$, $T={p.steps}$")
    axes[0, 0].legend(fontsize=6)
    ax = axes[0, -1]
    rows = sorted(data.get("reference", []), key=lambda r: r["n"])
    ns = [r["n"] for r in rows]
    for key, label, ci, mk in SERIES:
        if key != "pto_nonorm":
            style.sim_points(ax, ns, [r["mean"][key] for r in rows], [4 * r["se"][key] for r in rows], label,
                             style.COLORS[ci], marker=mk)
    for j, key in enumerate(("gd", "ridge", "pto", "lasso")):
        style.reference_points(ax, [n for n in ns if n in REFERENCE], [REFERENCE[n][key] for n in ns if n in REFERENCE],
                               "SPEC 7.2 (quoted)" if j == 0 else None)
    ax.set(xlabel="$n$", ylabel="$E\\|\\hat\\beta-\\beta\\|^2$", yscale="log",
           title="reference: $\\beta_S\\sim N(0,1)$, $\\sigma=0.5$")
    ax.legend(fontsize=6)
    return [style.save(fig, figures("c5_methods_vs_n.png"))]
