r"""Integrate the multi-task mean-field flow (SPEC 3.7) from many random small starts at once (numpy + scipy).

The vector field comes from :mod:`theory` as a numeric callable ``field(omega, mu) -> (d omega, d mu)`` batched over
leading axes (:func:`theory.multitask.flow_field`); this module never sees sympy. Models with fewer heads than the
batch's widest are padded with heads that start at 0 and are frozen there (their derivative is masked): a head
with :math:`\omega_h=0,\mu_h=0` adds nothing to any other head's field, so the padded system is exactly the smaller
one. All starts are integrated as one ODE with :func:`numerics.ode.integrate_flow` (explicit RK45: the field is not
stiff on the horizons used).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from theory.validate import check_float, check_int

from .ode import integrate_flow

Field = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class FlowEnds:
    """States at the output times: ``omega (T, G, Hmax, d)``, ``mu (T, G, Hmax, N)``; ``heads (G,)`` the head count
    of each model (its first ``heads[g]`` heads are real); ``t (T,)``."""

    t: np.ndarray
    omega: np.ndarray
    mu: np.ndarray
    heads: np.ndarray

    def model(self, i_t: int, g: int) -> tuple[np.ndarray, np.ndarray]:
        """``(omega (H, d), mu (H, N))`` of model ``g`` at output time ``i_t`` (padding removed)."""
        H = int(self.heads[g])
        return self.omega[i_t, g, :H], self.mu[i_t, g, :H]


def random_starts(heads: Sequence[int], n_start: int, *, d: int, n_task: int, scale: float,
                  rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``n_start`` i.i.d. :math:`\\mathcal N(0,\\text{scale}^2)` starts per head count: ``(omega0, mu0, heads)`` with
    ``omega0 (G, Hmax, d)``, ``mu0 (G, Hmax, N)``, padding heads 0, ``G = len(heads) * n_start``."""
    heads = [check_int("heads entry", H, lo=1, hi=256) for H in heads]
    if not heads:
        raise ValueError("heads must not be empty")
    n_start = check_int("n_start", n_start, lo=1, hi=100_000)
    d = check_int("d", d, lo=1, hi=10_000)
    n_task = check_int("n_task", n_task, lo=1, hi=10_000)
    scale = check_float("scale", scale, lo=0.0, lo_open=True, hi=1.0)
    Hmax = max(heads)
    hs = np.repeat(np.asarray(heads), n_start)
    live = (np.arange(Hmax)[None, :] < hs[:, None]).astype(float)            # (G, Hmax)
    om = rng.normal(scale=scale, size=(hs.size, Hmax, d)) * live[..., None]
    mu = rng.normal(scale=scale, size=(hs.size, Hmax, n_task)) * live[..., None]
    return om, mu, hs


def integrate_starts(field: Field, omega0, mu0, heads, *, t_out: Sequence[float], rtol: float = 1e-6,
                     atol: float = 1e-9) -> FlowEnds:
    """Integrate every start of ``omega0 (G, Hmax, d)``, ``mu0 (G, Hmax, N)`` to the times ``t_out`` (increasing,
    > 0); padding heads (index >= ``heads[g]``) are frozen."""
    omega0, mu0 = np.asarray(omega0, dtype=float), np.asarray(mu0, dtype=float)
    if omega0.ndim != 3 or mu0.ndim != 3 or omega0.shape[:2] != mu0.shape[:2]:
        raise ValueError(f"omega0 must be (G, Hmax, d) and mu0 (G, Hmax, N), got {omega0.shape}, {mu0.shape}")
    heads = np.asarray(heads)
    G, Hmax, d = omega0.shape
    N = mu0.shape[2]
    if heads.shape != (G,) or heads.min() < 1 or heads.max() > Hmax:
        raise ValueError(f"heads must hold {G} head counts in [1, {Hmax}]")
    t_out = np.asarray(t_out, dtype=float)
    if t_out.ndim != 1 or t_out.size == 0 or t_out[0] <= 0 or np.any(np.diff(t_out) <= 0):
        raise ValueError(f"t_out must be increasing positive times, got {t_out}")
    live = (np.arange(Hmax)[None, :] < heads[:, None]).astype(float)[..., None]
    n_om = G * Hmax * d

    def rhs(t, y):
        om = y[:n_om].reshape(G, Hmax, d)
        mu = y[n_om:].reshape(G, Hmax, N)
        dom, dmu = field(om, mu)
        return np.concatenate([(dom * live).ravel(), (dmu * live).ravel()])

    y0 = np.concatenate([omega0.ravel(), mu0.ravel()])
    sol = integrate_flow(rhs, y0, float(t_out[-1]), t_eval=t_out, method="RK45", rtol=rtol, atol=atol)
    ys = sol.y                                                                 # (T, n)
    return FlowEnds(sol.t, ys[:, :n_om].reshape(-1, G, Hmax, d), ys[:, n_om:].reshape(-1, G, Hmax, N), heads)
