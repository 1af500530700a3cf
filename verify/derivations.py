"""Named derivations printable from the CLI (``icl-verify derive NAME``) or a notebook.

Each entry maps a name to ``(description, builder)``; ``builder(n_head)`` returns a sympy object or a
dict of them. Imports are lazy so that listing names costs nothing.
"""
from __future__ import annotations

import importlib
from typing import Any, Callable

import sympy as sp


def _call(module: str, name: str, with_heads: bool, *args, pick: tuple[str, ...] | None = None
          ) -> Callable[[int], Any]:
    """A lazy builder: ``module.name(n_head, *args)`` (or ``module.name(*args)``); ``pick`` names a tuple result."""
    def build(n_head: int):
        fn = getattr(importlib.import_module(module), name)
        out = fn(n_head, *args) if with_heads else fn(*args)
        return dict(zip(pick, out)) if pick else out
    return build


DERIVATIONS: dict[str, tuple[str, Callable[[int], Any]]] = {
    "loss": ("the paper's mean-field loss L~(omega, mu) for H heads (SPEC 3.1)",
             _call("theory.mean_field", "approx_loss_expr", True)),
    "loss-matrix": ("the same loss in matrix form with c = (1+sigma2)/L",
                    _call("theory.mean_field", "approx_loss_matrix_expr", True)),
    "kernels": ("the Gaussian-integral kernel A(omega, omega') behind L~ (b(omega) = omega: `derive kernel-b`)",
                _call("theory.mean_field", "pair_term_expr", False)),
    "kernel-b": ("the Gaussian-integral kernel b(omega) = E[y_q yhat_h] behind L~",
                 _call("theory.mean_field", "cross_term_expr", False)),
    "optimal-mu": ("mu*(omega) solving grad_mu L~ = 0 (keep H small)",
                   _call("theory.mean_field", "optimal_mu_expr", True)),
    "small-omega": ("second-order small-omega form of L~", _call("theory.mean_field", "small_omega_loss_expr", True)),
    "small-omega-optimum": ("zero-sum and eta* = 1/(1+cd) from the small-omega form",
                            _call("theory.mean_field", "small_omega_optimum_expr", False)),
    "pair": ("symmetric pair (w,-w),(m,-m): the sinh form, m*, eta",
             _call("theory.mean_field", "pair_loss_expr", False)),
    "pair-monotonicity": ("why the pair profile decreases as w -> 0",
                          _call("theory.mean_field", "pair_monotonicity_expr", False)),
    "single-head": ("single-head optimum: omega^2 = 1/d and the factor e",
                    _call("theory.mean_field", "single_head_optimum_expr", False)),
    "refined": ("the refined loss's kernels b(omega), G(omega, omega') to O(1/L) (SPEC 3.5; the report uses O(1/L^2))",
                _call("theory.refined", "refined_kernels_expr", False, 1, pick=("b", "G"))),
    "refined-loss": ("the refined loss for H heads to O(1/L^2) (large; SPEC 3.5)",
                     _call("theory.refined", "refined_loss_expr", True)),
    "flow": ("gradient flow -grad(L~/2) for H heads (SPEC 3.2)", _call("theory.flow", "flow_expr", True)),
    "linearisation": ("Jacobian of the flow at 0 and its spectrum", _call("theory.flow", "linearisation_expr", True)),
    "expansion": ("multi-head output as a series in omega: sum(mu) ybar + debiased GD + O(omega^2) (SPEC 3.3)",
                  _call("theory.expansion", "multihead_series", True, 2)),
    "head-coefficients": ("series coefficients of one softmax head in omega, any L (empirical moments)",
                          _call("theory.expansion", "head_output_coefficients", False, 3)),
    "pair-series": ("a symmetric +- pair has only odd orders in omega",
                    _call("theory.expansion", "pair_output_series_general", False, 5)),
    "gd-risk": ("exact finite-L risk of one-step GD, any step eta (SPEC 3.4)", _call("theory.risks", "gd_risk_expr", False)),
    "dgd-risk": ("exact finite-L risk of debiased GD, any step eta (SPEC 3.4)",
                 _call("theory.risks", "dgd_risk_expr", False)),
    "bayes": ("Bayes (ridge) risk in the proportional limit from the Marchenko-Pastur law",
              _call("theory.risks", "bayes_risk_proportional_expr", False)),
    "excess-ratio": ("excess risk of optimal GD over Bayes in the proportional limit (H7)",
                     _call("theory.risks", "excess_ratio_proportional_expr", False)),
}


#: ``--heads`` caps of the derivations whose cost explodes with H (default cap 8). ``optimal-mu`` solves the
#: H x H linear system symbolically: 0.4 s at H = 2, ~9 s at H = 3, minutes beyond (every other entry stays
#: under ~3 s at H = 8).
MAX_HEADS = {"optimal-mu": 3}
DEFAULT_MAX_HEADS = 8


def names() -> list[str]:
    return sorted(DERIVATIONS)


def derive(name: str, n_head: int = 2):
    """The sympy object(s) of derivation ``name`` for ``n_head`` heads."""
    if name not in DERIVATIONS:
        raise ValueError(f"unknown derivation {name!r}; known: {', '.join(names())}")
    cap = MAX_HEADS.get(name, DEFAULT_MAX_HEADS)
    if isinstance(n_head, bool) or not isinstance(n_head, int) or not 1 <= n_head <= cap:
        raise ValueError(f"--heads must be an integer in [1, {cap}] for {name!r}, got {n_head!r}")
    return DERIVATIONS[name][1](n_head)


def render(obj, latex: bool = False, unicode: bool = True) -> str:
    """Pretty text (or LaTeX) of a sympy object or a dict of them; ``unicode=False`` draws with ASCII only."""
    if isinstance(obj, dict):
        return "\n\n".join(f"{k}:\n{render(v, latex, unicode)}" for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        return "\n".join(render(v, latex, unicode) for v in obj)
    return sp.latex(obj) if latex else sp.pretty(obj, use_unicode=unicode, wrap_line=False)
