"""Readouts: what the trainer logs about the parameters at every log step, and what a member's summary holds.

A readout is any object with

* ``log(model) -> {name: array (E, ...)}`` — metrics appended to the trajectory at every log step;
* ``members(model) -> [dict per member]`` — JSON-ready entries merged into ``summary.json``'s ``members``.

:class:`PatternReadout` is the HPCY25 readout (SPEC 2.1): per-head :math:`\\omega_h, \\mu_h` and the pattern
metrics of :mod:`numerics.patterns`, for any :class:`~numerics.attention.EnsembleAttention`.
"""
from __future__ import annotations

from typing import Protocol

import numpy as np

from ..patterns import DUMMY_TOL, circuits, patterns

#: Trajectory entries written by :class:`PatternReadout`.
PATTERN_KEYS = ("omega", "mu", "diag_ratio", "homogeneity", "ov_last_ratio", "eta_eff", "zero_sum", "dummy")


class Readout(Protocol):
    def log(self, model) -> dict[str, np.ndarray]: ...

    def members(self, model) -> list[dict]: ...


class PatternReadout:
    """Circuits and pattern metrics of an attention ensemble (SPEC 2.1; :func:`numerics.patterns.patterns`)."""

    def __init__(self, dummy_tol: float = DUMMY_TOL):
        self.dummy_tol = dummy_tol

    def __repr__(self) -> str:
        return f"PatternReadout(dummy_tol={self.dummy_tol})"

    def patterns(self, model):
        return patterns(*circuits(model), dummy_tol=self.dummy_tol)

    def log(self, model) -> dict[str, np.ndarray]:
        p = self.patterns(model)
        return {k: np.asarray(getattr(p, k)).copy() for k in PATTERN_KEYS}

    def members(self, model) -> list[dict]:
        p = self.patterns(model)
        return [{**p.member(e), "split": bool(p.split[e])} for e in range(p.n_member)]


def default_readouts() -> tuple[PatternReadout]:
    return (PatternReadout(),)
