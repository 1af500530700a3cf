"""H11 compute: the final circuits and Monte Carlo risks of every member of the shared ensembles."""
from __future__ import annotations

from ...trained import ensemble_arrays, trained_ensemble


def compute(p, ctx) -> dict:
    return {"ensembles": {str(H): ensemble_arrays(trained_ensemble(p.training, p.problem, ctx, n_head=H), ("step", "omega", "dummy"))
                          for H in p.heads}}
