"""H2 compute: the final circuits, losses and the logged |omega_h| trajectories of the shared ensembles."""
from __future__ import annotations

from ...trained import ensemble_arrays, trained_ensembles
from ..h1.compute import trainings  # noqa: F401  (the same ensembles as H1)

#: Logged readouts (numerics.training.readouts) the judge needs: per step, per member, per head.
TRAJECTORY_KEYS = ("step", "omega", "dummy", "eta_eff", "loss")


def compute(p, ctx) -> dict:
    runs = trained_ensembles(p.training, p.problem, ctx, [(H, "softmax") for H in p.heads])
    return {"ensembles": {str(H): ensemble_arrays(runs[H, "softmax"], TRAJECTORY_KEYS) for H in p.heads}}
