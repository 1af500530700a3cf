"""Numerics: data samplers, estimators, Monte Carlo, ODE integration and torch models (no sympy)."""
from .data import Prompts, ar1_covariance, make_generator, sample_linear
from .estimators import (dgd_predict, gd_predict, gd_steps_predict, ols_predict, reduced_attention_predict,
                         ridge_predict)
from .montecarlo import mc_risk, reduced_attention_risk, variance_reduced_risk
from .attention import MODEL_KINDS, EnsembleAttention, init_member, tokens
from .patterns import Patterns, active_mean, circuits, model_patterns, omega_spread, patterns, spec_table_metrics
from .trainer import (PromptStream, TrainConfig, TrainResult, Trainer, TrainingDiverged, cached_train, evaluate,
                      evaluate_many, load_run, train)

__all__ = [
    "Prompts", "ar1_covariance", "make_generator", "sample_linear",
    "dgd_predict", "gd_predict", "gd_steps_predict", "ols_predict", "reduced_attention_predict", "ridge_predict",
    "mc_risk", "reduced_attention_risk", "variance_reduced_risk",
    "MODEL_KINDS", "EnsembleAttention", "init_member", "tokens",
    "Patterns", "active_mean", "circuits", "model_patterns", "omega_spread", "patterns", "spec_table_metrics",
    "PromptStream", "TrainConfig", "TrainResult", "Trainer", "TrainingDiverged", "cached_train", "evaluate",
    "evaluate_many", "load_run", "train",
]
