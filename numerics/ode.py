r"""ODE integration of a gradient flow and plain gradient descent on the same vector field.

The right-hand side comes from :mod:`theory` as a numeric callable (this module never sees sympy).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
from scipy.integrate import solve_ivp

from theory.validate import check_float, check_int

Rhs = Callable[[float, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class FlowSolution:
    t: np.ndarray            # (T,) output times
    y: np.ndarray            # (T, n) states at those times
    sol: Callable            # dense output: sol(t) -> (n,) or (n, k)
    t_events: list           # one array of event times per event function
    nfev: int


def integrate_flow(rhs: Rhs, y0, t_end: float, *, jac: Rhs | None = None, t_eval: Sequence[float] | None = None,
                   method: str = "LSODA", rtol: float = 1e-9, atol: float = 1e-12,
                   events: Sequence[Callable] | None = None) -> FlowSolution:
    """Integrate ``dy/dt = rhs(t, y)`` from 0 to ``t_end`` with ``scipy.integrate.solve_ivp``.

    The default LSODA switches to a stiff (BDF) method when the slow late-time drift of the flow
    makes explicit steps wasteful; tolerances are tighter than any check asserts.
    """
    y0 = np.asarray(y0, dtype=float)
    if y0.ndim != 1 or not np.all(np.isfinite(y0)):
        raise ValueError(f"y0 must be a finite 1-d array, got {y0!r}")
    t_end = check_float("t_end", t_end, lo=0.0, lo_open=True)
    kw = {"jac": jac} if jac is not None and method in ("LSODA", "BDF", "Radau") else {}
    res = solve_ivp(rhs, (0.0, t_end), y0, method=method, t_eval=t_eval, rtol=rtol, atol=atol,
                    dense_output=True, events=list(events) if events else None, **kw)
    if res.status < 0:
        raise RuntimeError(f"flow integration failed: {res.message}")
    return FlowSolution(res.t, res.y.T, res.sol, list(res.t_events or []), int(res.nfev))


def gradient_descent(rhs: Rhs, y0, *, lr: float, steps: int, record_every: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Plain discrete descent ``y <- y + lr * rhs(y)``; returns ``(t, y)`` with ``t = lr * step``.

    When ``rhs = -grad(F)`` this is gradient descent on ``F`` with learning rate ``lr``; it converges to the
    flow at order 1 in ``lr`` on a fixed time window.
    """
    lr = check_float("lr", lr, lo=0.0, lo_open=True)
    steps = check_int("steps", steps, lo=1)
    record_every = check_int("record_every", record_every, lo=1)
    y = np.asarray(y0, dtype=float).copy()
    ts, ys = [0.0], [y.copy()]
    for k in range(1, steps + 1):
        y = y + lr * rhs(0.0, y)
        if k % record_every == 0 or k == steps:
            ts.append(k * lr)
            ys.append(y.copy())
    return np.asarray(ts), np.asarray(ys)
