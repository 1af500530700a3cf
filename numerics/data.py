r"""Prompt samplers, one per data model of SPEC 1 and 7.1, each a batch function and a resumable stream.

A sampler is built from a :class:`theory.problem.Problem` (:func:`sampler_for`) and used two ways:

* **batch function** — ``sampler(n, generator=g)`` returns :class:`Prompts` (float64 by default);
* **stream** — :class:`PromptStream` (:func:`stream_for`) draws a training batch for every ensemble member
  from the member's own generator into fixed buffers, with ``state()``/``set_state()`` for bit-identical
  resume. Member ``e``'s draws are exactly ``sampler(batch, generator=g_e)``: one code path builds both.

**Generators.** :func:`make_generator` gives a :class:`numerics.rng.Philox` stream on the CPU (the same numbers with
or without the C library, 2-3x faster than torch's Mersenne Twister, and the same on every machine and torch
version) and torch's generator on a GPU; a batch function takes either (or any ``torch.Generator``).

**Draw layout** (per prompt, in this order from one generator; the layout is the model's token layout, so
the stream writes labels in place and hands the model a transposed view without copying):

1. ``ctx (d + N, L)`` standard normals: rows ``:d`` are the covariates before :math:`\Sigma^{1/2}`, rows
   ``d:`` the label noises of the ``N`` tasks (overwritten by the labels);
2. ``qry`` standard normals: :math:`x_q` before :math:`\Sigma^{1/2}` (``d``), the query noise (one slot,
   absent for the noiseless multi-task query), the task vectors before scaling (``N d``);
3. sparse model only: ``d`` uniforms whose ``s`` smallest pick the support.

**Precision of the draws.** On the CPU, float64 batches (the Monte Carlo estimators') draw their standard normals in
float32 and widen them (Philox only draws float32; torch's float32 sampler is vectorised and 4-5x faster than its
float64 one), and the arithmetic after the draw stays in float64. The law differs from N(0, 1) only by each draw's
float32 rounding (relative 6e-8) and a tail cut at |z| ~ 5.8 (probability 8e-9; both generators): far below any
Monte Carlo standard error in this package. A float64 batch's draws are then exactly those of the float32 batch of
the same generator, widened. Uniforms (the sparse
supports) are drawn in the buffer's own precision.

Shapes of :class:`Prompts`: ``x (n, L, d)``, ``xq (n, d)``; single output ``y (n, L)``, ``yq (n,)``,
``beta (n, d)``; ``N > 1`` outputs add a trailing task axis: ``y (n, L, N)``, ``yq (n, N)``, ``beta (n, d, N)``.
``x`` and ``y`` are views into the token buffer (not contiguous).
"""
from __future__ import annotations

import math
from typing import NamedTuple, Sequence

import numpy as np
import torch

from theory.problem import Problem
from theory.validate import check_float, check_int, check_problem

from .rng import Philox


class Prompts(NamedTuple):
    x: torch.Tensor     # (n, L, d) context covariates
    y: torch.Tensor     # (n, L) or (n, L, N) context labels (noisy)
    xq: torch.Tensor    # (n, d) query covariate
    yq: torch.Tensor    # (n,) or (n, N) query label (noisy except for the multi-task model, SPEC 1.3)
    beta: torch.Tensor  # (n, d) or (n, d, N) task vector(s), zero off the support


class Batch(NamedTuple):
    """A training batch for an ensemble: tokens, query covariate, query targets and the task vectors."""

    Z: torch.Tensor     # (E, B, L, d+N) tokens z_l = (x_l, y_l) (a transposed view of the draw buffer)
    xq: torch.Tensor    # (E, B, d)
    yq: torch.Tensor    # (E, B, N)
    beta: torch.Tensor  # (E, B, N, d)


def make_generator(seed: int, device: str | torch.device = "cpu") -> torch.Generator | Philox:
    """The package's seeded generator on ``device`` (no global RNG anywhere in the package): a
    :class:`~numerics.rng.Philox` stream on the CPU, torch's generator on a GPU (:func:`torch_generator`)."""
    check_int("seed", seed, lo=0)
    if torch.device(device).type == "cpu":
        return Philox(seed)
    return torch_generator(seed, device)


def torch_generator(seed: int, device: str | torch.device = "cpu") -> torch.Generator:
    """A seeded ``torch.Generator`` on ``device`` (what :func:`make_generator` gives on a GPU)."""
    check_int("seed", seed, lo=0)
    gen = torch.Generator(device=torch.device(device))
    gen.manual_seed(seed)
    return gen


