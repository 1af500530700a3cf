"""One training engine for every model and data model (SPEC 1, 2, 7.1).

* :mod:`.config` — :class:`TrainConfig` (data model, model, optimiser, seeds, stream key) and the default
  model / stream / optimiser it describes;
* :mod:`.loop` — :class:`Trainer` (any ensemble model, any resumable prompt stream, any optimiser, readouts;
  hand-written gradients where the model has them, autograd otherwise; CUDA graphs; checkpoints);
* :mod:`.readouts` — what is logged about the parameters (:class:`PatternReadout`: SPEC 2.1's omega, mu, patterns);
* :mod:`.evaluate` — Monte Carlo risk of trained ensembles on any data model, any number of outputs;
* :mod:`.result` — :class:`TrainResult` and ``summary.json``;
* :mod:`.cache` — :func:`train`, :func:`load_run`, :func:`finish_run`, :func:`cached_train` (the run cache keyed
  by the config hash; damaged checkpoints fall back or restart);
* :mod:`.memory` — :func:`check_memory`: the memory a run needs, estimated before anything is allocated.
"""
from .cache import cached_train, finish_run, load_run, train
from .config import (DTYPES, MAX_BATCH, MAX_ENSEMBLE, MAX_EVAL_PROMPTS, MAX_HEADS, MAX_STEPS, MAX_THREADS, OPTIMIZERS,
                     RUNTIME_FIELDS, TrainConfig, build_model, build_stream, check_device, make_optimizer)
from .evaluate import evaluate, evaluate_many
from .loop import Trainer, TrainingDiverged, cpu_threads, log_steps
from .memory import MemoryEstimate, available_memory, check_memory
from .readouts import PatternReadout, Readout, default_readouts
from .result import TrainResult, summary_dict

__all__ = [
    "cached_train", "finish_run", "load_run", "train",
    "DTYPES", "MAX_BATCH", "MAX_ENSEMBLE", "MAX_EVAL_PROMPTS", "MAX_HEADS", "MAX_STEPS", "MAX_THREADS", "OPTIMIZERS",
    "RUNTIME_FIELDS", "TrainConfig", "build_model", "build_stream", "check_device", "make_optimizer",
    "MemoryEstimate", "available_memory", "check_memory",
    "evaluate", "evaluate_many",
    "Trainer", "TrainingDiverged", "cpu_threads", "log_steps",
    "PatternReadout", "Readout", "default_readouts",
    "TrainResult", "summary_dict",
]
