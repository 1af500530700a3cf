r"""Sparse linear regression in context (SPEC 7, the package's own precise version of [CZZ24]).

[CZZ24]'s full text is not available to us: every definition here (the preprocessing matrix :math:`D`, its
normalisation, the group-wise variant, the tuning protocol) is the package's own, stated once in
:mod:`numerics.sparse.estimators` (estimators) and :mod:`numerics.sparse.tuning` (tuning and evaluation).

Modules: ``estimators`` (batched OLS, ridge, GD, Lasso, preprocess-then-optimize on torch tensors),
``tuning`` (:func:`evaluate_methods`: tune every method the same way on separate prompts, report excess risk);
``constructions`` (linear-attention weights of SPEC 7.2, by the transformer engineer).
"""
from __future__ import annotations

from .estimators import even_groups, gd, lasso, lasso_coef, ols, pto, pto_features, pto_matrix, ridge  # noqa: F401
from .tuning import GRIDS, METHODS, MethodResult, evaluate_methods  # noqa: F401

__all__ = ["GRIDS", "METHODS", "MethodResult", "evaluate_methods", "even_groups", "gd", "lasso", "lasso_coef", "ols",
           "pto", "pto_features", "pto_matrix", "ridge"]