class Sampler:
    r"""In-context linear regression with ``N`` tasks on shared covariates (the common core of SPEC 1.1–1.3, 7.1).

    :math:`y^{(k)}_\ell = \beta_k^\top x_\ell + \sqrt{v_k}\,\epsilon^{(k)}_\ell`, :math:`x = A g` with
    :math:`AA^\top=\Sigma`; subclasses fix :math:`A`, the law of :math:`\beta` and the noise variances :math:`v_k`.
    """

    query_noise: bool = True

    def __init__(self, problem: Problem, *, factor: np.ndarray | None = None, n_out: int = 1,
                 noise_var: Sequence[float] | None = None):
        if not isinstance(problem, Problem):
            raise ValueError(f"problem must be a theory.problem.Problem, got {type(problem).__name__}")
        self.problem = problem
        self.d, self.L, self.n_out = problem.d, problem.L, n_out
        self.factor = None if factor is None else np.asarray(factor, dtype=np.float64)  # (d, d) or None
        self.noise_sd = [math.sqrt(v) for v in (noise_var if noise_var is not None else [problem.sigma2] * n_out)]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.problem!r})"

    # ------------------------------------------------------------------------------------- layout
    def draws(self) -> list[tuple[str, tuple[int, ...], str]]:
        """``(name, per-prompt shape, "normal" | "uniform")`` of the raw draws, in draw order."""
        d, N = self.d, self.n_out
        return [("ctx", (d + N, self.L), "normal"), ("qry", (d + int(self.query_noise) + N * d,), "normal")]

    def _beta(self, raw: dict) -> torch.Tensor:
        """The task vectors ``(..., N, d)``, scaled in place inside ``qry``."""
        raise NotImplementedError

    def build(self, raw: dict[str, torch.Tensor]) -> Batch:
        """Turn raw draws with any leading shape ``(...)`` into prompts, in place; returns the batch views."""
        ctx, qry = raw["ctx"], raw["qry"]  # (..., D, L), (..., q)
        d = self.d
        x, xq = ctx[..., :d, :], qry[..., :d]  # (..., d, L), (..., d)
        if self.factor is not None:
            A = torch.as_tensor(self.factor, dtype=ctx.dtype, device=ctx.device)
            x.copy_(A @ x)
            xq.copy_(xq @ A.T)
        beta = self._beta(raw)  # (..., N, d)
        y = ctx[..., d:, :]  # (..., N, L): noise rows, overwritten with the labels
        if ctx.dtype == torch.float64:   # Monte Carlo batches (large): one matrix product
            signal = beta @ x  # (..., N, L)
        else:                            # training batches (small): cheaper as a product and a sum
            signal = (beta.unsqueeze(-1) * x.unsqueeze(-3)).sum(-2)  # (..., N, L)
        if self.n_out == 1:
            y.mul_(self.noise_sd[0]).add_(signal)
        else:
            sd = torch.tensor(self.noise_sd, dtype=ctx.dtype, device=ctx.device)
            y.mul_(sd[:, None]).add_(signal)
        yq = (beta * xq.unsqueeze(-2)).sum(-1)  # (..., N)
        if self.query_noise:
            yq = yq + self.noise_sd[0] * qry[..., d:d + 1]
        return Batch(ctx.transpose(-1, -2), xq, yq, beta)

    def _fill(self, raw: dict, generator: torch.Generator | Philox, index: int | None = None) -> None:
        """Fill the raw buffers (or row ``index`` of each) from ``generator``, in draw order.

        Float64 normals on the CPU are drawn in float32 and widened (see the module docstring)."""
        for name, _, law in self.draws():
            buf = raw[name] if index is None else raw[name][index]
            if isinstance(generator, Philox):
                generator.uniform_(buf) if law == "uniform" else generator.normal_(buf)
            elif law == "uniform":
                buf.uniform_(generator=generator)
            elif buf.dtype == torch.float64 and buf.device.type == "cpu":
                buf.copy_(torch.empty(buf.shape, dtype=torch.float32).normal_(generator=generator))
            else:
                buf.normal_(generator=generator)

    def empty(self, lead: tuple[int, ...], *, dtype: torch.dtype, device) -> dict[str, torch.Tensor]:
        return {name: torch.empty(*lead, *shape, dtype=dtype, device=device) for name, shape, _ in self.draws()}

    # ------------------------------------------------------------------------------ batch function
    def __call__(self, n: int, *, generator: torch.Generator | Philox, dtype: torch.dtype = torch.float64) -> Prompts:
        """``n`` prompts drawn from ``generator`` on its device (see the module docstring for shapes)."""
        n = check_int("n", n, lo=1)
        raw = self.empty((n,), dtype=dtype, device=generator.device)
        self._fill(raw, generator)
        b = self.build(raw)
        x = b.Z[..., :self.d]  # (n, L, d)
        if self.n_out == 1:
            return Prompts(x, b.Z[..., self.d], b.xq, b.yq[..., 0], b.beta[..., 0, :])
        return Prompts(x, b.Z[..., self.d:], b.xq, b.yq, b.beta.transpose(-1, -2))


