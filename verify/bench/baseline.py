"""The straightforward trainer, written the way research notebooks do it — the benchmark's reference point.

Same model (SPEC 2.1) and data (SPEC 1.1) as :mod:`numerics.training`, but the usual notebook idioms:
one ``nn.Module`` per head with separate ``nn.Linear`` Q, K, V, O projections applied to every token,
a Python loop over heads, the prompt built on the CPU each step (covariates, task, noise, ``torch.cat``
into tokens with the query's label slot zeroed) and moved to the device, ``torch.optim.Adam`` with its
defaults, ``zero_grad`` / ``backward`` / ``step`` and ``loss.item()`` recorded every step, one model per run.
Nothing here is deliberately slow; it is simply not engineered for speed.
"""
from __future__ import annotations

import math
import time

import torch
from torch import nn


class Head(nn.Module):
    def __init__(self, width: int):
        super().__init__()
        self.Q = nn.Linear(width, width, bias=False)
        self.K = nn.Linear(width, width, bias=False)
        self.V = nn.Linear(width, width, bias=False)
        self.O = nn.Linear(width, 1, bias=False)


class NotebookAttention(nn.Module):
    """Multi-head softmax attention as in SPEC 2.1, heads in an ``nn.ModuleList``."""

    def __init__(self, d: int, n_head: int):
        super().__init__()
        self.width = d + 1
        self.heads = nn.ModuleList([Head(self.width) for _ in range(n_head)])

    def forward(self, Z: torch.Tensor) -> torch.Tensor:
        """``Z (B, L+1, d+1)``: context tokens then the query token ``(x_q, 0)``; returns ``(B,)``."""
        ctx, zq = Z[:, :-1], Z[:, -1]
        out = 0
        for h in self.heads:
            q = h.Q(zq)  # (B, D)
            k = h.K(ctx)  # (B, L, D)
            v = h.V(ctx)  # (B, L, D)
            attn = torch.softmax(torch.einsum("bld,bd->bl", k, q) / math.sqrt(self.width), dim=-1)
            out = out + h.O(torch.einsum("bl,bld->bd", attn, v)).squeeze(-1)
        return out


def sample_batch(batch: int, d: int, L: int, sigma2: float):
    """One batch of SPEC 1.1 prompts on the CPU: tokens ``(B, L+1, d+1)`` and query targets ``(B,)``."""
    x = torch.randn(batch, L + 1, d)
    beta = torch.randn(batch, d) / math.sqrt(d)
    y = torch.einsum("bld,bd->bl", x, beta) + math.sqrt(sigma2) * torch.randn(batch, L + 1)
    Z = torch.cat([x, y.unsqueeze(-1)], dim=-1)
    yq = Z[:, -1, -1].clone()
    Z[:, -1, -1] = 0.0
    return Z, yq


class NotebookRun:
    """One model, one optimiser; :meth:`train` runs ``steps`` steps and returns the per-step losses."""

    def __init__(self, *, d: int = 5, L: int = 40, sigma2: float = 0.1, n_head: int = 4, batch: int = 256,
                 lr: float = 1e-3, seed: int = 0, device: str = "cpu"):
        torch.manual_seed(seed)  # the notebook way: the global RNG
        self.d, self.L, self.sigma2, self.batch, self.device = d, L, sigma2, batch, device
        self.model = NotebookAttention(d, n_head).to(device)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=lr)
        self.losses: list[float] = []

    def train(self, steps: int) -> list[float]:
        for _ in range(steps):
            Z, yq = sample_batch(self.batch, self.d, self.L, self.sigma2)
            Z, yq = Z.to(self.device), yq.to(self.device)
            loss = ((self.model(Z) - yq) ** 2).mean()
            self.opt.zero_grad()
            loss.backward()
            self.opt.step()
            self.losses.append(loss.item())
        return self.losses


def baseline_steps_per_s(*, steps: int, warmup: int = 20, **kw) -> float:
    """Steps per second of :class:`NotebookRun` after ``warmup`` steps."""
    run = NotebookRun(**kw)
    run.train(warmup)
    _sync(kw.get("device", "cpu"))
    t0 = time.perf_counter()
    run.train(steps)
    _sync(kw.get("device", "cpu"))
    return steps / (time.perf_counter() - t0)


def _sync(device) -> None:
    if str(device).startswith("cuda"):
        torch.cuda.synchronize()
