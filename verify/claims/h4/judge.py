r"""H4 judge: rows from the flow's trajectories (SPEC 3.2 reference values, stage order, Lyapunov, linear stage,
long-time limit, discrete-GD order), the torch reduced model's time axis, and the full-model overlay.

Pure: reads the data of :func:`.compute.compute` and the parameters, and integrates the theory's flows itself
(:mod:`.flows`, through ``theory.flow`` looked up at call time) and evaluates eta*, lambda_+ from
``theory.mean_field`` / ``theory.flow``, so the mutants of :mod:`.mutants` move the predictions. Crossing times use :func:`verify.stats.crossing` (linear interpolation; log-time for the
overlay's loss-drop midpoint).
"""
from __future__ import annotations

import math

import numpy as np

from theory import mean_field

from ...result import Z, at_most, holds, reported, within
from ...stats import crossing
from . import flows

#: SPEC 3.2's reference numbers of the flow from the small symmetric start (d=5, L=40, sigma2=0.1), as published:
#: the tolerance of each is its published precision, half a unit in the last quoted digit (the rounding interval).
REFERENCE_END = {"omega": (0.139, 0.0005), "mu": (3.15, 0.005), "loss": (0.2211, 0.00005)}
#: "roughly t in [0, 5.5]", "t in [5.5, 7.5]": stage boundaries whose definition SPEC does not give
REFERENCE_STAGES = ((5.5, 0.05), (7.5, 0.05))
REFERENCE_PEAK = (0.58, 0.005)


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


def half_peak_times(red: dict, flow: np.ndarray, omega_peak: float) -> tuple[float, np.ndarray]:
    """Time |omega_1| first reaches half the flow's peak: along the flow ``(T, 4)`` from the training start, and per
    seed."""
    ts = np.asarray(red["t"])
    level = 0.5 * omega_peak
    fl = crossing(ts, np.abs(np.asarray(flow)[:, 0]), level)
    seeds = np.array([crossing(ts, np.abs(om[:, 0]), level) for om in np.asarray(red["omega"])])
    return fl, seeds


def _reference(name: str, measured: float, ref: tuple[float, float], kind="ode"):
    val, prec = ref
    return within(name, measured, val, prec, f"SPEC 3.2's {val:g}, to its published precision ±{prec:g} (half a unit in "
                  f"the last quoted digit); ODE solved at rtol 1e-9, far below it", kind=kind)


def _end_loss_row(loss_end: float, prob: dict):
    """SPEC's end loss 0.2211 against the flow's: SPEC's number is consistent with L~ at its *rounded* end point
    (L~(0.139, 3.15) rounds to it, the flow's exact end point gives 0.22105), so its precision is its own half unit
    plus L~'s variation over the rounding box of (omega, mu) (theory, evaluated at the box's corners)."""
    (w, dw), (m, dm), (val, prec) = REFERENCE_END["omega"], REFERENCE_END["mu"], REFERENCE_END["loss"]
    at_ref = mean_field.mean_field_loss([w, -w], [m, -m], **prob)
    box = max(abs(mean_field.mean_field_loss([w + a, -w - a], [m + b, -m - b], **prob) - at_ref)
              for a in (-dw, 0.0, dw) for b in (-dm, 0.0, dm))
    return within("flow end loss (t=1e4)", loss_end, val, prec + box,
                  f"SPEC 3.2's {val:g}: its published precision ±{prec:g} plus ±{box:.1e}, L~'s variation over the "
                  f"rounding box of SPEC's (omega, mu) = ({w:g}, {m:g}) (SPEC's loss matches L~ there: {at_ref:.6f})",
                  kind="ode")


