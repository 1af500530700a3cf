"""Statistics shared by the claims' judges: one crossing finder, Wilson intervals, weighted fits with standard
errors, and the convergence (trend) test of a trained metric. numpy only."""
from __future__ import annotations

import math
from typing import Literal

import numpy as np

#: Two-sided 95% normal quantile (Wilson intervals of seed frequencies).
Z95 = 1.959963984540054


def crossing(x, y, level: float, *, direction: Literal["up", "down"] = "up", log_x: bool = False) -> float:
    """First ``x`` at which ``y`` reaches ``level`` going ``up`` (``y >= level``) or ``down`` (``y <= level``),
    linearly interpolated between the bracketing samples (in ``log x`` when ``log_x`` and ``x > 0``).

    Returns ``x[0]`` when the first sample already qualifies and NaN when no sample does.
    """
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"x and y must be 1-d arrays of one length, got {x.shape} and {y.shape}")
    hit = y >= level if direction == "up" else y <= level
    idx = np.nonzero(hit)[0]
    if idx.size == 0:
        return math.nan
    i = int(idx[0])
    if i == 0:
        return float(x[0])
    x0, x1, y0, y1 = x[i - 1], x[i], y[i - 1], y[i]
    f = (level - y0) / (y1 - y0) if y1 != y0 else 0.0
    if log_x and x0 > 0:
        return float(math.exp(math.log(x0) + f * (math.log(x1) - math.log(x0))))
    return float(x0 + f * (x1 - x0))


def wilson(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion ``k / n`` (95% by default); ``(nan, nan)`` when ``n = 0``."""
    if n < 0 or k < 0 or k > n:
        raise ValueError(f"need 0 <= k <= n, got k={k}, n={n}")
    if n == 0:
        return math.nan, math.nan
    p = k / n
    den = 1 + z**2 / n
    mid = (p + z**2 / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / den
    return max(0.0, mid - half), min(1.0, mid + half)


def weighted_fit(X, y, se=None) -> tuple[np.ndarray, np.ndarray]:
    """Weighted least squares ``y ≈ X @ coef`` with weights ``1 / se**2``; returns ``(coef, coef_se)``.

    With ``se`` given, the coefficient standard errors propagate those errors (``(XᵀWX)⁻¹``); without it they
    come from the residual variance (ordinary least squares, ``dof = n - p``).
    """
    X, y = np.atleast_2d(np.asarray(X, dtype=np.float64)), np.asarray(y, dtype=np.float64)
    if X.shape[0] != y.shape[0]:
        X = X.T
    n, p = X.shape
    if n < p:
        raise ValueError(f"need at least {p} points for {p} coefficients, got {n}")
    if se is None:
        coef, *_ = np.linalg.lstsq(X, y, rcond=None)
        resid = y - X @ coef
        s2 = float(resid @ resid) / max(n - p, 1)
        cov = s2 * np.linalg.inv(X.T @ X)
    else:
        w = 1.0 / np.asarray(se, dtype=np.float64)
        coef, *_ = np.linalg.lstsq(X * w[:, None], y * w, rcond=None)
        cov = np.linalg.inv((X * w[:, None]).T @ (X * w[:, None]))
    return coef, np.sqrt(np.diag(cov))


def slope(x, y, se=None) -> tuple[float, float]:
    """Slope of the straight-line fit ``y = a + b x`` and its standard error (see :func:`weighted_fit`)."""
    x = np.asarray(x, dtype=np.float64)
    coef, coef_se = weighted_fit(np.column_stack([np.ones_like(x), x]), y, se)
    return float(coef[1]), float(coef_se[1])


def trend(t, y, *, last: float = 0.2) -> tuple[float, float, float]:
    """Convergence test of a logged metric: the OLS slope of ``y`` against ``t`` over the last ``last`` fraction
    of the run, its standard error, and the projected change over that window (slope × window length).

    A metric is *still moving* when ``|slope| > 4 SE`` (the package's z); the residual scatter of a converged
    metric is minibatch noise, so the OLS standard error is the right yardstick. Autocorrelation of logged
    values makes the SE optimistic, which errs towards calling a run unconverged (inconclusive, never pass).
    """
    t, y = np.asarray(t, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if not 0 < last <= 1:
        raise ValueError(f"last must be in (0, 1], got {last}")
    lo = t[0] + (1 - last) * (t[-1] - t[0])
    sel = t >= lo
    if sel.sum() < 3:
        return math.nan, math.nan, math.nan
    b, b_se = slope(t[sel], y[sel])
    return b, b_se, b * float(t[sel][-1] - t[sel][0])


def bootstrap_ci(values, stat, *, n_boot: int = 2000, seed: np.random.SeedSequence | int = 0,
                 level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval of ``stat(values)`` (resampling the first axis)."""
    values = np.asarray(values)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(values), (n_boot, len(values)))
    boot = np.array([stat(values[i]) for i in idx])
    a = (1 - level) / 2
    return float(np.quantile(boot, a)), float(np.quantile(boot, 1 - a))
