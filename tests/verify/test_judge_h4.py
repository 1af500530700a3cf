"""H4's judge on hand-made trajectories of the shape ``compute`` returns: a flow with SPEC 3.2's stages and end
point, an exactly linear early stage, first-order descent and a reduced model on the flow's clock pass; a
second-order GD error, a reduced model on half the clock, and a trained end point off the slow manifold fail."""
from __future__ import annotations

import numpy as np

from verify.claims.h4 import H4Params
from verify.claims.h4.judge import judge
from tests.helpers import failed_rows, judged
from verify.result import ClaimResult

P = H4Params()
ES = 0.8791208791208791  # eta* = 1/(1+cd) at d=5, L=40, sigma2=0.1
LAM = 0.9465113578986512  # lambda_+ of the common mode, H=4


def _flow() -> dict:
    """omega rises to 0.58 at t=7.7, then decays monotonically to 0.139 at t=1e4 with 2 mu omega = eta*."""
    t = np.unique(np.concatenate([np.linspace(0, 30, 61), np.geomspace(30, 1e4, 40)]))
    om = np.where(t <= 7.7, 0.001 + 0.579 * (t / 7.7) ** 4, 0.139 + 0.441 * np.exp(-(t - 7.7) / 40))
    om[-1] = 0.139
    mu = ES / (2 * om)
    loss = 0.2211 + 0.9 * np.exp(-t / 3)  # (T,) decreasing
    return {"t": t, "y": np.column_stack([om, -om, mu, -mu]), "loss": loss, "t_stage": np.array([5.4, 7.6]),
            "t_peak": 7.7, "omega_peak": 0.58}


def _random(rate: float = LAM) -> dict:
    """Zero-sum part z e^t, common part A e^{rate t} in omega only: g_c / g_zs ~ e^{-(1 - rate) t}."""
    tw = np.linspace(0.5, 3.0, 26)
    z = np.array([1.0, -2.0, 0.5, 0.5]) * 1e-3
    om = np.outer(np.exp(tw), z) + 1e-3 * np.exp(rate * tw)[:, None]
    mu = np.outer(np.exp(tw), z)
    m = ES / (4 * 0.3)
    return {"n_head": 4, "y0": np.zeros(8), "linear_t": tw, "linear_omega": om, "linear_mu": mu,
            "end_omega": np.array([0.3, -0.3, 0.3, -0.3]), "end_mu": np.array([m, -m, m, -m])}


def _reduced(clock: float = 1.0) -> dict:
    """|omega| = 0.02 e^t along the flow; four seeds at rates within 2% of it, all slowed by ``clock``."""
    ts = np.linspace(0, 8, 81)
    flow = 0.02 * np.exp(np.minimum(ts, 3.4))
    rates = np.array([1.0, 1.02, 0.98, 1.01]) / clock
    om = np.stack([np.column_stack([0.02 * np.exp(np.minimum(r * ts, 3.4))] * 2) for r in rates])  # (S, T, 2)
    return {"t": ts, "omega": om * [1, -1], "mu": om * [1, -1], "flow": np.column_stack([flow, -flow, flow, -flow])}


def _overlay(eta_end: float = ES) -> dict:
    """One H=2 ensemble of 3 members: loss drop at step 2000, |omega| peaks at step 4000 then drifts down;
    the flow from the same starts does the same at t = 0.01 x step."""
    step = np.arange(250, 20_001, 250, dtype=float)  # (T,)
    loss = 0.25 + 0.8 / (1 + np.exp((step - 2000) / 300))
    w = 0.4 * np.exp(-((np.log(step) - np.log(4000)) ** 2)) + 0.1
    om = np.stack([w, -w], -1)[:, None, :].repeat(3, 1)  # (T, E, H)
    t_f = np.unique(np.concatenate([[0.0], np.geomspace(1e-2, 1e4, 400)]))
    tf = np.maximum(t_f, 1e-3)
    f_loss = 0.22 + 0.8 / (1 + np.exp(np.minimum((tf - 20) / 3, 50)))
    fw = 0.4 * np.exp(-((np.log(tf) - np.log(40)) ** 2)) + 0.1
    f_om = np.stack([fw, -fw], -1)[None].repeat(3, 0)  # (E, Tf, H)
    head = {"n_head": 2, "train_steps": 20_000, "step": step, "loss": loss[:, None].repeat(3, 1), "omega": om,
            "mu": 3 * om, "eta_eff_end": np.full(3, eta_end), "zero_sum_end": np.full(3, 0.01),
            "split": np.ones(3, bool), "flow_t": t_f, "flow_omega": f_om, "flow_mu": 3 * f_om,
            "flow_loss": f_loss[None].repeat(3, 0)}
    return {"eta_star": ES, "eta_tolerance": 0.0425, "lr": 1e-3, "heads": {"H2": head}}


def _data(**over) -> dict:
    lrs = np.array(P.gd_lrs)
    data = {"theory": {"eta_star": ES, "loss_infimum": 0.2, "lambda_plus": LAM}, "flow": _flow(),
            "refined": {"t_start": 400.0, "end": np.array([0.138, -0.138, 3.2, -3.2]), "loss_end": 0.243,
                        "loss_of_flow_end": 0.244},
            "random": _random(), "gd": {"lrs": lrs, "errors": 0.1 * lrs}, "reduced": _reduced(),
            "overlay": _overlay()}
    data.update(over)
    return data


def _judge(data: dict) -> ClaimResult:
    return judged(judge, data, P, "H4")


def _failed(result: ClaimResult) -> list[str]:
    return failed_rows(result)


def test_a_flow_with_the_reference_stages_passes():
    result = _judge(_data())
    assert result.verdict == "pass", _failed(result)
    kappa = next(c for c in result.comparisons if c.name.startswith("trained H=2: clock factor"))
    assert abs(kappa.measured - 0.01) < 1e-3  # flow midpoint t=20 vs trained step 2000


def test_second_order_descent_fails_the_order_row():
    lrs = np.array(P.gd_lrs)
    assert _failed(_judge(_data(gd={"lrs": lrs, "errors": 0.1 * lrs**2}))) == [
        "discrete GD -> flow: convergence order"]


def test_a_wrong_common_mode_rate_fails():
    assert _failed(_judge(_data(random=_random(rate=0.9)))) == [
        "common-mode decay rate relative to the zero-sum mode (linear stage)"]


def test_a_reduced_model_on_half_the_clock_fails():
    assert _failed(_judge(_data(reduced=_reduced(clock=2.0)))) == [
        "trained reduced model: time omega reaches half the flow's peak (mean over seeds)"]


def test_a_trained_end_point_off_the_slow_manifold_fails():
    failed = _failed(_judge(_data(overlay=_overlay(eta_end=0.7))))
    assert failed == ["trained H=2: end sum mu_h omega_h vs the flow's limit eta* (median of 3/3 seeds that split)"]


def test_without_the_overlay_only_the_reduced_rows_remain():
    result = _judge(_data(overlay=None))
    assert result.verdict == "pass" and not any(c.name.startswith("trained H=") for c in result.comparisons)
