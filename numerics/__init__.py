"""Numerics: data samplers, estimators, Monte Carlo, ODE integration, torch models and training (no sympy)."""
from .data import (AnisotropicSampler, Batch, IsotropicSampler, MultiTaskSampler, Prompts, PromptStream, Sampler,
                   SparseSampler, ar1_covariance, make_generator, sample_linear, sampler_for, stream_for,
                   torch_generator)
from .estimators import (dgd_predict, gd_predict, gd_steps_predict, ols_predict, reduced_attention_predict,
                         ridge_predict)
from .montecarlo import mc_losses, mc_risk, reduced_attention_risk, variance_reduced_risk
from .attention import MODEL_KINDS, EnsembleAttention, init_member, tokens
from .patterns import Patterns, active_mean, circuits, model_patterns, omega_spread, patterns, spec_table_metrics
from .training import (PatternReadout, TrainConfig, TrainResult, Trainer, TrainingDiverged, cached_train, evaluate,
                       evaluate_many, load_run, train)

__all__ = [
    "AnisotropicSampler", "Batch", "IsotropicSampler", "MultiTaskSampler", "Prompts", "PromptStream", "Sampler",
    "SparseSampler", "ar1_covariance", "make_generator", "sample_linear", "sampler_for", "stream_for",
    "torch_generator",
    "dgd_predict", "gd_predict", "gd_steps_predict", "ols_predict", "reduced_attention_predict", "ridge_predict",
    "mc_losses", "mc_risk", "reduced_attention_risk", "variance_reduced_risk",
    "MODEL_KINDS", "EnsembleAttention", "init_member", "tokens",
    "Patterns", "active_mean", "circuits", "model_patterns", "omega_spread", "patterns", "spec_table_metrics",
    "PatternReadout", "TrainConfig", "TrainResult", "Trainer", "TrainingDiverged", "cached_train", "evaluate",
    "evaluate_many", "load_run", "train",
]
