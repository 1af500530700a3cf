r"""H4 judge: rows from the flow's trajectories (SPEC 3.2 reference values, stage order, Lyapunov, linear stage,
long-time limit, discrete-GD order), the torch reduced model's time axis, and the full-model overlay.

Pure: reads the data of :func:`.compute.compute` (theory's predictions — eta*, lambda_+ — included there) and
the parameters. Crossing times use :func:`verify.stats.crossing` (linear interpolation; log-time for the
overlay's loss-drop midpoint).
"""
from __future__ import annotations

import math

import numpy as np

from ...result import at_most, holds, reported, within
from ...stats import crossing

#: SPEC 3.2 reference values of the flow from the small symmetric start (d=5, L=40, sigma2=0.1).
REFERENCE_END = {"omega": 0.139, "mu": 3.15, "loss": 0.2211}
REFERENCE_STAGES = (5.5, 7.5)
REFERENCE_PEAK = 0.58
#: relative tolerance on the SPEC 3.2 end-point values
REL = 0.02


def linear_stage_slope(random: dict, lambda_plus: float) -> float:
    r"""Fitted rate of :math:`\log(g_c/g_{zs})` on the linear stage.

    Growing-mode amplitudes of the linearisation (left eigenvectors, so no transient from the decaying modes):
    common mode :math:`g_c = \overline{\omega} + \lambda_+\overline{\mu}\sim e^{\lambda_+ t}`, zero-sum mode
    :math:`g_{zs} = |P(\omega+\mu)|\sim e^{t}` (P removes the mean); the ratio decays like
    :math:`e^{-(1-\lambda_+)t}`. Valid while :math:`|y|` is small (the nonlinear terms are :math:`O(|y|^2)`).
    """
    tw, om, mu = (np.asarray(random[k]) for k in ("linear_t", "linear_omega", "linear_mu"))  # (T,), (T, H)
    g_c = np.abs(om.mean(1) + lambda_plus * mu.mean(1))
    zs = om + mu
    g_zs = np.linalg.norm(zs - zs.mean(1, keepdims=True), axis=1)
    return float(np.polyfit(tw, np.log(g_c / g_zs), 1)[0])


def half_peak_times(red: dict, omega_peak: float) -> tuple[float, np.ndarray]:
    """Time |omega_1| first reaches half the flow's peak: along the flow from the training start, and per seed."""
    ts = np.asarray(red["t"])
    level = 0.5 * omega_peak
    flow = crossing(ts, np.abs(np.asarray(red["flow"])[:, 0]), level)
    seeds = np.array([crossing(ts, np.abs(om[:, 0]), level) for om in np.asarray(red["omega"])])
    return flow, seeds


