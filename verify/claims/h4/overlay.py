r"""H4, full-model part (compute): trained :math:`(\omega_h,\mu_h)` trajectories and the reduced flow from each
member's initial point.

The shared ensembles (:mod:`verify.trained`) for H in ``overlay_heads`` log every head's :math:`\omega_h`
(mean of the KQ x-block diagonal) and :math:`\mu_h` (last OV entry) during training. For each member the
reduced flow of SPEC 3.2 (:func:`theory.flow.flow_rhs`, integrated by :func:`numerics.ode.integrate_flow`) is
started from that member's *initial* :math:`(\omega_h,\mu_h)`, read from its random initial weights.

**Time axes.** The flow's time is :math:`t=\text{lr}\times\text{steps}` for plain gradient descent only.
Adam normalises every coordinate's step to about lr, so its clock runs at a different and changing rate
(fast while gradients are small — the slow stages — and comparatively slow in the fast stage). The judge
therefore places the trained curves on the flow's axis by one factor per member, :math:`t=\kappa\cdot
\text{step}`, chosen so that the midpoint of the loss drop happens at the same time in both; nothing else is
fitted. Only what does not depend on the clock is compared (stage order; end point on the flow's slow
manifold: :math:`\sum_h\mu_h\omega_h` within :math:`\Delta\eta` of :math:`\eta^*`, zero-sum); the flow's own
end point is shown, not compared.

This module returns arrays only (trajectories, end metrics, split flags), never models.
"""
from __future__ import annotations

import numpy as np

from numerics.ode import integrate_flow
from numerics.patterns import model_patterns
from theory.flow import flow_jacobian, flow_rhs
from theory.mean_field import eta_star, mean_field_loss
from theory.risks import dgd_step_tolerance

from ...trained import trained_configs, trained_ensembles


def overlay_for_heads(res, H: int, prob: dict, t_end: float) -> dict:
    """One ensemble's logged trajectory (steps > 0: step 0 has no loss window) and the flow from each member's
    initial (omega, mu) on the grid ``{0} ∪ geomspace(1e-2, t_end, 400)``."""
    tr = res.trajectory
    steps = tr["step"].astype(float)  # (T0,)
    keep = steps > 0
    om, mu = tr["omega"], tr["mu"]  # (T0, E, H)
    E = om.shape[1]
    rhs, jac = flow_rhs(H, **prob), flow_jacobian(H, **prob)
    t_grid = np.unique(np.concatenate([[0.0], np.geomspace(1e-2, t_end, 400)]))
    f_om, f_mu, f_loss = [], [], []
    for e in range(E):
        sol = integrate_flow(rhs, np.concatenate([om[0, e], mu[0, e]]), t_end, jac=jac, t_eval=t_grid)
        f_om.append(sol.y[:, :H])
        f_mu.append(sol.y[:, H:])
        f_loss.append([mean_field_loss(y[:H], y[H:], **prob) for y in sol.y])
    return {
        "n_head": H, "train_steps": int(res.config.steps),
        "step": steps[keep],  # (T,)
        "loss": tr["loss"][keep],  # (T, E) window mean of the batch loss
        "omega": om[keep], "mu": mu[keep],  # (T, E, H)
        "eta_eff_end": np.asarray(tr["eta_eff"][-1], dtype=float),  # (E,) logged at the last step
        "zero_sum_end": np.asarray(tr["zero_sum"][-1], dtype=float),  # (E,)
        "split": np.asarray(model_patterns(res.model).split, dtype=bool),  # (E,) final model: both signs active
        "flow_t": t_grid,  # (Tf,)
        "flow_omega": np.stack(f_om), "flow_mu": np.stack(f_mu),  # (E, Tf, H)
        "flow_loss": np.array(f_loss),  # (E, Tf) L~ along the flow
    }


def trainings(p, ctx) -> list:
    """The runs H4's compute trains (``Claim.trainings``): the overlay's ensembles, when ``trained_full``."""
    if not p.trained_full:
        return []
    return [(trained_configs(p.training, p.problem, ctx, [(H, "softmax") for H in p.overlay_heads]), None)]


def compute_overlay(p, ctx) -> dict:
    """Train (or reuse) the ensembles for ``p.overlay_heads`` under ``p.training`` and return, per H (key
    ``"H<H>"``), :func:`overlay_for_heads`; plus eta* and the tolerance on eta (theory, evaluated once)."""
    prob = {"d": p.problem.d, "L": p.problem.L, "sigma2": p.problem.sigma2}
    out = {"eta_star": eta_star(**prob), "eta_tolerance": dgd_step_tolerance(**prob, excess=p.delta_risk),
           "lr": p.training.lr, "heads": {}}
    runs = trained_ensembles(p.training, p.problem, ctx, [(H, "softmax") for H in p.overlay_heads])
    for H in p.overlay_heads:
        out["heads"][f"H{H}"] = overlay_for_heads(runs[H, "softmax"], H, prob, p.t_end)
    return out
