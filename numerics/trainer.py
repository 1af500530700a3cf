"""Deprecated location: the trainer lives in :mod:`numerics.training` (this module only re-exports it)."""
from .training import (TrainConfig, Trainer, TrainingDiverged, TrainResult, cached_train, check_device,  # noqa: F401
                       cpu_threads, evaluate, evaluate_many, load_run, train)
