"""The one set of argument checks of the package (numpy only, so ``theory``, ``numerics`` and ``verify`` all use it).

Every check raises a one-line ``ValueError`` naming the argument and the allowed range. Tensors are checked by
duck typing (``.dim()``, ``.shape``, ``.isfinite()``), so this module never imports torch.
"""
from __future__ import annotations

import math
from numbers import Integral, Real

import numpy as np

#: Upper bounds shared by every closed form, sampler and :class:`theory.problem.Problem` (SPEC 1.1 parameters):
#: inside them every closed form stays inside float64 range and memory.
MAX_D = 100_000
MAX_L = 10**7
MAX_SIGMA2 = 1e12


def check_int(name: str, value, *, lo: int | None = None, hi: int | None = None) -> int:
    """Return ``value`` as ``int`` if it is an integer (not a bool) in ``[lo, hi]``."""
    if isinstance(value, bool) or not isinstance(value, (Integral, np.integer)):
        raise ValueError(f"{name} must be an integer{_span(lo, hi)}, got {_short(value)}")
    value = int(value)
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise ValueError(f"{name} must be an integer{_span(lo, hi)}, got {_short(value)}")
    return value


def check_float(name: str, value, *, lo: float | None = None, hi: float | None = None,
                lo_open: bool = False) -> float:
    """Return ``value`` as a finite ``float`` in ``[lo, hi]`` (``(lo, hi]`` if ``lo_open``)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (Real, np.floating, np.integer)):
        raise ValueError(f"{name} must be a finite number{_span(lo, hi, lo_open)}, got {_short(value)}")
    try:
        value = float(value)
    except OverflowError:
        raise ValueError(f"{name} must be a finite number{_span(lo, hi, lo_open)}, got {_short(value)}") from None
    if (not math.isfinite(value) or (lo is not None and (value <= lo if lo_open else value < lo))
            or (hi is not None and value > hi)):
        raise ValueError(f"{name} must be a finite number{_span(lo, hi, lo_open)}, got {value}")
    return value


def _real_raw(value):
    """``np.asarray(value)`` if it holds real numbers (ints or floats), else ``None`` (text, bool, complex, objects,
    ragged lists)."""
    if isinstance(value, (str, bytes)):
        return None
    try:
        raw = np.asarray(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return raw if raw.dtype.kind in "iuf" else None


def check_vector(name: str, value, *, length: int | None = None) -> np.ndarray:
    """Return a finite, non-empty 1-d float64 array (a scalar is promoted to length 1).

    Complex, boolean and text entries are refused (they would be silently cast or compared).
    """
    raw = _real_raw(value)
    if raw is None:
        raise ValueError(f"{name} must be a 1-d array of finite real numbers, got {_short(value)}")
    arr = np.atleast_1d(raw.astype(np.float64))
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-d array, got shape {arr.shape}")
    if length is not None and arr.size != length:
        raise ValueError(f"{name} must have length {length} (one entry per head), got {arr.size}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must contain only finite numbers, got {arr.tolist()}")
    return arr


def check_array(name: str, value, *, lo: float, hi: float) -> np.ndarray:
    """Return a non-empty float64 array (any shape, a scalar allowed) of real numbers in ``[lo, hi]``.

    Complex, boolean and text entries are refused, as in :func:`check_vector`.
    """
    raw = _real_raw(value)
    if raw is None or raw.size == 0:
        raise ValueError(f"{name} must be a real number or array of real numbers in [{lo:g}, {hi:g}], "
                         f"got {_short(value)}")
    arr = raw.astype(np.float64)
    bad = ~np.isfinite(arr) | (arr < lo) | (arr > hi)
    if np.any(bad):
        raise ValueError(f"{name} must be finite numbers in [{lo:g}, {hi:g}], got {arr[bad].ravel()[:4].tolist()}")
    return arr


def check_heads(omega, mu) -> tuple[np.ndarray, np.ndarray]:
    """Validate a pair of per-head vectors ``(omega, mu)`` of equal length ``H >= 1``."""
    omega = check_vector("omega", omega)
    mu = check_vector("mu", mu, length=omega.size)
    return omega, mu


def check_problem(d, L, sigma2) -> tuple[int, int, float]:
    """The data-model parameters shared by every closed form: ``1 <= d <= MAX_D``, ``2 <= L <= MAX_L``,
    ``0 <= sigma2 <= MAX_SIGMA2`` (the bounds of :class:`theory.problem.Problem`)."""
    return (check_int("d", d, lo=1, hi=MAX_D), check_int("L", L, lo=2, hi=MAX_L),
            check_float("sigma2", sigma2, lo=0.0, hi=MAX_SIGMA2))


def check_finite_result(what: str, value, hint: str):
    """Return ``value`` (a number or array) if every entry is finite, else raise a ``ValueError`` saying that
    ``what`` is outside float64 range and which arguments to bound (``hint``): the last line of defence of a
    public closed form, so that it never returns NaN or inf."""
    arr = np.asarray(value, dtype=np.float64)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{what}: outside float64 range (overflow); {hint}")
    return value


def check_tensor(name: str, value, shape: tuple):
    """A torch tensor of the given ``shape`` (``None`` = any size on that axis) with finite floating entries."""
    if not (hasattr(value, "dim") and hasattr(value, "shape") and hasattr(value, "is_floating_point")):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
    if value.dim() != len(shape) or any(s is not None and s != v for s, v in zip(shape, value.shape)):
        want = "(" + ", ".join("*" if s is None else str(s) for s in shape) + ")"
        raise ValueError(f"{name} must have shape {want}, got {tuple(value.shape)}")
    if value.is_floating_point() and not bool(value.isfinite().all()):
        raise ValueError(f"{name} must contain only finite numbers")
    return value


def check_matrix(name: str, value, *, shape: tuple[int | None, int | None] = (None, None)) -> np.ndarray:
    """A 2-d float64 array of finite real numbers with the given ``shape`` (``None``: any size on that axis).

    Complex, boolean and text entries are refused, as in :func:`check_vector`; so is an empty matrix."""
    raw = _real_raw(value)
    if raw is None:
        raise ValueError(f"{name} must be a 2-d array of finite real numbers, got {_short(value)}")
    arr = raw.astype(np.float64)
    if arr.ndim != 2 or 0 in arr.shape or any(s is not None and s != v for s, v in zip(shape, arr.shape)):
        want = "(" + ", ".join("*" if s is None else str(s) for s in shape) + ")"
        raise ValueError(f"{name} must have shape {want}, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must contain only finite numbers")
    return arr


def check_spd(name: str, value, *, d: int | None = None) -> np.ndarray:
    """A symmetric positive-definite ``(d, d)`` float64 matrix with finite entries (symmetry to 1e-10 relative).

    Real entries only (text, booleans and complex numbers are refused, not cast)."""
    raw = _real_raw(value)
    if raw is None:
        raise ValueError(f"{name} must be a real (d, d) symmetric positive-definite matrix, got {_short(value)}")
    arr = raw.astype(np.float64)
    if arr.ndim != 2 or arr.shape[0] != arr.shape[1] or arr.shape[0] == 0 or (d is not None and arr.shape[0] != d):
        want = f"({d}, {d})" if d is not None else "(d, d)"
        raise ValueError(f"{name} must have shape {want}, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must contain only finite numbers")
    scale = max(float(np.max(np.abs(arr))), 1e-300)
    if np.max(np.abs(arr - arr.T)) > 1e-10 * scale:
        raise ValueError(f"{name} must be symmetric (max |A - A^T| = {np.max(np.abs(arr - arr.T)):.3g})")
    arr = (arr + arr.T) / 2
    if float(np.min(np.linalg.eigvalsh(arr))) <= 1e-12 * scale:
        raise ValueError(f"{name} must be positive definite (smallest eigenvalue "
                         f"{float(np.min(np.linalg.eigvalsh(arr))):.3g})")
    return arr


def check_supports(name: str, value, *, d: int) -> tuple[tuple[int, ...], ...]:
    """Task supports (SPEC 1.3): ``N >= 1`` non-empty sets of distinct 0-based coordinates in ``[0, d-1]``."""
    try:
        sets = tuple(tuple(check_int(f"{name} entry", j, lo=0, hi=d - 1) for j in s) for s in value)
    except TypeError:
        raise ValueError(f"{name} must be a sequence of coordinate sets, got {value!r}") from None
    if not sets:
        raise ValueError(f"{name} must hold at least one task (N >= 1), got none")
    for k, s in enumerate(sets):
        if not s:
            raise ValueError(f"{name}: task {k + 1} has an empty support")
        if len(set(s)) != len(s):
            raise ValueError(f"{name}: task {k + 1} repeats a coordinate: {list(s)}")
    return tuple(tuple(sorted(s)) for s in sets)


def _short(value, limit: int = 80) -> str:
    """``repr(value)`` cut to ``limit`` characters (a 400-digit integer makes a useless message)."""
    text = repr(value) if not isinstance(value, int) or abs(value) < 10**60 else f"an integer of {len(str(abs(value)))} digits"
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _span(lo, hi, lo_open=False) -> str:
    if lo is not None and hi is not None:
        return f" in {'(' if lo_open else '['}{lo}, {hi}]"
    if lo is not None:
        return f" {'>' if lo_open else '>='} {lo}"
    return f" <= {hi}" if hi is not None else ""
