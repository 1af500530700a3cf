"""The setting of a claim or a training run, as one validated value (numpy only; shared by every layer).

A :class:`Problem` is the data model of SPEC 1 / 7.1: dimension ``d``, context length ``L``, noise variance
``sigma2``, and where present the covariance ``cov`` (SPEC 1.2), the task supports (SPEC 1.3) or the sparsity
``s`` (SPEC 7.1). At most one of ``cov``, ``supports``, ``s`` is set; none means the isotropic model 1.1.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

import numpy as np

from .validate import MAX_D, MAX_L, MAX_SIGMA2, check_float, check_int, check_spd, check_supports

Kind = Literal["isotropic", "anisotropic", "multitask", "sparse"]

#: Upper bounds that keep every closed form and sampler inside memory and float64 range (defined once, in
#: :mod:`theory.validate`; re-exported here).
__all__ = ["MAX_D", "MAX_L", "MAX_SIGMA2", "PAPER_POINT", "Problem"]


@dataclass(frozen=True)
class Problem:
    """``Problem(d=5, L=40, sigma2=0.1)`` — SPEC 1.1; add ``cov=``, ``supports=`` or ``s=`` for 1.2, 1.3, 7.1.

    ``cov`` is stored as a tuple of row tuples (hashable, JSON-friendly); ``supports`` as sorted tuples of
    0-based coordinates. Every field is validated on construction (one-line ``ValueError``).
    """

    d: int
    L: int
    sigma2: float
    cov: tuple[tuple[float, ...], ...] | None = None
    supports: tuple[tuple[int, ...], ...] | None = None
    s: int | None = None

    def __post_init__(self):
        d = check_int("d", self.d, lo=1, hi=MAX_D)
        object.__setattr__(self, "d", d)
        # L >= 2 keeps the closed forms of SPEC 3 defined; the sparse model (7.1) has none and allows one example.
        object.__setattr__(self, "L", check_int("L", self.L, lo=1 if self.s is not None else 2, hi=MAX_L))
        object.__setattr__(self, "sigma2", check_float("sigma2", self.sigma2, lo=0.0, hi=MAX_SIGMA2))
        if sum(x is not None for x in (self.cov, self.supports, self.s)) > 1:
            raise ValueError("Problem takes at most one of cov (SPEC 1.2), supports (1.3) and s (7.1)")
        if self.cov is not None:
            arr = check_spd("cov", self.cov, d=d)
            object.__setattr__(self, "cov", tuple(tuple(float(v) for v in row) for row in arr))
        if self.supports is not None:
            object.__setattr__(self, "supports", check_supports("supports", self.supports, d=d))
        if self.s is not None:
            object.__setattr__(self, "s", check_int("s", self.s, lo=1, hi=d))

    @property
    def kind(self) -> Kind:
        if self.cov is not None:
            return "anisotropic"
        if self.supports is not None:
            return "multitask"
        if self.s is not None:
            return "sparse"
        return "isotropic"

    @property
    def n_tasks(self) -> int:
        """Number of outputs N (1 unless multi-task)."""
        return len(self.supports) if self.supports is not None else 1

    @property
    def cov_matrix(self) -> np.ndarray:
        """Σ as a ``(d, d)`` array (the identity for the isotropic, multi-task and sparse models)."""
        return np.array(self.cov, dtype=np.float64) if self.cov is not None else np.eye(self.d)

    def replace(self, **changes) -> "Problem":
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict; :meth:`from_dict` inverts it."""
        out = asdict(self)
        for key in ("cov", "supports"):
            if out[key] is not None:
                out[key] = [list(r) for r in out[key]]
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Problem":
        unknown = set(data) - {"d", "L", "sigma2", "cov", "supports", "s"}
        if unknown:
            raise ValueError(f"unknown Problem field(s): {', '.join(sorted(unknown))}")
        return cls(**{k: (tuple(tuple(r) for r in v) if k in ("cov", "supports") and v is not None else v)
                      for k, v in data.items()})


#: The paper's setting, SPEC 1.1: d = 5, L = 40 (= 8d), sigma^2 = 0.1.
PAPER_POINT = Problem(d=5, L=40, sigma2=0.1)
