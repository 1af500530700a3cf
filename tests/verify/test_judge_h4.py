"""H4's judge on data of the shape ``compute`` returns (the judge integrates the theory's flows itself): reduced
models on the flow's clock, first-order descent and a stage-ordered overlay pass; a second-order GD error, a reduced
model on half the clock, a false symbolic proof and a wrong flow (a mutant) fail; H2's end-point rows are not
repeated."""
from __future__ import annotations

import numpy as np
import pytest

from tests.helpers import failed_rows, judged
from verify.claims.h4 import H4Params
from verify.claims.h4 import flows
from verify.claims.h4.judge import judge
from verify.claims.h4.mutants import MUTANTS
from verify.result import ClaimResult

P = H4Params()
ES = 0.8791208791208791  # eta* = 1/(1+cd) at d=5, L=40, sigma2=0.1


def _reduced(clock: float = 1.0) -> dict:
    """Four seeds following the L~ flow from the training start at clock rates within 2% of it, all slowed by
    ``clock``."""
    ts = np.linspace(0, 8, 81)
    rates = np.array([1.0, 1.02, 0.98, 1.01]) / clock
    om = np.stack([flows.training_start_flow(P, ts * r)[:, :2] for r in rates])  # (S, T, 2)
    return {"t": ts, "omega": om, "mu": om}


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
    data = {"symbolic": {"derived L~ = SPEC 3.1 matrix form (H=1)": True},
            "refined": {"t_start": 400.0, "end": np.array([0.138, -0.138, 3.2, -3.2]), "loss_end": 0.243,
                        "loss_of_flow_end": 0.244},
            "random_y0": np.random.default_rng(3).normal(0, P.start, 2 * P.random_heads),
            "gd": {"lrs": lrs, "errors": 0.1 * lrs}, "reduced": _reduced(), "overlay": _overlay()}
    data.update(over)
    return data


def _judge(data: dict) -> ClaimResult:
    return judged(judge, data, P, "H4")


def _failed(result: ClaimResult) -> list[str]:
    return failed_rows(result)


@pytest.fixture(scope="module")
def base() -> ClaimResult:
    return _judge(_data())


def test_the_true_flow_with_consistent_data_passes(base):
    assert base.verdict == "pass", _failed(base)
    kappa = next(c for c in base.comparisons if c.name.startswith("trained H=2: clock factor"))
    assert abs(kappa.measured - 0.01) < 1e-3  # flow midpoint t=20 vs trained step 2000


def test_h2_end_point_rows_are_not_repeated(base):
    assert not any("eta*" in c.name and c.name.startswith("trained") for c in base.comparisons)
    assert not any("zero-sum" in c.name and c.name.startswith("trained") for c in base.comparisons)


def test_second_order_descent_fails_the_order_row():
    lrs = np.array(P.gd_lrs)
    assert _failed(_judge(_data(gd={"lrs": lrs, "errors": 0.1 * lrs**2}))) == [
        "discrete GD -> flow: convergence order"]


def test_a_reduced_model_on_half_the_clock_fails():
    assert _failed(_judge(_data(reduced=_reduced(clock=2.0)))) == [
        "trained reduced model: time omega reaches half the flow's peak (mean over seeds)"]


def test_a_false_symbolic_proof_fails():
    assert _failed(_judge(_data(symbolic={"derived L~ = SPEC 3.1 matrix form (H=1)": False}))) == [
        "derived L~ = SPEC 3.1 matrix form (H=1)"]


def test_the_flow_with_c_ten_percent_low_fails_the_reference_rows():
    mutant = next(m for m in MUTANTS if m.id == "H4:flow-c-x0.9")
    with mutant.patch():
        failed = _failed(_judge(_data(overlay=None)))
    assert {"flow end omega (t=1e4)", "flow end mu (t=1e4)"} <= set(failed)
