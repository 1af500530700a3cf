"""Readouts: what the trainer logs about the parameters at every log step, and what a member's summary holds.

A readout is any object with

* ``log(model) -> {name: array (E, ...)}`` — metrics appended to the trajectory at every log step;
* ``members(model) -> [dict per member]`` — JSON-ready entries merged into ``summary.json``'s ``members``.

:class:`PatternReadout` is the HPCY25 readout (SPEC 2.1): per-head :math:`\\omega_h, \\mu_h` and the pattern
metrics of :mod:`numerics.patterns`, for any :class:`~numerics.attention.EnsembleAttention`; for a single-output
model also the preconditioner ``gamma`` :math:`=\\sum_h\\mu_h\\Omega_h` (SPEC 3.6), logged and in the summary.
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
        if not hasattr(model, "kq"):  # no SPEC 2.1 circuits (e.g. the SPEC 7.3 transformer): nothing to log
            return {}
        kq, ov, d = circuits(model)
        p = patterns(kq, ov, d, dummy_tol=self.dummy_tol)
        out = {k: np.asarray(getattr(p, k)).copy() for k in PATTERN_KEYS}
        if ov.shape[-1] == 1:  # one output: the effective preconditioner (SPEC 3.6)
            out["gamma"] = preconditioner(kq, ov, d)
        return out

    def members(self, model) -> list[dict]:
        if not hasattr(model, "kq"):
            return [{} for _ in range(int(model.n_member))]
        kq, ov, d = circuits(model)
        p = patterns(kq, ov, d, dummy_tol=self.dummy_tol)
        gamma = preconditioner(kq, ov, d) if ov.shape[-1] == 1 else None
        return [{**p.member(e), "split": bool(p.split[e]),
                 **({"gamma": gamma[e].tolist()} if gamma is not None else {})} for e in range(p.n_member)]


def preconditioner(kq: np.ndarray, ov: np.ndarray, d: int) -> np.ndarray:
    r""":math:`\Gamma=\sum_h\mu_h\Omega_h` per member, ``(E, d, d)``, from circuits ``kq (E, H, D, D)`` and
    ``ov (E, H, D, 1)``:
    :math:`\Omega_h` is the x-block of :math:`\mathrm{KQ}^{(h)}` and :math:`\mu_h` the last entry of
    :math:`\mathrm{OV}^{(h)}`. To first order in :math:`\Omega` the model is debiased GD preconditioned by
    :math:`\Gamma` (SPEC 3.6; :mod:`theory.preconditioned`). Single-output models only."""
    kq, ov = np.asarray(kq, dtype=np.float64), np.asarray(ov, dtype=np.float64)
    if ov.ndim != 4 or ov.shape[-1] != 1:
        raise ValueError(f"the preconditioner is defined for single-output models, got ov of shape {ov.shape}")
    return np.einsum("eh,ehij->eij", ov[..., d, 0], kq[..., :d, :d])


def default_readouts() -> tuple[PatternReadout]:
    return (PatternReadout(),)


class PhaseReadout:
    """Multi-task head allocation (SPEC 3.7, :mod:`numerics.phases`): per member ``phase`` and the per-head,
    per-coordinate ``phase_omega`` (H x d, the KQ x-block diagonal) and per-head, per-task ``phase_mu`` (H x N,
    :math:`\\mathrm{OV}_{d+k,k}`) it was decided from. Nothing is logged per step."""

    def __init__(self, supports):
        self.supports = tuple(tuple(int(i) for i in s) for s in supports)

    def __repr__(self) -> str:
        return f"PhaseReadout(supports={self.supports})"

    def log(self, model) -> dict[str, np.ndarray]:
        return {}

    def members(self, model) -> list[dict]:
        from ..phases import classify, from_circuits

        om, mu = from_circuits(*circuits(model))
        return [{"phase": classify(om[e], mu[e], self.supports), "phase_omega": om[e].tolist(),
                 "phase_mu": mu[e].tolist()} for e in range(om.shape[0])]
