"""One training engine for every model and data model (SPEC 1, 2, 7.1).

* :mod:`.config` — :class:`TrainConfig` (data model, model, optimiser, seeds, stream key) and the default
  model / stream / optimiser it describes;
* :mod:`.loop` — :class:`Trainer` (any ensemble model, any resumable prompt stream, any optimiser, readouts;
  hand-written gradients where the model has them, autograd otherwise; CUDA graphs; checkpoints);
* :mod:`.readouts` — what is logged about the parameters (:class:`PatternReadout`: SPEC 2.1's omega, mu, patterns);
* :mod:`.evaluate` — Monte Carlo risk of trained ensembles on any data model, any number of outputs;
* :mod:`.result` — :class:`TrainResult` and ``summary.json``;
* :mod:`.cache` — :func:`train`, :func:`load_run`, :func:`cached_train` (the run cache keyed by the config hash).
"""
from .cache import cached_train, load_run, train
from .config import (DTYPES, OPTIMIZERS, RUNTIME_FIELDS, TrainConfig, build_model, build_stream, check_device,
                     make_optimizer)
from .evaluate import evaluate, evaluate_many
from .loop import Trainer, TrainingDiverged, cpu_threads, log_steps
from .readouts import PatternReadout, Readout, default_readouts
from .result import TrainResult, summary_dict

__all__ = [
    "cached_train", "load_run", "train",
    "DTYPES", "OPTIMIZERS", "RUNTIME_FIELDS", "TrainConfig", "build_model", "build_stream", "check_device",
    "make_optimizer",
    "evaluate", "evaluate_many",
    "Trainer", "TrainingDiverged", "cpu_threads", "log_steps",
    "PatternReadout", "Readout", "default_readouts",
    "TrainResult", "summary_dict",
]
