"""Symbolic theory of in-context learning in attention models (sympy + numpy; never torch).

The public numeric API (SPEC 3.1-3.5); each function has a ``*_expr`` sympy counterpart in its module, and each
derivation module exposes its statements once as ``identities()`` (name -> expression that simplifies to 0).

Modules: ``symbols`` (every symbol), ``mean_field`` (L~, SPEC 3.1), ``flow`` (3.2), ``expansion`` (3.3),
``wick`` + ``risks`` (exact GD / DGD risks, 3.4), ``bayes`` (Marchenko–Pastur Bayes risk, 3.4),
``delta_method`` + ``refined`` (the refined loss, 3.5), ``preconditioned`` (anisotropic covariates, 3.6),
``multitask`` (N-task mean-field loss and flow, 3.7),
``validate`` and ``problem`` (numpy only).
Imports are lazy (PEP 562), so that ``theory.validate`` and ``theory.problem`` — numpy only — can be used by
``numerics`` without loading sympy.
"""
from __future__ import annotations

import importlib

_EXPORTS = {
    "approx_loss": "mean_field", "mean_field_loss": "mean_field", "eta_star": "mean_field",
    "optimal_mu": "mean_field", "profile_loss": "mean_field", "single_head_optimum": "mean_field",
    "small_omega_infimum": "mean_field",
    "common_mode_rates": "flow", "flow_jacobian": "flow", "flow_rhs": "flow",
    "head_output_coefficient": "expansion",
    "linearized_loss": "refined", "refined_loss": "refined_eval", "refined_loss_grad": "refined_eval",
    "dgd_effective_length": "risks", "dgd_effective_length_slope": "risks", "dgd_optimal_step": "risks",
    "dgd_risk": "risks", "dgd_step_tolerance": "risks", "gd_optimal_step": "risks", "gd_risk": "risks",
    "bayes_risk_proportional": "bayes", "excess_ratio_proportional": "bayes", "mp_stieltjes": "bayes",
    "Problem": "problem", "PAPER_POINT": "problem",
    "ols_excess_risk": "sparse", "predicted_n_slope": "sparse", "predicted_d_exponent": "sparse",
    "multitask_loss": "multitask",
    "preconditioned_gd_optimum": "preconditioned", "preconditioned_gd_risk": "preconditioned",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'theory' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