def _flow_rows(data: dict, p, result) -> None:
    th, fl = data["theory"], data["flow"]
    es = th["eta_star"]
    t, y, losses = np.asarray(fl["t"]), np.asarray(fl["y"]), np.asarray(fl["loss"])
    t1, t2 = (float(v) for v in fl["t_stage"])
    t_peak, w_peak = fl["t_peak"], fl["omega_peak"]
    end = y[-1]
    result.add(
        within("flow end omega (t=1e4)", end[0], REFERENCE_END["omega"], REL * REFERENCE_END["omega"],
               "2% of the SPEC 3.2 reference value", kind="ode"),
        within("flow end mu (t=1e4)", end[2], REFERENCE_END["mu"], REL * REFERENCE_END["mu"],
               "2% of the SPEC 3.2 reference value", kind="ode"),
        within("flow end loss (t=1e4)", losses[-1], REFERENCE_END["loss"], REL * REFERENCE_END["loss"],
               "2% of the SPEC 3.2 reference value", kind="ode"),
        within("stage 2 start (10% of drop)", t1, REFERENCE_STAGES[0], 0.5,
               "±0.5 time units around SPEC's 'roughly t=5.5'", kind="ode"),
        within("stage 2 end (90% of drop)", t2, REFERENCE_STAGES[1], 0.5,
               "±0.5 time units around SPEC's t=7.5", kind="ode"),
        within("omega peak", w_peak, REFERENCE_PEAK, 0.02, "±0.02 around SPEC's 'peaks near 0.58'", kind="ode"),
        holds("stage 3: omega decreasing and mu*omega ~ fixed after the peak",
              bool(np.all(np.diff(y[t > t_peak + 1, 0]) <= 0)) and abs(2 * end[0] * end[2] - es) < 0.01 * es,
              "omega monotone after its peak; 2*mu*omega within 1% of eta* at t_end", kind="ode",
              measured=2 * end[0] * end[2]),
        at_most("max loss increase along the flow", float(np.max(np.diff(losses))), 1e-9,
                "L~ is a Lyapunov function of its gradient flow (solver tolerance 1e-9)", kind="ode"),
    )
    ref = data["refined"]
    end_ref = np.asarray(ref["end"])
    result.add(
        reported("refined-loss flow: omega at t_end", end_ref[0],
                 f"flow of the refined loss started from the L~ flow at t={ref['t_start']:.1f} (|omega| = "
                 f"{p.refined_from_omega}); L~ flow ends at {end[0]:.4f}", kind="ode"),
        reported("refined-loss flow: 2*mu*omega at t_end", 2 * end_ref[0] * end_ref[2],
                 f"L~ flow: {2 * end[0] * end[2]:.4f}", kind="ode"),
        reported("refined-loss flow: refined loss at t_end", ref["loss_end"],
                 f"refined loss of the L~ flow's end point: {ref['loss_of_flow_end']:.5f}", kind="ode"),
    )


def _random_rows(data: dict, result) -> None:
    th, rnd = data["theory"], data["random"]
    lam, es, H = th["lambda_plus"], th["eta_star"], int(rnd["n_head"])
    slope = linear_stage_slope(rnd, lam)
    result.add(within("common-mode decay rate relative to the zero-sum mode (linear stage)", -slope, 1 - lam,
                      0.01 * (1 - lam), "1% of the predicted 1 - lambda_+; |y| <= 0.03 here, so the nonlinear "
                      "terms (O(|y|^2)) are far below that", kind="ode"))
    om, mu = np.asarray(rnd["end_omega"]), np.asarray(rnd["end_mu"])
    contrib = np.abs(om * mu)
    active = contrib > 0.05 * contrib.max()
    spread = float(np.ptp(np.abs(om[active])) / np.mean(np.abs(om[active])))
    zero_sum = float(abs(mu.sum()) / np.abs(mu).sum())
    result.add(
        at_most(f"H={H}: relative spread of active |omega_h|", spread, 0.02,
                "deterministic flow; 2% allows the slow drift not yet finished at t_end", kind="ode"),
        holds(f"H={H}: active heads have both signs", bool(np.any(om[active] > 0) and np.any(om[active] < 0)),
              "sign pattern at t_end", kind="ode"),
        at_most(f"H={H}: zero-sum |sum mu|/sum|mu|", zero_sum, 1e-3, "common mode damped (section 2)", kind="ode"),
        within(f"H={H}: sum mu_h omega_h vs eta*", float(om @ mu), es, 0.01 * es, "1% of eta* = 1/(1+cd)",
               kind="ode"),
    )
    lrs, errs = np.asarray(data["gd"]["lrs"]), np.asarray(data["gd"]["errors"])
    order = float(np.polyfit(np.log(lrs), np.log(errs), 1)[0])
    result.add(within("discrete GD -> flow: convergence order", order, 1.0, 0.15,
                      "fitted log-log slope of the error at t=10 against lr (Euler is order 1)", kind="ode"))


