r"""H4 compute: the symbolic proofs (derived L~ = SPEC 3.1, its flow = SPEC 3.2), the refined-loss flow over the
late drift (reported), discrete gradient descent against the flow, the torch reduced model trained by SGD, the
random start of the H-head flow, and (:mod:`.overlay`) the trained full models beside the flow.

The L~ flows that the judge compares with SPEC's numbers and with the trained runs are *not* stored: they are
theory, integrated by the judge (:mod:`.flows`), so a mutant of the flow moves them. Everything is returned as
arrays; the rows are the judge's.
"""
from __future__ import annotations

import numpy as np

import sympy as sp

from numerics.ode import gradient_descent, integrate_flow
from numerics.reduced_model import ReducedTrainConfig, train_reduced
from theory import flow as theory_flow
from theory import mean_field
from theory.flow import flow_jacobian, flow_rhs
from theory.refined import refined_loss, refined_loss_grad
from theory.symbols import L, c, sigma2

from .flows import prob_of, stage_flow
from .overlay import compute_overlay


def symbolic_proofs(n_heads=(1, 2, 3)) -> dict:
    """``{name: bool}``: the derived L~ (Gaussian integrals, :func:`theory.mean_field.approx_loss_expr`) equals SPEC
    3.1's matrix form, and the flow's right-hand side (differentiated from the derived loss) equals SPEC 3.2's
    closed form, for each H in ``n_heads`` (sympy ``simplify(difference) == 0``)."""
    out = {}
    for h in n_heads:
        diff = mean_field.approx_loss_expr(h) - mean_field.approx_loss_matrix_expr(h).subs(c, (1 + sigma2) / L)
        out[f"derived L~ = SPEC 3.1 matrix form (H={h})"] = bool(sp.simplify(sp.expand(diff)) == 0)
        rhs = theory_flow.flow_expr(h) - theory_flow.flow_closed_form_expr(h)
        out[f"flow of the derived L~ = SPEC 3.2 closed form (H={h})"] = all(sp.simplify(x) == 0 for x in rhs)
    return out


def _refined_flow(p, prob: dict, flow: dict) -> dict:
    """The flow of the refined loss (SPEC 3.5) from the L~ flow's state at the first grid time after the peak with
    |omega| <= refined_from_omega (where the refined expansion holds), to ``t_end`` (NaN if never reached)."""
    t, y = flow["t"], flow["y"]
    late = np.nonzero((t > flow["t_peak"]) & (np.abs(y[:, 0]) <= p.refined_from_omega))[0]
    if late.size == 0:  # the drift has not reached |omega| <= refined_from_omega by t_end (a short smoke run)
        return {"t_start": np.nan, "end": np.full(4, np.nan), "loss_end": np.nan, "loss_of_flow_end": np.nan}
    t0 = float(t[late[0]])
    y0 = y[late[0]]

    def rhs(t, y):
        g_om, g_mu = refined_loss_grad(y[:2], y[2:], **prob)
        return -0.5 * np.concatenate([g_om, g_mu])

    end = integrate_flow(rhs, y0, p.t_end - t0, method="LSODA", rtol=1e-8, atol=1e-10).y[-1]
    return {"t_start": t0, "end": end, "loss_end": refined_loss(end[:2], end[2:], **prob),
            "loss_of_flow_end": refined_loss(y[-1, :2], y[-1, 2:], **prob)}


def _discrete_gd(p, prob: dict, y0: np.ndarray) -> dict:
    """Gradient descent ``y <- y + lr f(y)`` to t = gd_window for each lr, and its distance to the flow there
    (the flow solved at rtol 1e-11, far below the smallest GD error)."""
    rhs, jac = flow_rhs(2, **prob), flow_jacobian(2, **prob)
    T = p.gd_window
    y_T = integrate_flow(rhs, y0, T, jac=jac, rtol=1e-11, atol=1e-13).sol(T)
    errs = []
    for lr in p.gd_lrs:
        _, ys = gradient_descent(rhs, y0, lr=lr, steps=int(round(T / lr)), record_every=10**9)
        errs.append(float(np.linalg.norm(ys[-1] - y_T)))
    return {"lrs": np.array(p.gd_lrs), "errors": np.array(errs)}


def _reduced_training(p, ctx, prob: dict) -> dict:
    """The torch reduced model, SGD on fresh Monte Carlo batches from ``±train_start`` (t = lr * steps), one
    independent stream per seed (the judge integrates the flow from the same start at the same times).

    From ±train_start the gradient dominates the minibatch noise (from ±1e-3 the escape time is set by noise:
    its spread over seeds is ~5%)."""
    y0 = np.array([p.train_start, -p.train_start, p.train_start, -p.train_start])
    runs = []
    for k in range(p.train_seeds):
        cfg = ReducedTrainConfig(**prob, lr=p.train_lr, steps=p.train_steps, batch=p.train_batch,
                                 seed=ctx.seed_int("reduced-training", k), record_every=2)
        runs.append(train_reduced(y0[:2], y0[2:], cfg, device=ctx.device, progress=ctx.progress))
    ts = runs[0][0]
    return {"t": ts,  # (T,)
            "omega": np.stack([r[1] for r in runs]), "mu": np.stack([r[2] for r in runs])}  # (S, T, 2)


def compute(p, ctx) -> dict:
    prob = prob_of(p)
    flow = stage_flow(p)
    y0 = np.array([p.start, -p.start, p.start, -p.start])
    return {
        # symbolic proofs (sympy, done once here); the flows themselves are theory, integrated by the judge
        "symbolic": symbolic_proofs(),
        "refined": _refined_flow(p, prob, flow),
        "random_y0": ctx.rng("random-heads").normal(0, p.start, 2 * p.random_heads),
        "gd": _discrete_gd(p, prob, y0),
        "reduced": _reduced_training(p, ctx, prob),
        "overlay": compute_overlay(p, ctx) if p.trained_full else None,
    }
