r"""Tune every estimator the same way and report its excess risk (SPEC 7.1, 7.2; the package's own protocol).

**Protocol** (one place; :func:`evaluate_methods`):

1. Two independent prompt sets from the data model (SPEC 7.1 ``"sparse"`` or 1.1 ``"isotropic"``), each from its own
   generator spawned from ``seed``: ``tune_prompts`` tuning prompts and ``prompts`` evaluation prompts.
2. Each tuned method has one scalar parameter and a fixed, stated grid (:data:`GRIDS`); the chosen value is the
   grid point with the smallest mean excess squared error :math:`(\hat y-\beta^\top x_q)^2` on the tuning prompts
   (the same criterion for every method; ``OLS`` has no parameter). A choice on the grid's edge is flagged.
3. Every method is then run at its chosen value on the **same** evaluation prompts (paired): the excess risk is
   the mean of :math:`(\hat y - \beta^\top x_q)^2` over them and its SE is the sample standard deviation over
   :math:`\sqrt M`. Per-prompt errors are kept (``MethodResult.errors``) for paired differences.

T-step methods (GD, PtO) use ``steps`` steps; their step size is tuned. Non-finite predictions (a diverging step
size) count as an infinite error, so such a grid point is never chosen.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch

from theory.problem import Problem
from theory.validate import check_float, check_int

from . import estimators as est

METHODS = ("ols", "ridge", "gd", "pto", "lasso")

#: The tuning grids (parameter name, values). Ridge's and Lasso's λ are in the (1/2n)-normalised objectives of
#: :mod:`numerics.sparse.estimators`; GD's and PtO's step η share one grid.
GRIDS: dict[str, tuple[str, np.ndarray]] = {
    "ridge": ("lam", np.geomspace(1e-4, 1e2, 31)),
    "gd": ("eta", np.geomspace(1e-2, 4.0, 41)),
    "pto": ("eta", np.geomspace(1e-2, 4.0, 41)),
    "lasso": ("lam", np.geomspace(1e-4, 2.0, 31)),
}

#: Lasso solver tolerance (relative duality gap) used in tuning and evaluation.
LASSO_TOL = 1e-8

_CHUNK = 4096  # prompts per block (bounds memory: the grid paths hold K * chunk * d numbers)


@dataclass(frozen=True)
class MethodResult:
    """One method's excess risk :math:`\\mathbb E(\\hat y-\\beta^\\top x_q)^2` on the evaluation prompts."""

    name: str
    excess_risk: float
    se: float
    param: float | None  # the tuned value (None for OLS)
    param_name: str | None = None
    at_grid_edge: bool = False
    errors: np.ndarray | None = field(default=None, repr=False, compare=False)  # per-prompt squared errors

    def to_dict(self) -> dict:
        return {"name": self.name, "excess_risk": self.excess_risk, "se": self.se, "param": self.param}


def make_problem(*, data: str, d: int, s: int | None, n: int, sigma2: float) -> Problem:
    """The :class:`Problem` of ``data`` ("sparse": SPEC 7.1 with support size ``s``; "isotropic": SPEC 1.1, ``s``
    ignored) with ``n`` context examples. One-line ``ValueError`` for bad settings (s > d, s < 1, n < 1, σ² < 0, NaN)."""
    if data not in ("sparse", "isotropic"):
        raise ValueError(f"data must be 'sparse' or 'isotropic', got {data!r}")
    n = check_int("n", n, lo=1)
    d = check_int("d", d, lo=1)
    sigma2 = check_float("sigma2", sigma2, lo=0.0)
    if data == "sparse":
        s = check_int("s", s, lo=1, hi=d)
        return Problem(d=d, L=n, sigma2=sigma2, s=s)
    return Problem(d=d, L=max(n, 2), sigma2=sigma2)  # L = 1 is drawn as L = 2 and cut (see draw_prompts)


def draw_prompts(problem: Problem, n: int, M: int, generator: torch.Generator, *, beta_scale: float = 1.0):
    """``M`` prompts with ``n`` examples: ``(x, y, xq, beta)`` in float64. ``beta_scale`` multiplies ``y`` and
    ``beta`` (so the noise variance becomes ``beta_scale² σ²``): used to match a reference that draws
    :math:`\\beta_S\\sim\\mathcal N(0,1)` instead of :math:`\\mathcal N(0,1/s)`."""
    from numerics.data import sampler_for

    p = sampler_for(problem)(M, generator=generator)
    x, y = p.x[:, :n].contiguous(), p.y[:, :n].contiguous()
    xq, beta = p.xq.contiguous(), p.beta.contiguous()
    if beta_scale != 1.0:
        y, beta = y * beta_scale, beta * beta_scale
    return x, y, xq, beta


