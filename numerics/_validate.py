"""Argument checks for ``numerics`` (numpy/torch; no sympy). One-line ``ValueError`` naming the argument."""
from __future__ import annotations

import math
from numbers import Integral, Real

import numpy as np
import torch


def check_int(name: str, value, *, lo: int | None = None, hi: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise ValueError(f"{name} must be an integer{_span(lo, hi)}, got {value!r}")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise ValueError(f"{name} must be an integer{_span(lo, hi)}, got {value}")
    return int(value)


def check_float(name: str, value, *, lo: float | None = None, hi: float | None = None,
                lo_open: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (Real, np.floating, np.integer)):
        raise ValueError(f"{name} must be a finite number{_span(lo, hi, lo_open)}, got {value!r}")
    value = float(value)
    if (not math.isfinite(value) or (lo is not None and (value <= lo if lo_open else value < lo))
            or (hi is not None and value > hi)):
        raise ValueError(f"{name} must be a finite number{_span(lo, hi, lo_open)}, got {value}")
    return value


def check_tensor(name: str, value: torch.Tensor, shape: tuple) -> torch.Tensor:
    """``shape`` may hold ``None`` for a free axis; the tensor must be finite."""
    if not isinstance(value, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
    if value.dim() != len(shape) or any(s is not None and s != v for s, v in zip(shape, value.shape)):
        want = "(" + ", ".join("*" if s is None else str(s) for s in shape) + ")"
        raise ValueError(f"{name} must have shape {want}, got {tuple(value.shape)}")
    if value.is_floating_point() and not bool(torch.isfinite(value).all()):
        raise ValueError(f"{name} must contain only finite numbers")
    return value


def check_heads(omega, mu) -> tuple[np.ndarray, np.ndarray]:
    """Per-head reduced coordinates: two finite 1-d arrays of equal length H >= 1."""
    out = []
    for name, v in (("omega", omega), ("mu", mu)):
        try:
            arr = np.atleast_1d(np.asarray(v, dtype=np.float64))
        except (TypeError, ValueError):
            raise ValueError(f"{name} must be a 1-d array of finite numbers, got {v!r}") from None
        if arr.ndim != 1 or arr.size == 0 or not np.all(np.isfinite(arr)):
            raise ValueError(f"{name} must be a non-empty 1-d array of finite numbers, got {arr.tolist()}")
        out.append(arr)
    if out[0].size != out[1].size:
        raise ValueError(f"mu must have one entry per head (len(omega) = {out[0].size}), got {out[1].size}")
    return out[0], out[1]


def check_problem(d, L, sigma2) -> tuple[int, int, float]:
    return check_int("d", d, lo=1), check_int("L", L, lo=2), check_float("sigma2", sigma2, lo=0.0)


def _span(lo, hi, lo_open=False) -> str:
    if lo is not None and hi is not None:
        return f" in {'(' if lo_open else '['}{lo}, {hi}]"
    if lo is not None:
        return f" {'>' if lo_open else '>='} {lo}"
    return f" <= {hi}" if hi is not None else ""
