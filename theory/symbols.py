"""Every sympy symbol of the theory, with its assumptions, defined once (paper notation, ASCII-fied).

Modules take their symbols from here: two derivations that share a symbol share the *object*, not a name that
sympy happens to intern. Families (heads, tokens, moments, the Wick engine's vectors) are cached factories.
"""
from __future__ import annotations

from functools import lru_cache

import sympy as sp

# ---------------------------------------------------------------- the data model and the loss (SPEC 1.1, 3)
d = sp.Symbol("d", positive=True, integer=True)          # covariate dimension
L = sp.Symbol("L", positive=True, integer=True)          # context length
sigma2 = sp.Symbol("sigma^2", nonnegative=True)          # label-noise variance (prints as σ²)
xi = sp.Symbol("xi", positive=True)                      # d / L (proportional limit)
c = sp.Symbol("c", positive=True)                        # (1 + sigma2) / L
tau2 = sp.Symbol("taubar^2", nonnegative=True)           # E r^2 = (d-1)/d + sigma2, derived in theory.refined
eta = sp.Symbol("eta", real=True)                        # step size of GD / debiased GD; also mu^T omega
q = sp.Symbol("q", positive=True)                        # ||x_q||^2
s = sp.Symbol("s", real=True)                            # a score x_l^T x_q
t = sp.Symbol("t", nonnegative=True)                     # gradient-flow time (lr x steps)
w = sp.Symbol("w", real=True)                            # |omega| of a symmetric pair
m = sp.Symbol("m", real=True)                            # |mu| of a symmetric pair
w_pos = sp.Symbol("w", positive=True)                    # w > 0 of a pair, for one-sided series w -> 0
eps = sp.Symbol("epsilon", positive=True)                # bookkeeping parameter of expansions

# ---------------------------------------------------------------- one head, pairs of heads
omega = sp.Symbol("omega", real=True)                    # one head's KQ scale (SPEC 2.2)
omega_p = sp.Symbol("omega'", real=True)                 # the second head of a mean-field pair kernel
mu = sp.Symbol("mu", real=True)                          # one head's OV entry
omega_a, omega_b = sp.symbols("omega_a omega_b", real=True)  # the two heads of a refined pair kernel
omega_pos = sp.Symbol("omega", positive=True)            # |omega| of a single head (SPEC 3.1 optimum)
alpha = sp.Symbol("alpha", real=True)                    # 1^T mu (refined/linearised); chi^2 MGF exponent
u = sp.Symbol("u", real=True)                            # mu^T omega (small-omega optimum)
v = sp.Symbol("v", real=True)                            # 1^T mu (small-omega optimum); Gaussian variance
x_pos = sp.Symbol("x", positive=True)                    # omega^2, or d w^2 (monotonicity argument)
e_scale = sp.Symbol("e_scale", positive=True)            # omega -> e omega, mu -> mu / e (small-omega series)
lam = sp.Symbol("lambda", real=True)                     # Gaussian MGF argument E e^{lambda s}
lam_flow = sp.Symbol("lam")                              # eigenvalue of the flow's common mode (SPEC 3.2)

# ---------------------------------------------------------------- integration variables, Bayes
v_pos = sp.Symbol("v", positive=True)                    # a Gaussian's variance, while integrating
u_pos = sp.Symbol("u", positive=True)                    # 1 - 2 alpha > 0, while integrating over chi^2_d
m_pos = sp.Symbol("m", positive=True)                    # Marchenko-Pastur Stieltjes transform m(z)
z = sp.Symbol("z", real=True)                            # its (negative) argument
risk = sp.Symbol("R", positive=True)                     # a risk level (effective-length solve)

