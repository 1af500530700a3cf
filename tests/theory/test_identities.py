"""Every theory module's ``identities()`` (SPEC 3.1-3.5): each statement simplifies to exactly 0 (sympy), and
the check has power: the same statement built from a mutated derivation (an off-by-one in L or d, a dropped
term, the neighbouring formula) does not."""
from __future__ import annotations

import importlib

import pytest
import sympy as sp

from theory import symbols as S

MODULES = ("wick", "risks", "bayes", "mean_field", "flow", "expansion", "delta_method", "refined")


def _identities(name: str) -> dict[str, sp.Expr]:
    return importlib.import_module(f"theory.{name}").identities()


def _is_zero(expr: sp.Expr) -> bool:
    expr = sp.expand(expr) if not isinstance(expr, sp.MatrixBase) else expr
    return expr == 0 or sp.simplify(expr) == 0


@pytest.mark.parametrize("module", MODULES)
def test_every_identity_simplifies_to_zero(module):
    ids = _identities(module)
    assert ids, f"theory.{module}.identities() is empty"
    bad = [k for k, e in ids.items() if not _is_zero(e)]
    assert not bad, f"theory.{module}: {bad}"


# ---------------------------------------------------------------- power: mutants must not simplify to 0
def _mutants():
    """(label, expression) pairs: the right-hand side of a real identity with a plausible mistake."""
    from theory import bayes, flow, mean_field, refined, risks

    k = S.d + 1 + S.d * S.sigma2
    xi_inf = S.sigma2 + S.xi * (1 + S.sigma2) / (1 + S.xi * (1 + S.sigma2))
    yield "GD risk with L -> L + 1", risks.gd_risk_expr() - risks.gd_risk_expr().subs(S.L, S.L + 1)
    yield "DGD risk = GD risk (no debiasing)", risks.dgd_risk_expr() - risks.gd_risk_expr()
    yield "GD optimal risk without the +1", risks.gd_optimal_risk_expr() - (S.sigma2 + (k - 1) / (S.L + k - 1))
    yield "DGD curvature with d -> d + 1", risks.dgd_risk_curvature_expr() - \
        risks.dgd_risk_curvature_expr().subs(S.d, S.d + 1)
    yield "Bayes = proportional GD optimum", bayes.bayes_risk_proportional_expr() - xi_inf
    yield "ratio limit xi -> 0 is 1/sigma2", sp.limit(bayes.excess_ratio_proportional_expr(), S.xi, 0) - 1 / S.sigma2
    yield "L~ without the c E term", mean_field.approx_loss_expr(2) - (
        mean_field.approx_loss_matrix_expr(2).subs(S.c, 0))
    yield "eta* = 1/(1+c)", mean_field.small_omega_optimum_expr()["u"] - 1 / (1 + S.c)
    yield "single head without the factor e", mean_field.single_head_optimum_expr()["loss"].subs(
        S.c, (1 + S.sigma2) / S.L) - xi_inf.subs(S.xi, S.d / S.L)
    yield "flow without the 1/2", (flow.flow_expr(1) - 2 * flow.flow_closed_form_expr(1))[0]
    yield "refined order 1 = order 2", refined.refined_loss_expr(1, 1) - refined.refined_loss_expr(1, 2)
    yield "linearised = DGD risk alone", refined.linearized_loss_expr() - risks.dgd_risk_expr()


@pytest.mark.parametrize("label, expr", list(_mutants()), ids=lambda v: v if isinstance(v, str) else "")
def test_mutated_identity_is_not_zero(label, expr):
    assert not _is_zero(expr), label
