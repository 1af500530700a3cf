"""Symbols with their assumptions, defined once for every derivation (paper notation, ASCII-fied)."""
from __future__ import annotations

from functools import lru_cache

import sympy as sp

d = sp.Symbol("d", positive=True, integer=True)          # covariate dimension
L = sp.Symbol("L", positive=True, integer=True)          # context length
sigma2 = sp.Symbol("sigma^2", nonnegative=True)          # label-noise variance (prints as σ²)
xi = sp.Symbol("xi", positive=True)                      # d / L (proportional limit)
c = sp.Symbol("c", positive=True)                        # (1 + sigma2) / L
eta = sp.Symbol("eta", real=True)                        # step size of GD / debiased GD
q = sp.Symbol("q", positive=True)                        # ||x_q||^2
s = sp.Symbol("s", real=True)                            # a score x_l^T x_q
t = sp.Symbol("t", nonnegative=True)                     # gradient-flow time (lr x steps)
w = sp.Symbol("w", real=True)                            # |omega| of a symmetric pair
m = sp.Symbol("m", real=True)                            # |mu| of a symmetric pair
eps = sp.Symbol("epsilon", positive=True)                # bookkeeping parameter of expansions


@lru_cache(maxsize=None)
def head_symbols(n_head: int) -> tuple[tuple[sp.Symbol, ...], tuple[sp.Symbol, ...]]:
    """``(omega_1..omega_H, mu_1..mu_H)`` as real symbols."""
    if not isinstance(n_head, int) or n_head < 1:
        raise ValueError(f"n_head must be an integer >= 1, got {n_head!r}")
    omega = sp.symbols(f"omega_1:{n_head + 1}", real=True)
    mu = sp.symbols(f"mu_1:{n_head + 1}", real=True)
    return tuple(omega), tuple(mu)


C_OF = sp.Eq(c, (1 + sigma2) / L)  # SPEC 3: c = (1 + sigma^2) / L