# ---------------------------------------------------------------- sample means of the delta method (SPEC 3.5)
N, D = sp.symbols("N D")                                 # softmax numerator / denominator means of one head
N_a, D_a, N_b, D_b = sp.symbols("N_a D_a N_b D_b")
M = sp.Symbol("M")                                       # mean of e^{(omega_a + omega_b) s}
m_1, m_2 = sp.symbols("m_1 m_2")                         # mean of s and of s^2 (linearised predictor)
sum_l, sum_j = sp.symbols("l j", integer=True, positive=True)   # summation indices (general-L sums)


@lru_cache(maxsize=None)
def head_symbols(n_head: int) -> tuple[tuple[sp.Symbol, ...], tuple[sp.Symbol, ...]]:
    """``(omega_1..omega_H, mu_1..mu_H)`` as real symbols."""
    if not isinstance(n_head, int) or n_head < 1:
        raise ValueError(f"n_head must be an integer >= 1, got {n_head!r}")
    omega_h = sp.symbols(f"omega_1:{n_head + 1}", real=True)
    mu_h = sp.symbols(f"mu_1:{n_head + 1}", real=True)
    return tuple(omega_h), tuple(mu_h)


@lru_cache(maxsize=None)
def head_mean_symbols(n_head: int) -> tuple[tuple[sp.Symbol, ...], tuple[sp.Symbol, ...]]:
    """``(N_1..N_H, D_1..D_H)``: per-head softmax numerator / denominator sample means (delta method)."""
    return tuple(sp.symbols(f"N_1:{n_head + 1}")), tuple(sp.symbols(f"D_1:{n_head + 1}"))


@lru_cache(maxsize=None)
def overlap_symbol(h: int, k: int) -> sp.Symbol:
    """``M_hk``: sample mean of :math:`e^{(\\omega_h+\\omega_k)s}` (delta method)."""
    return sp.Symbol(f"M_{h}{k}")


def _check(name: str, value, lo: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < lo:
        raise ValueError(f"{name} must be an integer >= {lo}, got {value!r}")
    return value


@lru_cache(maxsize=None)
def token_symbols(n_tokens: int) -> tuple[tuple[sp.Symbol, ...], tuple[sp.Symbol, ...]]:
    """Scores ``s_1..s_L`` and labels ``y_1..y_L`` of a concrete prompt of ``n_tokens`` tokens (real symbols)."""
    _check("n_tokens", n_tokens, 1)
    return (tuple(sp.symbols(f"s_1:{n_tokens + 1}", real=True)),
            tuple(sp.symbols(f"y_1:{n_tokens + 1}", real=True)))


@lru_cache(maxsize=None)
def moment_symbols(order: int) -> tuple[tuple[sp.Symbol, ...], tuple[sp.Expr, ...]]:
    r"""``(nu_0..nu_order, mu_0..mu_order)``: empirical moments :math:`\nu_k=\overline{y s^k}`, :math:`\mu_k=\overline{s^k}`
    (``mu_0`` is the number 1)."""
    _check("order", order, 0)
    nu = tuple(sp.symbols(f"nu_0:{order + 1}", real=True))
    mom = (sp.Integer(1),) + tuple(sp.symbols(f"mubar_1:{order + 1}", real=True))
    return nu, mom


@lru_cache(maxsize=None)
def wick_vector(label) -> sp.Symbol:
    """The Wick engine's random vector ``x_label`` (``beta`` and ``x_q`` are :data:`BETA`, :data:`XQ`)."""
    return sp.Symbol(f"x_{label}")


@lru_cache(maxsize=None)
def wick_noise(label) -> sp.Symbol:
    """The Wick engine's scalar label noise ``noise_label`` (an independent N(0, sigma2))."""
    return sp.Symbol(f"noise_{label}")


BETA = sp.Symbol("beta")                                 # task vector, covariance I/d (Wick engine)
XQ = sp.Symbol("x_q")                                    # query covariate, covariance I (Wick engine)
EPS_Q = wick_noise("q")                                  # query-label noise epsilon_q


C_OF = sp.Eq(c, (1 + sigma2) / L)  # SPEC 3: c = (1 + sigma^2) / L
