"""H11 compute: the final circuits and Monte Carlo risks of every member of the shared ensembles."""
from __future__ import annotations

from ...trained import ensemble_arrays, trained_ensembles


def compute(p, ctx) -> dict:
    runs = trained_ensembles(p.training, p.problem, ctx, [(H, "softmax") for H in p.heads])
    return {"ensembles": {str(H): ensemble_arrays(runs[H, "softmax"], ("step", "omega", "dummy")) for H in p.heads}}
