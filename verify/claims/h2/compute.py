"""H2 compute: the final circuits, losses and the logged |omega_h| trajectories of the shared ensembles."""
from __future__ import annotations

from ...trained import ensemble_arrays, trained_ensemble

#: Logged readouts (numerics.training.readouts) the judge needs: per step, per member, per head.
TRAJECTORY_KEYS = ("step", "omega", "dummy", "eta_eff", "loss")


def compute(p, ctx) -> dict:
    return {"ensembles": {str(H): ensemble_arrays(trained_ensemble(p.training, p.problem, ctx, n_head=H),
                                                  TRAJECTORY_KEYS) for H in p.heads}}