class IsotropicSampler(Sampler):
    r"""SPEC 1.1: :math:`x\sim\mathcal N(0,I_d)`, :math:`\beta\sim\mathcal N(0,I_d/d)`, noise :math:`\sigma^2`, noisy query."""

    def __init__(self, problem: Problem, *, query_noise: bool = True):
        super().__init__(problem)
        self.query_noise = bool(query_noise)

    def _beta(self, raw):
        d = self.d
        beta = raw["qry"][..., d + int(self.query_noise):].unsqueeze(-2)  # (..., 1, d)
        return beta.mul_(1.0 / math.sqrt(d))


class AnisotropicSampler(IsotropicSampler):
    r"""SPEC 1.2: as 1.1 with :math:`x\sim\mathcal N(0,\Sigma)` for any SPD :math:`\Sigma` (``x = A g``, :math:`A` its
    Cholesky factor, or a given ``factor`` with :math:`AA^\top=\Sigma`)."""

    def __init__(self, problem: Problem, *, query_noise: bool = True, factor=None):
        super().__init__(problem, query_noise=query_noise)
        self.factor = np.linalg.cholesky(problem.cov_matrix) if factor is None else np.asarray(factor, np.float64)
        if self.factor.shape != (self.d, self.d):
            raise ValueError(f"cov_sqrt must have shape ({self.d}, {self.d}), got {self.factor.shape}")


class MultiTaskSampler(Sampler):
    r"""SPEC 1.3: task :math:`k` reads :math:`x_{S_k}`, :math:`\beta_k\sim\mathcal N(0, I_{|S_k|})` (zero off
    :math:`S_k`), noise variance :math:`|S_k|\sigma^2`; the query targets are noiseless."""

    query_noise = False

    def __init__(self, problem: Problem):
        if problem.supports is None:
            raise ValueError("MultiTaskSampler needs a Problem with supports (SPEC 1.3)")
        sizes = [len(s) for s in problem.supports]
        super().__init__(problem, n_out=len(sizes), noise_var=[k * problem.sigma2 for k in sizes])
        mask = np.zeros((len(sizes), problem.d))
        for k, s in enumerate(problem.supports):
            mask[k, list(s)] = 1.0
        self.mask = mask  # (N, d)

    def _beta(self, raw):
        qry = raw["qry"]
        beta = qry[..., self.d:].unflatten(-1, (self.n_out, self.d))  # (..., N, d)
        return beta.mul_(torch.as_tensor(self.mask, dtype=qry.dtype, device=qry.device))


class SparseSampler(Sampler):
    r"""SPEC 7.1: :math:`x\sim\mathcal N(0,I_d)`, :math:`\beta` with a uniformly random support of size ``s`` and
    i.i.d. :math:`\mathcal N(0,1/s)` entries there (:math:`\mathbb E\|\beta\|^2=1`), noise :math:`\sigma^2`, noisy
    query. ``beta`` is returned, so the excess risk :math:`\mathbb E(\hat y-\beta^\top x_q)^2` is computable."""

    def __init__(self, problem: Problem):
        if problem.s is None:
            raise ValueError("SparseSampler needs a Problem with s (SPEC 7.1)")
        super().__init__(problem)
        self.s = problem.s

    def draws(self):
        return super().draws() + [("support", (self.d,), "uniform")]

    def _beta(self, raw):
        qry, u = raw["qry"], raw["support"]  # (..., q), (..., d)
        mask = torch.zeros_like(u).scatter_(-1, torch.topk(u, self.s, dim=-1, largest=False).indices, 1.0)
        beta = qry[..., self.d + 1:].unsqueeze(-2)  # (..., 1, d)
        return beta.mul_(mask.unsqueeze(-2)).mul_(1.0 / math.sqrt(self.s))


