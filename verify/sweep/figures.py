"""The sweep's figures: theory beside the measurement across the grid (markers: trained members or their means;
lines: population theory).

* ``sweep_eta_eff.png`` — each member's :math:`\\eta_{\\rm eff}=\\sum_h\\mu_h\\omega_h` (trained) against
  :math:`\\eta^*=1/(1+(1+\\sigma^2)d/L)` (mean-field theory), the line :math:`\\eta_{\\rm eff}=\\eta^*`; one colour per H;
* ``sweep_split.png`` — the fraction of seeds whose active heads split into :math:`\\pm` groups, per H, against
  :math:`d/L` (Wilson 95% intervals);
* ``sweep_loss.png`` — the trained risk (mean over seeds, 2 SE of the seed scatter) against the optimal
  debiased-GD risk :math:`\\sigma^2+\\frac{d+1+d\\sigma^2}{L+d+d\\sigma^2}` (theory), and the line of equality.

Theory columns exist for isotropic single-task data only; a grid without such settings gets a note in the
figure instead of points.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import style
from ..stats import wilson


def _by_head(df):
    return [(H, df[df["n_head"] == H]) for H in sorted(df["n_head"].unique())]


def _empty(ax, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, fontsize=8, color="0.4")


def eta_eff(df, path: Path) -> str:
    fig, axes = style.figure(width=4.4, height=3.4)
    ax = axes[0][0]
    ok = df[np.isfinite(df["eta_star"]) & np.isfinite(df["eta_eff"])]
    if ok.empty:
        _empty(ax, "no isotropic attention settings")
    else:
        for i, (H, g) in enumerate(_by_head(ok)):
            ax.plot(g["eta_star"], g["eta_eff"], "o", ms=4, mfc="none", color=style.COLORS[i % len(style.COLORS)],
                    label=f"H={H} trained (members)")
        lo, hi = float(min(ok["eta_star"].min(), ok["eta_eff"].min())), float(max(ok["eta_star"].max(),
                                                                                   ok["eta_eff"].max()))
        x = np.linspace(min(lo, 0.0), hi * 1.05, 50)
        style.theory_line(ax, x, x, "$\\eta_{eff}=\\eta^*$ (mean-field theory)", "k")
        ax.legend(fontsize=6)
    ax.set(xlabel="$\\eta^*=1/(1+(1+\\sigma^2)d/L)$", ylabel="$\\eta_{eff}=\\sum_h\\mu_h\\omega_h$")
    ax.set_title("effective step: trained vs theory", fontsize=8)
    return style.save(fig, path)


def split_fraction(df, path: Path) -> str:
    fig, axes = style.figure(width=4.4, height=3.4)
    ax = axes[0][0]
    g0 = df[df["phase"] != "n/a"].assign(d_over_L=lambda t: t["d"] / t["L"])
    if g0.empty:
        _empty(ax, "no attention-model settings")
    heads = _by_head(g0)
    for i, (H, g) in enumerate(heads):
        pts = sorted(g.groupby("d_over_L")["split"])
        x = np.array([r for r, _ in pts]) * 1.06 ** (i - (len(heads) - 1) / 2)   # dodged apart (log axis)
        k = np.array([int(s.sum()) for _, s in pts])
        n = np.array([len(s) for _, s in pts])
        frac = k / n
        ci = np.array([wilson(int(a), int(b)) for a, b in zip(k, n)])
        style.sim_points(ax, x, frac, [frac - ci[:, 0], ci[:, 1] - frac], f"H={H} trained", style.COLORS[i % 8])
    ax.set(xlabel="$d/L$ (points of one H dodged sideways)", ylabel="fraction of seeds split into $\\pm$ groups",
           ylim=(-0.05, 1.05), xscale="log")
    ax.set_title("head splitting (Wilson 95% intervals)", fontsize=8)
    if not g0.empty:
        ax.legend(fontsize=6)
    return style.save(fig, path)


def loss(df, path: Path) -> str:
    fig, axes = style.figure(width=4.4, height=3.4)
    ax = axes[0][0]
    ok = df[np.isfinite(df["dgd_risk_opt"])]
    if ok.empty:
        _empty(ax, "no isotropic single-task settings")
    else:
        for i, (H, g) in enumerate(_by_head(ok)):
            agg = g.groupby("setting").agg(x=("dgd_risk_opt", "first"), y=("final_loss", "mean"),
                                           sd=("final_loss", "std"), n=("final_loss", "size"))
            err = 2 * np.nan_to_num(agg["sd"] / np.sqrt(agg["n"]))
            style.sim_points(ax, agg["x"], agg["y"], err, f"H={H} trained (seed mean, 2 SE)", style.COLORS[i % 8])
        lo, hi = float(ok["dgd_risk_opt"].min()), float(ok["dgd_risk_opt"].max())
        x = np.linspace(lo * 0.95, hi * 1.05, 50)
        style.theory_line(ax, x, x, "trained = optimal debiased GD (theory)", "k")
        ax.legend(fontsize=6)
    ax.set(xlabel="optimal debiased-GD risk (theory)", ylabel="trained risk (Monte Carlo, with noise)")
    ax.set_title("risk: trained vs debiased GD", fontsize=8)
    return style.save(fig, path)


def draw(df, out: Path) -> list[str]:
    out = Path(out) / "figures"
    out.mkdir(parents=True, exist_ok=True)
    return [eta_eff(df, out / "sweep_eta_eff.png"), split_fraction(df, out / "sweep_split.png"),
            loss(df, out / "sweep_loss.png")]
