r"""Monte Carlo risks with standard errors, chunked so memory stays bounded for any number of prompts.

The risk of an estimator :math:`f` is :math:`\mathbb E(y_q - f(\text{prompt}))^2` over the data model,
irreducible query noise included. Means and variances are accumulated in float64 over chunks
(Chan's parallel update), so 10^7 prompts run in a fixed few hundred MB.
"""
from __future__ import annotations

import math
from typing import Callable

import torch

from ._validate import check_heads, check_int, check_problem
from .data import Prompts, make_generator, sample_linear
from .estimators import reduced_attention_predict

Predictor = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]

#: Bytes a chunk may take for its prompt tensors and softmax weights.
CHUNK_BYTES = 64 * 2**20


class RunningMean:
    """Streaming mean and variance (Chan et al.), float64 on the host."""

    def __init__(self):
        self.n, self.mean, self.m2 = 0, 0.0, 0.0

    def update(self, values: torch.Tensor) -> None:
        v = values.detach().to(torch.float64)
        k = v.numel()
        if k == 0:
            return
        mean_b = float(v.mean())
        m2_b = float(((v - mean_b) ** 2).sum())
        delta = mean_b - self.mean
        tot = self.n + k
        self.mean += delta * k / tot
        self.m2 += m2_b + delta**2 * self.n * k / tot
        self.n = tot

    @property
    def stderr(self) -> float:
        return math.sqrt(self.m2 / (self.n - 1) / self.n) if self.n > 1 else float("inf")


def chunk_size(*, d: int, L: int, n_head: int = 1, itemsize: int = 8, budget: int = CHUNK_BYTES) -> int:
    """Prompts per chunk so that the tensors of one chunk take about ``budget`` bytes."""
    per_prompt = itemsize * (L * (d + 3 + 2 * n_head) + 3 * d + 4)
    return max(1, budget // per_prompt)


def mc_risk(predict: Predictor, *, d: int, L: int, sigma2: float, n_prompts: int, seed: int,
            device: str = "cpu", dtype: torch.dtype = torch.float64, chunk: int | None = None,
            sampler: Callable[..., Prompts] = sample_linear, progress: bool = False) -> tuple[float, float]:
    """Monte Carlo risk ``(mean, stderr)`` of ``predict`` over ``n_prompts`` prompts of SPEC 1.1."""
    d, L, sigma2 = check_problem(d, L, sigma2)
    n_prompts = check_int("n_prompts", n_prompts, lo=2)
    chunk = chunk_size(d=d, L=L) if chunk is None else check_int("chunk", chunk, lo=1)
    gen = make_generator(seed, device)
    acc = RunningMean()
    bar = _bar(n_prompts, progress)
    with torch.no_grad():
        while acc.n < n_prompts:
            k = min(chunk, n_prompts - acc.n)
            p = sampler(k, d=d, L=L, sigma2=sigma2, generator=gen, dtype=dtype)
            acc.update((p.yq - predict(p.x, p.y, p.xq)) ** 2)
            if bar is not None:
                bar.update(k)
    if bar is not None:
        bar.close()
    return acc.mean, acc.stderr


def reduced_attention_risk(omega, mu, *, d: int, L: int, sigma2: float, n_prompts: int, seed: int,
                           device: str = "cpu", progress: bool = False) -> tuple[float, float]:
    r"""Monte Carlo risk of the reduced attention model (SPEC 2.2) on data 1.1, float64.

    Returns ``(mean, stderr)``; the true loss lies within a few ``stderr`` of ``mean``.
    """
    omega, mu = check_heads(omega, mu)
    d, L, sigma2 = check_problem(d, L, sigma2)
    return mc_risk(lambda x, y, xq: reduced_attention_predict(x, y, xq, omega=omega, mu=mu),
                   d=d, L=L, sigma2=sigma2, n_prompts=n_prompts, seed=seed, device=device,
                   chunk=chunk_size(d=d, L=L, n_head=omega.size), progress=progress)


def _bar(total: int, enabled: bool):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="prompt", unit_scale=True, leave=False, desc="Monte Carlo")