def sampler_for(problem: Problem, *, query_noise: bool = True) -> Sampler:
    """The sampler of ``problem``'s data model (``problem.kind``)."""
    kind = problem.kind
    if kind == "isotropic":
        return IsotropicSampler(problem, query_noise=query_noise)
    if kind == "anisotropic":
        return AnisotropicSampler(problem, query_noise=query_noise)
    if not query_noise:
        raise ValueError(f"query_noise=False applies to the isotropic and anisotropic models, not {kind}")
    return MultiTaskSampler(problem) if kind == "multitask" else SparseSampler(problem)


class PromptStream:
    """Fresh prompts for every ensemble member, drawn on the device into fixed buffers (resumable).

    ``sample()`` returns a :class:`Batch` whose tensors are valid until the next call; member ``e`` draws
    from its own generator, :func:`make_generator` of ``seeds[e]``, exactly what
    ``sampler(batch, generator=g_e)`` draws.
    """

    def __init__(self, sampler: Sampler, *, batch: int, seeds: Sequence[int], device: str | torch.device = "cpu",
                 dtype: torch.dtype = torch.float32):
        self.sampler = sampler
        self.batch = check_int("batch", batch, lo=1)
        if not len(seeds):
            raise ValueError("seeds must name at least one member")
        self.generators = [make_generator(s, device) for s in seeds]
        self.raw = sampler.empty((len(self.generators), self.batch), dtype=dtype, device=device)  # (E, B, ...)

    @property
    def problem(self) -> Problem:
        return self.sampler.problem

    def sample(self) -> Batch:
        for e, g in enumerate(self.generators):
            self.sampler._fill(self.raw, g, index=e)
        return self.sampler.build(self.raw)

    def state(self) -> list[torch.Tensor]:
        """Every member's generator state (CPU tensors: ``int64`` for :class:`~numerics.rng.Philox`, ``uint8`` for
        torch's; safe for ``torch.load(weights_only=True)``)."""
        return [g.get_state().cpu() for g in self.generators]

    def set_state(self, states: Sequence[torch.Tensor]) -> None:
        if len(states) != len(self.generators):
            raise ValueError(f"state holds {len(states)} generators, the stream has {len(self.generators)}")
        for g, s in zip(self.generators, states):
            g.set_state(s)


def stream_for(problem: Problem, *, batch: int, seeds: Sequence[int], device: str | torch.device = "cpu",
               dtype: torch.dtype = torch.float32) -> PromptStream:
    """:class:`PromptStream` of ``problem``'s sampler."""
    return PromptStream(sampler_for(problem), batch=batch, seeds=seeds, device=device, dtype=dtype)


def sample_linear(n: int, *, d: int, L: int, sigma2: float, generator: torch.Generator | Philox,
                  dtype: torch.dtype = torch.float64, cov_sqrt: torch.Tensor | None = None,
                  query_noise: bool = True) -> Prompts:
    r"""SPEC 1.1 (isotropic) or 1.2 (``x = cov_sqrt @ g``) prompts: the batch function of those samplers.

    :math:`\beta\sim\mathcal N(0, I_d/d)`, :math:`y_\ell = \beta^\top x_\ell + \epsilon_\ell`,
    :math:`\epsilon\sim\mathcal N(0,\sigma^2)`; the query label is noisy too unless ``query_noise=False``.
    """
    d, L, sigma2 = check_problem(d, L, sigma2)
    problem = Problem(d=d, L=L, sigma2=sigma2)
    if cov_sqrt is None:
        sampler: Sampler = IsotropicSampler(problem, query_noise=query_noise)
    else:
        if tuple(cov_sqrt.shape) != (d, d):
            raise ValueError(f"cov_sqrt must have shape ({d}, {d}), got {tuple(cov_sqrt.shape)}")
        a = cov_sqrt.detach().cpu().double().numpy()
        sampler = AnisotropicSampler(problem.replace(cov=a @ a.T), query_noise=query_noise, factor=a)
    return sampler(n, generator=generator, dtype=dtype)


def ar1_covariance(d: int, rho: float = 0.5, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    r"""The default anisotropic covariance of SPEC 1.2, :math:`\Sigma_{ij} = \rho^{|i-j|}`."""
    d = check_int("d", d, lo=1)
    rho = check_float("rho", rho, lo=-1.0, hi=1.0, lo_open=True)
    if rho == 1.0:
        raise ValueError("rho must be in (-1, 1) for a positive-definite covariance, got 1.0")
    idx = torch.arange(d, dtype=dtype)
    return rho ** (idx[:, None] - idx[None, :]).abs()
