"""H11 compute: the final circuits and Monte Carlo risks of every member of the shared ensembles."""
from __future__ import annotations

from ...trained import trained_ensemble
from ..h2.compute import ensemble_arrays


def compute(p, ctx) -> dict:
    return {"ensembles": {str(H): ensemble_arrays(trained_ensemble(p.training, p.problem, ctx, n_head=H), ("step",))
                          for H in p.heads}}
