"""H2 compute: the final circuits, losses and the logged |omega_h| trajectories of the shared ensembles."""
from __future__ import annotations

import numpy as np

from numerics.patterns import circuits

from ...trained import trained_ensemble

#: Logged readouts (numerics.training.readouts) the judge needs: per step, per member, per head.
TRAJECTORY_KEYS = ("step", "omega", "dummy")


def ensemble_arrays(res, keys: tuple[str, ...]) -> dict:
    """What the judges read of one trained ensemble: circuits ``kq (E, H, D, D)``, ``ov (E, H, D, 1)``, final
    Monte Carlo risks with SEs ``(E,)``, member seeds, and the logged trajectories ``keys`` (``(T, E, H)``)."""
    kq, ov, d = circuits(res.model)
    return {"kq": kq, "ov": ov, "d": int(d), "seeds": [int(s) for s in res.config.seeds],
            "steps": int(res.config.steps), "final_loss": np.asarray(res.final_loss, dtype=np.float64),
            "final_loss_se": np.asarray(res.final_loss_se, dtype=np.float64),
            "trajectory": {k: np.asarray(res.trajectory[k]) for k in keys}}


def compute(p, ctx) -> dict:
    return {"ensembles": {str(H): ensemble_arrays(trained_ensemble(p.training, p.problem, ctx, n_head=H),
                                                  TRAJECTORY_KEYS) for H in p.heads}}