def _grid_predictions(name: str, x, y, xq, grid: torch.Tensor, *, steps: int, groups=None) -> torch.Tensor:
    """Predictions ``(K, M)`` of method ``name`` at every grid value."""
    G, b, yy = est.stats(x, y)
    if name == "ridge":
        W = est._ridge_path(G, b, grid)
        return (W * xq).sum(-1)
    if name == "gd":
        W = est._gd_weights(G, b, steps, grid)
        return (W * xq).sum(-1)
    if name == "pto":
        W, P = est._pto_weights(G, b, steps, grid, groups)
        return (W * torch.einsum("mhd,md->mh", P, xq)).sum(-1)
    if name == "lasso":
        W, _ = est._lasso_solve(G, b, yy, grid, tol=LASSO_TOL, max_iter=2_000)
        return (W * xq).sum(-1)
    raise ValueError(f"no grid for method {name!r}")


def _sq_err(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    err = (pred - target) ** 2
    return torch.where(err.isfinite(), err, torch.full_like(err, math.inf))


def method_errors(name: str, x, y, xq, beta, param, *, steps: int, groups=None) -> np.ndarray:
    """Per-prompt squared excess errors of method ``name`` at ``param`` (chunked)."""
    out = []
    for i in range(0, x.shape[0], _CHUNK):
        sl = slice(i, i + _CHUNK)
        xs, ys, qs, bs = x[sl], y[sl], xq[sl], beta[sl]
        if name == "ols":
            pred = est.ols(xs, ys, qs)
        else:
            grid = torch.tensor([param], dtype=xs.dtype, device=xs.device)
            pred = _grid_predictions(name, xs, ys, qs, grid, steps=steps, groups=groups)[0]
        out.append(_sq_err(pred, (bs * qs).sum(-1)).cpu())
    return torch.cat(out).numpy()


def tune(name: str, x, y, xq, beta, *, steps: int, groups=None, grid: Sequence[float] | None = None):
    """The grid value of smallest mean excess squared error on the given (tuning) prompts: ``(value, at_edge,
    mean error per grid value)``."""
    values = GRIDS[name][1] if grid is None else np.asarray(grid, dtype=np.float64)
    g = torch.tensor(values, dtype=x.dtype, device=x.device)
    total = torch.zeros(len(values), dtype=torch.float64)
    for i in range(0, x.shape[0], _CHUNK):
        sl = slice(i, i + _CHUNK)
        pred = _grid_predictions(name, x[sl], y[sl], xq[sl], g, steps=steps, groups=groups)
        total += _sq_err(pred, (beta[sl] * xq[sl]).sum(-1)).sum(-1).cpu()
    mean = (total / x.shape[0]).numpy()
    k = int(np.argmin(mean))
    return float(values[k]), k in (0, len(values) - 1), mean


def evaluate_methods(*, d: int, s: int | None, n: int, sigma2: float, steps: int = 10, prompts: int = 2000,
                     tune_prompts: int | None = None, seed: int = 0,
                     methods: Sequence[str] = METHODS, data: str = "sparse", device: str = "cpu",
                     groups=None, beta_scale: float = 1.0, threads: int = 1) -> list[MethodResult]:
    r"""Tune each method on ``tune_prompts`` prompts (default ``prompts``) and evaluate it on ``prompts`` other
    prompts (common to all methods), by the protocol of the module docstring. Returns one :class:`MethodResult`
    per name in ``methods`` (any of ``ols, ridge, gd, pto, lasso``), in that order.

    ``groups`` selects the group-wise PtO (:func:`numerics.sparse.estimators.pto_matrix`); ``beta_scale`` see
    :func:`draw_prompts`; ``threads`` = torch intra-op CPU threads during the call (1: tiny batched ops, and a
    shared machine).
    """
    from numerics.data import make_generator
    from numerics.training.loop import cpu_threads

    problem = make_problem(data=data, d=d, s=s, n=n, sigma2=sigma2)
    steps = check_int("steps", steps, lo=0, hi=100_000)
    M = check_int("prompts", prompts, lo=2)
    Mt = M if tune_prompts is None else check_int("tune_prompts", tune_prompts, lo=1)
    seed = check_int("seed", seed, lo=0)
    beta_scale = check_float("beta_scale", beta_scale, lo=0.0, lo_open=True)
    methods = tuple(methods)
    bad = [m for m in methods if m not in METHODS]
    if bad or not methods:
        raise ValueError(f"methods must be a non-empty subset of {', '.join(METHODS)}, got {list(methods)}")
    if groups is not None:
        est.check_groups(groups, problem.d)
    s_tune, s_eval = np.random.SeedSequence(seed).spawn(2)
    with cpu_threads(threads), torch.no_grad():
        g_tune = make_generator(int(s_tune.generate_state(1)[0]), device)
        g_eval = make_generator(int(s_eval.generate_state(1)[0]), device)
        tune_set = draw_prompts(problem, n, Mt, g_tune, beta_scale=beta_scale)
        eval_set = draw_prompts(problem, n, M, g_eval, beta_scale=beta_scale)
        out = []
        for name in methods:
            param, edge, pname = None, False, None
            if name != "ols":
                pname = GRIDS[name][0]
                param, edge, _ = tune(name, *tune_set, steps=steps, groups=groups)
            err = method_errors(name, *eval_set, param, steps=steps, groups=groups)
            mean = float(np.mean(err))
            se = float(np.std(err, ddof=1) / math.sqrt(M)) if np.all(np.isfinite(err)) else math.inf
            out.append(MethodResult(name, mean, se, param, pname, edge, err))
    return out
