"""Symbolic theory of in-context learning in attention models (sympy + numpy; never torch).

The public numeric API (SPEC 3.1-3.5); each function has a ``*_expr`` sympy counterpart in its module.
"""
from .mean_field import approx_loss, eta_star, optimal_mu, profile_loss, single_head_optimum, small_omega_infimum
from .flow import flow_jacobian, flow_rhs
from .refined import refined_loss, refined_loss_grad
from .risks import (bayes_risk_proportional, dgd_optimal_step, dgd_risk, excess_ratio_proportional, gd_optimal_step,
                    gd_risk)

__all__ = [
    "approx_loss", "bayes_risk_proportional", "dgd_optimal_step", "dgd_risk", "eta_star", "excess_ratio_proportional",
    "flow_jacobian", "flow_rhs", "gd_optimal_step", "gd_risk", "optimal_mu", "profile_loss", "refined_loss",
    "refined_loss_grad", "single_head_optimum", "small_omega_infimum",
]
