"""H4 display: the three stages of the reduced flow with the torch reduced model on it, and the trained full
models' (omega_h, mu_h) on the flow's time axis (one member per H)."""
from __future__ import annotations

import numpy as np

from ... import style
from . import flows
from .judge import overlay_summary


def _stages_figure(data: dict, p, figures) -> str:
    fl, red = flows.stage_flow(p), data["reduced"]
    t, y, losses = np.asarray(fl["t"]), np.asarray(fl["y"]), np.asarray(fl["loss"])
    t1, t2 = fl["stage_times"][0.1], fl["stage_times"][0.9]
    ts = np.asarray(red["t"])
    flow_tr = flows.training_start_flow(p, ts)
    om_t, mu_t = np.asarray(red["omega"])[0], np.asarray(red["mu"])[0]  # first seed, (T, 2)
    fig, axes = style.figure(ncols=3, width=3.8)
    for ax, (label, yy) in zip(axes[0], ((r"$\omega_1$", y[:, 0]), (r"$\mu_1$", y[:, 2]), (r"$\tilde{L}$", losses))):
        style.theory_line(ax, t, yy, "flow of $\\tilde{L}$ (theory, ODE)", style.COLORS[0])
        ax.axvspan(0, t1, color="0.9", zorder=0)
        ax.axvspan(t1, t2, color="#fde0c5", zorder=0)
        ax.axvspan(t2, t[-1], color="#dbe9f6", zorder=0)
        ax.set_xscale("symlog", linthresh=10)
        ax.set_xlabel("$t$ (lr × steps)")
        ax.set_ylabel(label)
    axes[0][0].plot(ts, flow_tr[:, 0], "-", color=style.COLORS[2], lw=1.2,
                    label="flow from the training start (theory)")
    axes[0][1].plot(ts, flow_tr[:, 2], "-", color=style.COLORS[2], lw=1.2)
    axes[0][0].plot(ts[::3], om_t[::3, 0], "o", ms=2.5, color=style.COLORS[1],
                    label="torch reduced model (SGD, trained)")
    axes[0][1].plot(ts[::3], mu_t[::3, 0], "o", ms=2.5, color=style.COLORS[1])
    axes[0][0].legend(loc="upper right", fontsize=7)
    axes[0][2].set_yscale("log")
    fig.suptitle("H4: three stages of the reduced gradient flow (grey: slow growth, orange: fast drop, blue: drift)",
                 fontsize=9)
    return style.save(fig, figures("h4_flow_stages.png"))


def _overlay_figure(ovl: dict, p, figures) -> str:
    panels = []
    for ov in ovl["heads"].values():
        sm = overlay_summary(ov, p.peak_drop)
        both = np.nonzero(sm["split"] & sm["flow_split"])[0]
        tr = np.nonzero(sm["split"])[0]
        # the figure shows a member where both split (if any): the most informative overlay
        e = int(both[0]) if both.size else int(tr[0]) if tr.size else 0
        panels.append((ov, e, float(sm["kappa"][e])))
    fig, axes = style.figure(ncols=3, nrows=len(panels), width=3.6, height=2.7)
    for row, (ov, e, kappa) in zip(axes, panels):
        H = int(ov["n_head"])
        t_tr = np.asarray(ov["step"]) * kappa
        om, mu, loss = np.asarray(ov["omega"])[:, e], np.asarray(ov["mu"])[:, e], np.asarray(ov["loss"])[:, e]
        t_f = np.asarray(ov["flow_t"])
        f_om, f_mu = np.asarray(ov["flow_omega"])[e], np.asarray(ov["flow_mu"])[e]  # (Tf, H)
        f_loss = np.asarray(ov["flow_loss"])[e]  # (Tf,)
        for h in range(H):
            col = style.COLORS[h % len(style.COLORS)]
            style.theory_line(row[0], t_f, f_om[:, h], "reduced flow (theory, ODE)" if h == 0 else None, col, alpha=0.8)
            row[0].plot(t_tr, om[:, h], "o", ms=2.2, color=col, label="trained full model" if h == 0 else None)
            style.theory_line(row[1], t_f, f_mu[:, h], None, col, alpha=0.8)
            row[1].plot(t_tr, mu[:, h], "o", ms=2.2, color=col)
        style.theory_line(row[2], t_f, f_loss, "$\\tilde L$ along the flow (theory)", "k")
        row[2].plot(t_tr, loss, "o", ms=2.2, color=style.COLORS[1], label="trained (window mean of batch loss)")
        pos = t_tr[t_tr > 0] if np.all(np.isfinite(t_tr)) else np.array([])
        for ax, lab in zip(row, ("$\\omega_h$", "$\\mu_h$", "loss")):
            ax.set_xscale("log")
            ax.set_xlim(left=max(1e-2, float(np.min(pos)) / 2) if pos.size else 1e-2)
            ax.set_xlabel(f"flow time $t$; trained: $t=\\kappa\\,$step, $\\kappa$={kappa:.2g}")
            ax.set_ylabel(lab)
        row[2].set_yscale("log")
        row[0].set_title(f"H={H}, seed member {e} ({ov['train_steps']} Adam steps)", fontsize=8)
    axes[0][0].legend(fontsize=6)
    axes[0][2].legend(fontsize=6)
    fig.suptitle(f"H4: trained (omega_h, mu_h) on the reduced flow's time axis (eta* = {ovl['eta_star']:.3f})",
                 fontsize=9)
    return style.save(fig, figures("h4_trained_overlay.png"))


def display(data: dict, p, figures) -> list[str]:
    out = [_stages_figure(data, p, figures)]
    if data.get("overlay") is not None:
        out.append(_overlay_figure(data["overlay"], p, figures))
    return out
