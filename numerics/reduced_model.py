r"""The pattern-constrained attention of SPEC 2.2 as a trainable torch module.

Trained by plain gradient descent on :math:`\tfrac12` the mean squared error of fresh Monte Carlo
batches, so that ``t = lr * steps`` is the time of the gradient flow :math:`-\nabla\tfrac12\mathcal L` (SPEC 3.2).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from theory.validate import check_float, check_heads, check_int, check_problem
from .data import make_generator, sample_linear
from .estimators import softmax_heads


class ReducedAttention(torch.nn.Module):
    r""":math:`\hat y = \sum_h\mu_h\sum_\ell y_\ell\,\mathrm{softmax}_\ell(\omega_h x_\ell^\top x_q)` with parameters ``omega, mu`` (H,)."""

    def __init__(self, omega, mu, dtype: torch.dtype = torch.float64):
        super().__init__()
        omega, mu = check_heads(omega, mu)
        self.omega = torch.nn.Parameter(torch.tensor(omega, dtype=dtype))  # a copy: never alias the caller's array
        self.mu = torch.nn.Parameter(torch.tensor(mu, dtype=dtype))

    def forward(self, x, y, xq):  # (n, L, d), (n, L), (n, d) -> (n,)
        return softmax_heads(x, y, xq, self.omega, self.mu)


@dataclass(frozen=True)
class ReducedTrainConfig:
    d: int = 5
    L: int = 40
    sigma2: float = 0.1
    lr: float = 0.01
    steps: int = 1000
    batch: int = 4096
    seed: int = 0
    record_every: int = 10

    def __post_init__(self):
        check_problem(self.d, self.L, self.sigma2)
        check_float("lr", self.lr, lo=0.0, lo_open=True)
        check_int("steps", self.steps, lo=1)
        check_int("batch", self.batch, lo=1)
        check_int("seed", self.seed, lo=0)
        check_int("record_every", self.record_every, lo=1)


def train_reduced(omega0, mu0, cfg: ReducedTrainConfig, *, device: str = "cpu",
                  progress: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradient descent on half the Monte Carlo MSE with fresh prompts each step.

    Returns ``(t, omega, mu)`` recorded every ``record_every`` steps, ``t = lr * step``.
    """
    model = ReducedAttention(omega0, mu0).to(device)
    gen = make_generator(cfg.seed, device)
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr)
    ts, oms, mus = [0.0], [model.omega.detach().cpu().numpy().copy()], [model.mu.detach().cpu().numpy().copy()]
    it = range(1, cfg.steps + 1)
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(it, desc="reduced-model GD", leave=False)
    for step in it:
        p = sample_linear(cfg.batch, d=cfg.d, L=cfg.L, sigma2=cfg.sigma2, generator=gen)
        loss = 0.5 * ((model(p.x, p.y, p.xq) - p.yq) ** 2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % cfg.record_every == 0 or step == cfg.steps:
            ts.append(step * cfg.lr)
            oms.append(model.omega.detach().cpu().numpy().copy())
            mus.append(model.mu.detach().cpu().numpy().copy())
    return np.asarray(ts), np.asarray(oms), np.asarray(mus)

