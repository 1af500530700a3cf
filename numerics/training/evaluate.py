r"""Monte Carlo risk of trained ensembles on fresh prompts of any data model (through :func:`~numerics.montecarlo.mc_losses`).

Per prompt the loss of a member is the mean over its ``N`` outputs of :math:`(\hat y_k - y_{q,k})^2` (SPEC 1.3's
multi-task loss; ``N = 1`` is the usual squared error). Against the query label the risk includes the irreducible
noise; with ``excess=True`` the target is the noiseless :math:`\beta_k^\top x_q` instead (SPEC 7.1's excess risk).
Prompts are drawn in float64, fed in each model's dtype; errors are accumulated in float64.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from theory.problem import Problem
from theory.validate import check_int
from ..data import Prompts, Sampler
from ..montecarlo import as_sampler, mc_losses


def _first_param(model) -> torch.Tensor:
    return next(iter(model.parameters()))


def evaluate(model, problem: Problem | Sampler | None = None, *, L: int | None = None, sigma2: float | None = None,
             n_prompts: int, seed: int, chunk: int | None = None,
             excess: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Risk ``(mean (E,), stderr (E,))`` of every member of ``model`` (see :func:`evaluate_many`)."""
    return evaluate_many([model], problem, L=L, sigma2=sigma2, n_prompts=n_prompts, seed=seed, chunk=chunk,
                         excess=excess)[0]


@torch.no_grad()
def evaluate_many(models: Sequence, problem: Problem | Sampler | None = None, *, L: int | None = None,
                  sigma2: float | None = None, n_prompts: int, seed: int, chunk: int | None = None,
                  excess: bool = False) -> list[tuple[np.ndarray, np.ndarray]]:
    """Risks of several ensembles (same ``d`` and outputs, same device) on one shared stream of prompts.

    ``problem`` is the data model (a :class:`~theory.problem.Problem` or a sampler); without one, SPEC 1.1 with
    the models' ``d`` and the given ``L, sigma2``. A model is any ensemble with ``n_member``, ``d`` and
    ``forward(Z (E, k, L, d+N), xq (E, k, d)) -> (E, k, N)``.
    """
    if not models:
        raise ValueError("models must hold at least one model")
    d = models[0].d
    if problem is None:
        sampler = as_sampler(d=d, L=L, sigma2=sigma2)
    elif L is not None or sigma2 is not None:
        raise ValueError("give either a problem or L, sigma2, not both")
    else:
        sampler = as_sampler(problem)
    n_prompts = check_int("n_prompts", n_prompts, lo=2)
    N, L = sampler.n_out, sampler.L
    for m in models:
        if m.d != sampler.d or getattr(m, "n_out", 1) != N:
            raise ValueError(f"every model must have d = {sampler.d} and {N} output(s) for this data model, "
                             f"got d = {m.d}, {getattr(m, 'n_out', 1)} output(s)")
    dev = _first_param(models[0]).device
    if chunk is None:  # about 2^24 floats of attention weights and tokens per chunk
        width = max(m.n_member * (3 * getattr(m, "n_head", 1) + d + N) for m in models)
        chunk = max(64, min(8192, 2**24 // (L * width)))

    def losses(p: Prompts) -> dict:
        y = p.y if N > 1 else p.y.unsqueeze(-1)  # (k, L, N)
        Z64 = torch.cat([p.x, y], -1)  # (k, L, d+N)
        if excess:
            target = torch.einsum("kd,kdn->kn", p.xq, p.beta if N > 1 else p.beta.unsqueeze(-1))  # (k, N)
        else:
            target = p.yq if N > 1 else p.yq.unsqueeze(-1)  # (k, N)
        out = {}
        for i, m in enumerate(models):
            E, k, dtype = m.n_member, p.x.shape[0], _first_param(m).dtype
            Z = Z64.to(dtype).unsqueeze(0).expand(E, k, L, d + N)
            pred = m(Z, p.xq.to(dtype).unsqueeze(0).expand(E, k, d)).double()  # (E, k, N)
            out[i] = ((pred - target.unsqueeze(0)) ** 2).mean(-1)  # (E, k)
        return out

    res = mc_losses(losses, sampler, n_prompts=n_prompts, seed=seed, device=str(dev), chunk=chunk)
    return [(np.asarray(res[i][0]), np.asarray(res[i][1])) for i in range(len(models))]