def _reduced_rows(data: dict, p, result) -> None:
    fl, red = data["flow"], data["reduced"]
    t_half_flow, halves = half_peak_times(red, fl["omega_peak"])
    t_half, t_half_se = float(np.mean(halves)), float(np.std(halves, ddof=1) / np.sqrt(halves.size))
    result.add(
        within("trained reduced model: time omega reaches half the flow's peak (mean over seeds)", t_half,
               t_half_flow, 0.1 * t_half_flow,
               "10% of the flow's time: tests the time unit t = lr*steps (a factor 2 would show as 100%); the flow "
               "follows L~ while training follows the true loss, which SPEC 3.5 puts ~9% apart", kind="trained"),
        reported("trained reduced model: relative time offset in seed SEs", (t_half - t_half_flow) / t_half_se,
                 f"{halves.size} seeds, SE {t_half_se:.3f}: the offset is systematic (L~ vs the true loss), not noise",
                 kind="trained"),
    )
    t1, t2 = (float(v) for v in fl["t_stage"])
    end, loss_end = np.asarray(fl["y"])[-1], float(np.asarray(fl["loss"])[-1])
    om_t, flow_tr = np.asarray(red["omega"])[0], np.asarray(red["flow"])
    result.notes.append(
        f"Flow (ODE of L~): stages at t={t1:.2f} and t={t2:.2f}, omega peaks at {fl['omega_peak']:.3f} "
        f"(t={fl['t_peak']:.2f}); at t={p.t_end:.0f}: omega={end[0]:.4f}, mu={end[2]:.4f}, loss={loss_end:.4f}. "
        f"Torch reduced model (SGD on fresh batches of {p.train_batch}, lr={p.train_lr}, from ±{p.train_start}, "
        f"{halves.size} seeds): half-peak time {t_half:.3f} ± {t_half_se:.3f} vs the flow's {t_half_flow:.3f}; omega "
        f"peak {np.abs(om_t[:, 0]).max():.3f} vs {np.abs(flow_tr[:, 0]).max():.3f} — the true loss favours a larger "
        f"omega than L~ (SPEC 3.5).")


