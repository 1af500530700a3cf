"""Argument checks shared by the numeric wrappers of ``theory`` (numpy only).

Every check raises a one-line ``ValueError`` naming the argument and the allowed range.
"""
from __future__ import annotations

import math
from numbers import Integral, Real

import numpy as np


def check_int(name: str, value, *, lo: int | None = None, hi: int | None = None) -> int:
    """Return ``value`` as ``int`` if it is an integer in ``[lo, hi]``."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise ValueError(f"{name} must be an integer{_range(lo, hi)}, got {value!r}")
    value = int(value)
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise ValueError(f"{name} must be an integer{_range(lo, hi)}, got {value}")
    return value


def check_float(name: str, value, *, lo: float | None = None, hi: float | None = None,
                lo_open: bool = False) -> float:
    """Return ``value`` as a finite ``float`` in ``[lo, hi]`` (``(lo, hi]`` if ``lo_open``)."""
    if isinstance(value, bool) or not isinstance(value, (Real, np.floating, np.integer)):
        raise ValueError(f"{name} must be a finite number{_range(lo, hi, lo_open)}, got {value!r}")
    value = float(value)
    bad = not math.isfinite(value)
    bad |= lo is not None and (value <= lo if lo_open else value < lo)
    bad |= hi is not None and value > hi
    if bad:
        raise ValueError(f"{name} must be a finite number{_range(lo, hi, lo_open)}, got {value}")
    return value


def check_vector(name: str, value, *, length: int | None = None) -> np.ndarray:
    """Return a finite 1-d float64 array (a scalar is promoted to length 1)."""
    try:
        arr = np.atleast_1d(np.asarray(value, dtype=np.float64))
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a 1-d array of finite numbers, got {value!r}") from None
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-d array, got shape {arr.shape}")
    if length is not None and arr.size != length:
        raise ValueError(f"{name} must have length {length} (one entry per head), got {arr.size}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must contain only finite numbers, got {arr.tolist()}")
    return arr


def check_heads(omega, mu) -> tuple[np.ndarray, np.ndarray]:
    """Validate a pair of per-head vectors ``(omega, mu)`` of equal length ``H >= 1``."""
    omega = check_vector("omega", omega)
    mu = check_vector("mu", mu, length=omega.size)
    return omega, mu


def check_problem(d, L, sigma2) -> tuple[int, int, float]:
    """Validate the data-model parameters shared by every closed form: ``d >= 1``, ``L >= 2``, ``sigma2 >= 0``."""
    return (check_int("d", d, lo=1), check_int("L", L, lo=2),
            check_float("sigma2", sigma2, lo=0.0))


def _range(lo, hi, lo_open=False) -> str:
    if lo is not None and hi is not None:
        return f" in {'(' if lo_open else '['}{lo}, {hi}]"
    if lo is not None:
        return f" {'>' if lo_open else '>='} {lo}"
    if hi is not None:
        return f" <= {hi}"
    return ""
