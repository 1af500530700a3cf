"""H11 compute: the final circuits and Monte Carlo risks of every member of the shared ensembles."""
from __future__ import annotations

from ...trained import ensemble_arrays, trained_configs, trained_ensembles


#: members per training run on the CPU: H11's many-seed ensembles train as shards of 16 side by side (one run of
#: H=2 x 32 gains nothing from a second intra-op thread; two shards of 16 on two cores take 0.57 of its time).
SHARD = 16


def trainings(p, ctx) -> list:
    """The runs :func:`compute` trains (``Claim.trainings``)."""
    return [(trained_configs(p.training, p.problem, ctx, [(H, "softmax") for H in p.heads]), SHARD)]


def compute(p, ctx) -> dict:
    runs = trained_ensembles(p.training, p.problem, ctx, [(H, "softmax") for H in p.heads], shard=SHARD)
    return {"ensembles": {str(H): ensemble_arrays(runs[H, "softmax"], ("step", "omega", "dummy")) for H in p.heads}}