# ---------------------------------------------------------------------------------------------- overlay
def stages(t: np.ndarray, loss: np.ndarray, om_abs: np.ndarray, peak_drop: float) -> dict:
    """Drop midpoint, |omega| peak and end of one trajectory; ``om_abs`` is max_h |omega_h| per time.

    The midpoint is the first time the loss falls to halfway between its start and its end value (the minimum
    over the last 5%, at least 3 points), interpolated in log-time; the order holds when
    midpoint <= peak time < last time and the end |omega| is below ``peak_drop`` x its peak.
    """
    start, end = float(loss[0]), float(np.min(loss[-max(3, len(loss) // 20):]))
    t_mid = crossing(t, loss, 0.5 * (start + end), direction="down", log_x=True)
    k = int(np.argmax(om_abs))
    return {"t_mid": t_mid, "t_peak": float(t[k]), "peak": float(om_abs[k]), "end": float(om_abs[-1]),
            "order_ok": bool(t_mid <= t[k] < t[-1] and om_abs[-1] < peak_drop * om_abs[k])}


def overlay_summary(ov: dict, peak_drop: float) -> dict:
    """Per member of one ensemble: stage order (trained, flow), clock factor kappa = flow midpoint / trained
    midpoint (NaN if the trained midpoint is not positive), and split of the flow's end point."""
    s, loss, om = np.asarray(ov["step"]), np.asarray(ov["loss"]), np.asarray(ov["omega"])  # (T,), (T,E), (T,E,H)
    f_t, f_om, f_loss = np.asarray(ov["flow_t"]), np.asarray(ov["flow_omega"]), np.asarray(ov["flow_loss"])
    E = loss.shape[1]
    order_tr, order_fl, kappa, fl_split = [], [], [], []
    for e in range(E):
        st_f = stages(f_t, f_loss[e], np.abs(f_om[e]).max(1), peak_drop)
        st_t = stages(s, loss[:, e], np.abs(om[:, e]).max(1), peak_drop)
        kappa.append(st_f["t_mid"] / st_t["t_mid"] if st_t["t_mid"] > 0 else math.nan)
        order_tr.append(st_t["order_ok"])
        order_fl.append(st_f["order_ok"])
        fl_split.append(bool((f_om[e, -1] > 0).any() and (f_om[e, -1] < 0).any()))
    split = np.asarray(ov["split"], dtype=bool)
    fl_split = np.array(fl_split)
    return {"order_trained": np.array(order_tr), "order_flow": np.array(order_fl), "kappa": np.array(kappa),
            "flow_split": fl_split, "split": split, "split_agree": fl_split == split}


def _overlay_rows(ovl: dict, p, result) -> None:
    es, tol, lr = ovl["eta_star"], ovl["eta_tolerance"], ovl["lr"]
    notes = []
    for key, ov in ovl["heads"].items():
        H = int(ov["n_head"])
        sm = overlay_summary(ov, p.peak_drop)
        split, E = sm["split"], sm["split"].size
        sel = split if split.any() else np.ones(E, bool)
        k = int(sel.sum())
        tag = f"{k}/{E} seeds that split" if split.any() else f"all {E} seeds (none split)"
        etas, zss = np.asarray(ov["eta_eff_end"]), np.asarray(ov["zero_sum_end"])
        result.add(
            holds(f"trained H={H}: stage order as in the flow (drop, |omega| peak, drift down) in all {tag}",
                  bool(np.all(sm["order_trained"][sel])),
                  f"per seed: loss-drop midpoint <= time of max|omega_h| < end, and end |omega| < {p.peak_drop} x "
                  f"peak; the flow from the same starts shows it in {int(np.sum(sm['order_flow']))}/{E}",
                  kind="trained", measured=float(np.mean(sm["order_trained"][sel]))),
            within(f"trained H={H}: end sum mu_h omega_h vs the flow's limit eta* (median of {tag})",
                   float(np.median(etas[sel])), es, tol,
                   f"slow manifold of the flow: eta* = {es:.4f}; tolerance {tol:.3f} as in H2 (step error costing "
                   f"{p.delta_risk:g} excess DGD risk)", kind="trained"),
            at_most(f"trained H={H}: end zero-sum |sum mu|/sum|mu| (median of {tag})",
                    float(np.median(zss[sel])), 0.05, "the flow's limit is exactly zero-sum; 5% allowed",
                    kind="trained"),
        )
        kap, agree = sm["kappa"], sm["split_agree"]
        result.add(
            reported(f"trained H={H}: clock factor kappa, flow time per Adam step (median of {E} seeds)",
                     float(np.nanmedian(kap)), f"matched at the loss-drop midpoint; gradient descent would give "
                     f"kappa = lr = {lr:g}", kind="trained"),
            reported(f"trained H={H}: seeds whose split/no-split outcome the flow from their initial "
                     f"(omega, mu) predicts", float(np.mean(agree)),
                     f"fraction of {E}; the reduced flow ignores the off-pattern weights of the initialisation",
                     kind="trained"))
        notes.append(f"H={H}: clock factor kappa (flow time per Adam step, matched at the loss-drop midpoint) "
                     f"median {np.nanmedian(kap):.3g} (range {np.nanmin(kap):.3g}–{np.nanmax(kap):.3g}) vs "
                     f"lr = {lr:g} for gradient descent; the flow from each seed's initial (omega, mu) "
                     f"predicts whether it splits in {int(np.sum(agree))}/{E} seeds (the reduced flow ignores "
                     f"the off-pattern weights present at initialisation, which can tip the symmetry breaking)")
    result.notes.append("Full-model overlay: " + "; ".join(notes) + ". Adam's clock is not gradient flow's: one "
                        "factor per seed aligns the loss drop; after it Adam moves through the slow drift faster "
                        "than the aligned flow, so end points are compared on the flow's slow manifold, not at "
                        "equal times.")


def judge(data: dict, p, result) -> None:
    _flow_rows(data, p, result)
    _random_rows(data, result)
    _reduced_rows(data, p, result)
    if data.get("overlay") is not None:
        _overlay_rows(data["overlay"], p, result)