def _flow_rows(fl: dict, data: dict, p, result) -> None:
    prob = flows.prob_of(p)
    es = mean_field.eta_star(**prob)
    t, y, losses = np.asarray(fl["t"]), np.asarray(fl["y"]), np.asarray(fl["loss"])
    st = fl["stage_times"]
    t_peak, w_peak = fl["t_peak"], fl["omega_peak"]
    end = y[-1]
    result.add(
        _reference("flow end omega (t=1e4)", end[0], REFERENCE_END["omega"]),
        _reference("flow end mu (t=1e4)", end[2], REFERENCE_END["mu"]),
        _end_loss_row(losses[-1], prob),
        _reference("omega peak", w_peak, REFERENCE_PEAK),
    )
    for (ref, prec), fracs, which in ((REFERENCE_STAGES[0], flows.STAGE_START_FRACTIONS, "start"),
                                      (REFERENCE_STAGES[1], flows.STAGE_END_FRACTIONS, "end")):
        times = np.array([st[f] for f in fracs])
        lo, hi = float(np.nanmin(times)), float(np.nanmax(times))
        conv = 0.1 if which == "start" else 0.9
        mid = 0.5 * (lo + hi)
        sens = ", ".join(f"{f:.0%}: {st[f]:.2f}" for f in fracs)
        result.add(within(f"stage 2 {which}: SPEC's t={ref:g} within the flow's range over stage conventions",
                          ref, mid, 0.5 * (hi - lo) + prec,
                          f"SPEC defines no stage boundary: the time the loss has made a fraction of its drop to the "
                          f"infimum, over the conventions {fracs[0]:.0%}-{fracs[-1]:.0%} ({sens}), must bracket "
                          f"SPEC's 'roughly t={ref:g}' (±{prec:g}, its precision); the {conv:.0%} convention "
                          f"gives {st[conv]:.2f}", kind="ode"))
    rel = abs(2 * end[0] * end[2] - es) / es
    result.add(
        holds("stage 3: omega decreasing and mu*omega ~ fixed after the peak",
              bool(np.all(np.diff(y[t > t_peak + 1, 0]) <= 0)) and rel < 0.01,
              f"omega monotone after its peak; 2*mu*omega within 1% of eta* at t_end (a convention: measured "
              f"{rel:.1e}, the slow drift not finished at t_end)", kind="ode", measured=2 * end[0] * end[2]),
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


def _random_rows(data: dict, p, result) -> None:
    from theory import flow as theory_flow

    prob = flows.prob_of(p)
    rnd = flows.random_flow(p, np.asarray(data["random_y0"]))
    H = int(rnd["n_head"])
    lam = theory_flow.common_mode_rates(H, **prob)[1]
    es = mean_field.eta_star(**prob)
    slope = linear_stage_slope(rnd, lam)
    ymax = float(np.max(np.abs(np.concatenate([rnd["linear_omega"], rnd["linear_mu"]], 1))))
    result.add(within("common-mode decay rate relative to the zero-sum mode (linear stage)", -slope, 1 - lam,
                      0.01 * (1 - lam), f"1% of the predicted 1 - lambda_+ (a convention): the nonlinear terms are "
                      f"O(|y|^2) = {ymax ** 2:.1e} relative here (max |y| = {ymax:.3f}); measured relative error "
                      f"{abs(-slope - (1 - lam)) / (1 - lam):.1e}", kind="ode"))
    om, mu = np.asarray(rnd["end_omega"]), np.asarray(rnd["end_mu"])
    contrib = np.abs(om * mu)
    active = contrib > 0.05 * contrib.max()
    spread = float(np.ptp(np.abs(om[active])) / np.mean(np.abs(om[active])))
    zero_sum = float(abs(mu.sum()) / np.abs(mu).sum())
    result.add(
        at_most(f"H={H}: relative spread of active |omega_h|", spread, 0.02,
                "deterministic flow; 2% (a convention) allows the slow drift not yet finished at t_end", kind="ode"),
        holds(f"H={H}: active heads have both signs", bool(np.any(om[active] > 0) and np.any(om[active] < 0)),
              "sign pattern at t_end", kind="ode"),
        at_most(f"H={H}: zero-sum |sum mu|/sum|mu|", zero_sum, 1e-3, "common mode damped (section 2); 1e-3 a "
                "convention", kind="ode"),
        within(f"H={H}: sum mu_h omega_h vs eta*", float(om @ mu), es, 0.01 * es,
               f"1% of eta* = 1/(1+cd) (a convention: the slow drift leaves a gap; measured relative gap "
               f"{abs(float(om @ mu) - es) / es:.1e})", kind="ode"),
    )
    lrs, errs = np.asarray(data["gd"]["lrs"]), np.asarray(data["gd"]["errors"])
    order = float(np.polyfit(np.log(lrs), np.log(errs), 1)[0])
    X = np.column_stack([np.ones_like(lrs), np.log(lrs), lrs])
    order2 = float(np.linalg.lstsq(X, np.log(errs), rcond=None)[0][1])
    trunc = abs(order - order2)
    result.add(within("discrete GD -> flow: convergence order", order, 1.0, max(trunc, 1e-3),
                      f"fitted log-log slope of the error at t={p.gd_window:g} against lr (Euler is order 1); "
                      f"tolerance: the change of the slope when an O(lr) correction term is added to the fit "
                      f"({order2:.3f}; truncation bias, the errors are deterministic)", kind="ode"))


def _reduced_rows(fl: dict, data: dict, p, result) -> None:
    red = data["reduced"]
    ts = np.asarray(red["t"])
    flow_tr = flows.training_start_flow(p, ts)
    t_half_flow, halves = half_peak_times(red, flow_tr, fl["omega_peak"])
    t_half, t_half_se = float(np.mean(halves)), float(np.std(halves, ddof=1) / np.sqrt(halves.size))
    level = 0.5 * fl["omega_peak"]
    t_gd = flows.descent_half_peak_time(p, level)
    t_gd_ref = flows.descent_half_peak_time(p, level, loss="refined")
    systematic = abs(t_gd_ref - t_gd)
    result.add(
        within("trained reduced model: time omega reaches half the flow's peak (mean over seeds)", t_half,
               t_gd, Z * t_half_se + systematic,
               f"predicted: gradient descent on L~ at the training's lr={p.train_lr:g} (t = lr*steps; the flow "
               f"itself gives {t_half_flow:.3f}, the O(lr) clock difference of descent); tolerance {Z:g} seed SE "
               f"({halves.size} seeds, SE {t_half_se:.3f}) + the L~-vs-true-loss systematic: SGD follows the true "
               f"loss, estimated by descent on the refined loss (SPEC 3.5), which reaches the level at "
               f"t={t_gd_ref:.3f}; a wrong time unit (factor 2) would show as 100%", kind="trained"),
        reported("trained reduced model: time offset from descent on the refined loss, in seed SEs",
                 (t_half - t_gd_ref) / t_half_se,
                 f"{halves.size} seeds, SE {t_half_se:.3f}; from descent on L~: {(t_half - t_gd) / t_half_se:+.1f} SE, "
                 f"from the L~ flow: {(t_half - t_half_flow) / t_half_se:+.1f} SE", kind="trained"),
    )
    st = fl["stage_times"]
    end, loss_end = np.asarray(fl["y"])[-1], float(np.asarray(fl["loss"])[-1])
    om_t = np.asarray(red["omega"])[0]
    result.notes.append(
        f"Flow (ODE of L~, theory): stages (10%/90% of the loss drop) at t={st[0.1]:.2f} and t={st[0.9]:.2f}, omega "
        f"peaks at {fl['omega_peak']:.3f} (t={fl['t_peak']:.2f}); at t={p.t_end:.0f}: omega={end[0]:.5f}, "
        f"mu={end[2]:.5f}, loss={loss_end:.6f}. Torch reduced model (SGD on fresh batches of {p.train_batch}, "
        f"lr={p.train_lr}, from ±{p.train_start}, {halves.size} seeds; trained): half-peak time {t_half:.3f} ± "
        f"{t_half_se:.3f} vs the L~ flow's {t_half_flow:.3f}, descent on L~ {t_gd:.3f} and on the refined loss "
        f"{t_gd_ref:.3f} (theory); omega "
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
    lr = ovl["lr"]
    notes = []
    for key, ov in ovl["heads"].items():
        H = int(ov["n_head"])
        sm = overlay_summary(ov, p.peak_drop)
        split, E = sm["split"], sm["split"].size
        sel = split if split.any() else np.ones(E, bool)
        k = int(sel.sum())
        tag = f"{k}/{E} seeds that split" if split.any() else f"all {E} seeds (none split)"
        result.add(
            holds(f"trained H={H}: stage order as in the flow (drop, |omega| peak, drift down) in all {tag}",
                  bool(np.all(sm["order_trained"][sel])),
                  f"per seed: loss-drop midpoint <= time of max|omega_h| < end, and end |omega| < {p.peak_drop} x "
                  f"peak (a convention); the flow from the same starts shows it in {int(np.sum(sm['order_flow']))}/{E}"
                  "; the end point (zero-sum, sum mu_h omega_h vs eta*) is H2's check, not repeated here",
                  kind="trained", measured=float(np.mean(sm["order_trained"][sel]))),
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
                        "than the aligned flow; the end points on the flow's slow manifold are H2's check.")


def judge(data: dict, p, result) -> None:
    for name, ok in data["symbolic"].items():
        result.add(holds(name, ok, "sympy: simplify(derived - SPEC form) == 0", kind="symbolic"))
    fl = flows.stage_flow(p)
    _flow_rows(fl, data, p, result)
    _random_rows(data, p, result)
    _reduced_rows(fl, data, p, result)
    if data.get("overlay") is not None:
        _overlay_rows(data["overlay"], p, result)
