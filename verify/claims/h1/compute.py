"""H1 compute: the final circuits, losses and the logged pattern metrics of the shared ensembles."""
from __future__ import annotations

from ...trained import ensemble_arrays, trained_configs, trained_ensembles

#: Logged readouts (numerics.training.readouts) the judge needs: per step, per member, per head.
TRAJECTORY_KEYS = ("step", "diag_ratio", "ov_last_ratio", "homogeneity", "dummy")


def trainings(p, ctx) -> list:
    """The runs :func:`compute` trains (``Claim.trainings``)."""
    return [(trained_configs(p.training, p.problem, ctx, [(H, "softmax") for H in p.heads]), None)]


def compute(p, ctx) -> dict:
    runs = trained_ensembles(p.training, p.problem, ctx, [(H, "softmax") for H in p.heads])
    return {"ensembles": {str(H): ensemble_arrays(runs[H, "softmax"], TRAJECTORY_KEYS) for H in p.heads}}
