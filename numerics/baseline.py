"""Two straightforward trainers of the paper's model: the benchmark's reference points (``icl-verify bench``).

Both train SPEC 2.1's one-layer multi-head softmax attention on SPEC 1.1 prompts with ``torch.optim.Adam``
(its defaults), one model per run, the global RNG, and the usual ``zero_grad / forward / loss / backward /
step / loss.item()`` loop, drawing each step's prompts on the CPU and moving them to the device. Nothing in
either is deliberately slow; neither is engineered for speed.

* :class:`AuthorsRun` — **the authors' idiom** (the [HPCY25] code's layout, written here from its description):
  one ``MultiHeadAttention`` with fused ``nn.Linear(D, D·H)`` query, key and value projections and one
  ``nn.Linear(D·H, 1)`` output; the query token ``z_q (B, 1, D)`` attends to the context ``z (B, L, D)``; the
  sampler draws ``x``, ``x_q``, ``β``, the noises, builds ``y = xβ + ε`` by ``einsum`` and concatenates
  ``z = (x, y)`` and ``z_q = (x_q, 0)``; the loss is ``nn.MSELoss``.
* :class:`NotebookRun` — **the notebook idiom**: one ``nn.Module`` per head with separate ``nn.Linear`` Q, K, V, O
  in an ``nn.ModuleList``, a Python loop over heads, the prompt drawn as ``L + 1`` tokens whose last label is
  zeroed.

The bench times both and uses the faster as its baseline (the authors' idiom, on every machine measured so far:
the fused projections do one matmul per role instead of ``H``).
"""
from __future__ import annotations

import math
import time

import torch
from torch import nn

from theory.validate import check_int

BASELINES = ("authors", "notebook")


# ------------------------------------------------------------------------------------------ authors' idiom
class MultiHeadAttention(nn.Module):
    """``H`` heads with fused projections: ``q, k, v = nn.Linear(D, D·H)``, output ``nn.Linear(D·H, n_out)``."""

    def __init__(self, width: int, n_head: int, n_out: int = 1):
        super().__init__()
        self.width, self.n_head = width, n_head
        self.q_proj = nn.Linear(width, width * n_head, bias=False)
        self.k_proj = nn.Linear(width, width * n_head, bias=False)
        self.v_proj = nn.Linear(width, width * n_head, bias=False)
        self.o_proj = nn.Linear(width * n_head, n_out, bias=False)

    def forward(self, z_q: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """``z_q (B, 1, D)`` attends to ``z (B, L, D)``; returns ``(B, 1, n_out)``."""
        B, L, D = z.shape
        H = self.n_head
        q = self.q_proj(z_q).view(B, 1, H, D).permute(0, 2, 1, 3)  # (B, H, 1, D)
        k = self.k_proj(z).view(B, L, H, D).permute(0, 2, 1, 3)  # (B, H, L, D)
        v = self.v_proj(z).view(B, L, H, D).permute(0, 2, 1, 3)
        attn = torch.softmax(q @ k.transpose(-2, -1) * D ** -0.5, dim=-1)  # (B, H, 1, L)
        out = (attn @ v).permute(0, 2, 1, 3).contiguous().view(B, 1, H * D)
        return self.o_proj(out)


def authors_batch(batch: int, d: int, L: int, sigma2: float):
    """SPEC 1.1 prompts the authors' way: ``z (B, L, d+1)``, ``z_q (B, 1, d+1)``, ``y_q (B, 1, 1)``."""
    x = torch.randn(batch, L, d)
    x_q = torch.randn(batch, 1, d)
    beta = torch.randn(batch, d, 1) * torch.sqrt(torch.tensor(1.0 / d))
    noise = math.sqrt(sigma2)
    y = torch.einsum("nlx,nxy->nly", x, beta)
    y += noise * torch.randn(batch, L, 1)
    y_q = torch.einsum("nlx,nxy->nly", x_q, beta)
    y_q += noise * torch.randn(batch, 1, 1)
    z = torch.cat([x, y], dim=2)
    z_q = torch.cat([x_q, torch.zeros_like(y_q)], dim=2)
    return z, z_q, y_q


# ----------------------------------------------------------------------------------------- notebook idiom
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


def notebook_batch(batch: int, d: int, L: int, sigma2: float):
    """One batch of SPEC 1.1 prompts on the CPU: tokens ``(B, L+1, d+1)`` and query targets ``(B,)``."""
    x = torch.randn(batch, L + 1, d)
    beta = torch.randn(batch, d) / math.sqrt(d)
    y = torch.einsum("bld,bd->bl", x, beta) + math.sqrt(sigma2) * torch.randn(batch, L + 1)
    Z = torch.cat([x, y.unsqueeze(-1)], dim=-1)
    yq = Z[:, -1, -1].clone()
    Z[:, -1, -1] = 0.0
    return Z, yq


# ---------------------------------------------------------------------------------------------- the runs
class _Run:
    """One model, one optimiser; :meth:`train` runs ``steps`` steps and returns the per-step losses."""

    def __init__(self, *, d: int = 5, L: int = 40, sigma2: float = 0.1, n_head: int = 4, batch: int = 256,
                 lr: float = 1e-3, seed: int = 0, device: str = "cpu"):
        self.d, self.L = check_int("d", d, lo=1), check_int("L", L, lo=2)
        self.n_head, self.batch = check_int("n_head", n_head, lo=1), check_int("batch", batch, lo=1)
        self.sigma2, self.device = float(sigma2), device
        torch.manual_seed(seed)  # the notebook way: the global RNG
        self.model = self._model().to(device)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=lr)
        self.losses: list[float] = []

    def train(self, steps: int) -> list[float]:
        for _ in range(steps):
            loss = self._loss()
            self.opt.zero_grad()
            loss.backward()
            self.opt.step()
            self.losses.append(loss.item())
        return self.losses


class AuthorsRun(_Run):
    """The authors' idiom (see the module docstring)."""

    def _model(self):
        self.criterion = nn.MSELoss()
        return MultiHeadAttention(self.d + 1, self.n_head)

    def _loss(self):
        z, z_q, y_q = (t.to(self.device) for t in authors_batch(self.batch, self.d, self.L, self.sigma2))
        return self.criterion(self.model(z_q, z), y_q)


class NotebookRun(_Run):
    """The notebook idiom (see the module docstring)."""

    def _model(self):
        return NotebookAttention(self.d, self.n_head)

    def _loss(self):
        Z, yq = notebook_batch(self.batch, self.d, self.L, self.sigma2)
        Z, yq = Z.to(self.device), yq.to(self.device)
        return ((self.model(Z) - yq) ** 2).mean()


RUNS = {"authors": AuthorsRun, "notebook": NotebookRun}


def baseline_run(name: str, **kw) -> _Run:
    """A fresh run of the baseline ``name`` (``"authors"`` or ``"notebook"``)."""
    if name not in RUNS:
        raise ValueError(f"baseline must be one of {', '.join(BASELINES)}, got {name!r}")
    return RUNS[name](**kw)


def baseline_steps_per_s(name: str = "authors", *, steps: int, warmup: int = 20, **kw) -> float:
    """Steps per second of the baseline ``name`` after ``warmup`` steps."""
    run = baseline_run(name, **kw)
    run.train(warmup)
    _sync(kw.get("device", "cpu"))
    t0 = time.perf_counter()
    run.train(check_int("steps", steps, lo=1))
    _sync(kw.get("device", "cpu"))
    return steps / (time.perf_counter() - t0)


def _sync(device) -> None:
    if str(device).startswith("cuda"):
        torch.cuda.synchronize()
