"""Prompt samplers (SPEC section 1). Every sampler takes a ``torch.Generator`` and draws on its device.

Shapes: ``x (n, L, d)``, ``y (n, L)``, ``xq (n, d)``, ``yq (n,)``, ``beta (n, d)``. Multi-task and
sparse samplers (SPEC 1.3, 1.4) return the same :class:`Prompts` with a trailing task axis on ``y``/``yq``.
"""
from __future__ import annotations

from typing import NamedTuple

import torch

from theory.validate import check_float, check_int, check_problem


class Prompts(NamedTuple):
    x: torch.Tensor     # (n, L, d) context covariates
    y: torch.Tensor     # (n, L) context labels (noisy)
    xq: torch.Tensor    # (n, d) query covariate
    yq: torch.Tensor    # (n,) query label (noisy for SPEC 1.1/1.2)
    beta: torch.Tensor  # (n, d) task vector


def make_generator(seed: int, device: str | torch.device = "cpu") -> torch.Generator:
    """A seeded generator on ``device`` (no global RNG anywhere in the package)."""
    check_int("seed", seed, lo=0)
    gen = torch.Generator(device=torch.device(device))
    gen.manual_seed(seed)
    return gen


def sample_linear(n: int, *, d: int, L: int, sigma2: float, generator: torch.Generator,
                  dtype: torch.dtype = torch.float64, cov_sqrt: torch.Tensor | None = None,
                  query_noise: bool = True) -> Prompts:
    r"""In-context linear regression, SPEC 1.1 (isotropic) or 1.2 (``x = cov_sqrt @ g``, g standard).

    :math:`\beta\sim\mathcal N(0, I_d/d)`, :math:`y_\ell = \beta^\top x_\ell + \epsilon_\ell`,
    :math:`\epsilon\sim\mathcal N(0,\sigma^2)`; the query label is noisy too unless ``query_noise=False``.
    """
    n = check_int("n", n, lo=1)
    d, L, sigma2 = check_problem(d, L, sigma2)
    dev = generator.device
    g = torch.randn(n, L + 1, d, generator=generator, device=dev, dtype=dtype)  # (n, L+1, d)
    if cov_sqrt is not None:
        if cov_sqrt.shape != (d, d):
            raise ValueError(f"cov_sqrt must have shape ({d}, {d}), got {tuple(cov_sqrt.shape)}")
        g = g @ cov_sqrt.to(device=dev, dtype=dtype).T
    beta = torch.randn(n, d, generator=generator, device=dev, dtype=dtype) / d ** 0.5  # (n, d)
    noise = torch.randn(n, L + 1, generator=generator, device=dev, dtype=dtype) * sigma2 ** 0.5
    if not query_noise:
        noise[:, -1] = 0
    lab = torch.einsum("nld,nd->nl", g, beta) + noise  # (n, L+1)
    return Prompts(g[:, :L], lab[:, :L], g[:, L], lab[:, L], beta)


def ar1_covariance(d: int, rho: float = 0.5, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    r"""The default anisotropic covariance of SPEC 1.2, :math:`\Sigma_{ij} = \rho^{|i-j|}`."""
    d = check_int("d", d, lo=1)
    rho = check_float("rho", rho, lo=-1.0, hi=1.0, lo_open=True)
    if rho == 1.0:
        raise ValueError("rho must be in (-1, 1) for a positive-definite covariance, got 1.0")
    idx = torch.arange(d, dtype=dtype)
    return rho ** (idx[:, None] - idx[None, :]).abs()
