"""The training configuration, its seeds, and the default model, stream and optimiser it describes."""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import Any

import torch

from theory.problem import Problem
from theory.validate import check_float, check_int
from .. import checkpoint as ck
from ..attention import MODEL_KINDS, EnsembleAttention
from ..transformer import MAX_LAYERS, MAX_WIDTH, EnsembleTransformer
from ..data import PromptStream, stream_for
from ..seeds import MAX_SEED, check_key, member_seeds, seed_int

OPTIMIZERS = ("adam", "adamw", "sgd")
DTYPES = {"float32": torch.float32, "float64": torch.float64}
#: Fields of :class:`TrainConfig` that do not change the result (left out of the run's hash).
RUNTIME_FIELDS = ("device", "checkpoint_every", "cuda_graph", "threads")
#: Upper bounds of the integer fields (sizes beyond them are typos, or runs no machine holds; memory is then
#: checked against the run's estimate by :func:`numerics.training.memory.check_memory`). ``d`` and ``L`` are
#: bounded by :class:`theory.problem.Problem` (``d <= 100000``, ``L <= 10**7``), the seed by ``2**63 - 1``.
MAX_STEPS = 10**9
MAX_ENSEMBLE = 10_000
MAX_HEADS = 10_000
MAX_BATCH = 10**7
MAX_EVAL_PROMPTS = 10**9
#: More intra-op threads than 4 per core only oversubscribe (and 10^5 threads crash torch).
MAX_THREADS = 4 * os.cpu_count() if os.cpu_count() else 1024
#: Default stream key of a run (callers name their purpose, e.g. ``("trained", "softmax", "H4")``).
DEFAULT_KEY = ("train",)
#: SPEC 7.3's transformer (:class:`numerics.transformer.EnsembleTransformer`): softmax or linear attention.
TRANSFORMER_MODELS = {"transformer": "softmax", "transformer-linear": "linear"}
MODELS = MODEL_KINDS + tuple(TRANSFORMER_MODELS)
#: Fields that only the transformer reads (left out of other models' identity, so their hashes are unchanged).
TRANSFORMER_FIELDS = ("n_layer", "width", "mlp")


def check_model(model) -> str:
    if model not in MODELS:
        raise ValueError(f"model must be one of {', '.join(MODELS)}, got {model!r}")
    return model


def check_device(device) -> str:
    device = str(device)
    if device != "cpu" and device != "cuda" and not device.startswith("cuda:"):
        raise ValueError(f"device must be cpu or cuda[:N], got {device!r}")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but CUDA is not available in this torch build/machine")
    return device


def _tuples(v):
    return None if v is None else tuple(tuple(r) for r in v)


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a training run. Validated on construction (one-line ``ValueError``).

    The data model is :attr:`problem`: ``d, L, sigma2`` and at most one of ``cov`` (SPEC 1.2), ``supports``
    (SPEC 1.3, the model then has one output per task) and ``s`` (SPEC 7.1). **Seeds:** the run's streams are
    ``seeds.stream(seed, *key, ...)``: member initialisations are the spawned children of ``(seed, *key)``,
    the prompt streams those of ``(seed, *key, "prompts")``, the final evaluation ``(seed, *key, "eval")`` —
    so two seeds, or two keys, share no member and no prompt. ``first_member`` > 0 makes the run the members
    ``first_member .. first_member + ensemble - 1`` of those children: a shard of a larger ensemble, trained apart
    (``verify.trained.train_many`` splits a large ensemble that way so the shards train side by side).
    """

    d: int = 5
    L: int = 40
    sigma2: float = 0.1
    n_head: int = 4
    model: str = "softmax"
    steps: int = 10_000
    batch: int = 256
    lr: float = 1e-3
    optimizer: str = "adam"
    betas: tuple[float, float] = (0.9, 0.999)
    weight_decay: float = 0.0
    momentum: float = 0.0
    seed: int = 0
    key: tuple[str, ...] = DEFAULT_KEY
    ensemble: int = 1
    first_member: int = 0
    dtype: str = "float32"
    log_every: int = 1000
    eval_prompts: int = 16384
    cov: tuple[tuple[float, ...], ...] | None = None
    supports: tuple[tuple[int, ...], ...] | None = None
    s: int | None = None
    device: str = "cpu"
    checkpoint_every: int = 10_000
    cuda_graph: bool = True
    threads: int = 1
    n_layer: int = 3
    width: int = 32
    mlp: int = 0

    def __post_init__(self):
        problem = Problem(d=self.d, L=self.L, sigma2=self.sigma2, cov=_tuples(self.cov),
                          supports=_tuples(self.supports), s=self.s)
        for name in ("d", "L", "sigma2", "cov", "supports", "s"):
            object.__setattr__(self, name, getattr(problem, name))
        check_int("n_head", self.n_head, lo=1, hi=MAX_HEADS)
        check_model(self.model)
        check_int("n_layer", self.n_layer, lo=1, hi=MAX_LAYERS)
        check_int("width", self.width, lo=1, hi=MAX_WIDTH)
        check_int("mlp", self.mlp, lo=0, hi=16 * MAX_WIDTH)
        if self.is_transformer and self.n_head > self.width:
            raise ValueError(f"n_head must be at most width = {self.width} for the transformer, got {self.n_head}")
        check_int("steps", self.steps, lo=1, hi=MAX_STEPS)
        check_int("batch", self.batch, lo=1, hi=MAX_BATCH)
        check_float("lr", self.lr, lo=0.0, lo_open=True)
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {self.optimizer!r}")
        betas = tuple(self.betas)
        if len(betas) != 2 or any(not 0.0 <= check_float("betas", b) < 1.0 for b in betas):
            raise ValueError(f"betas must be two numbers in [0, 1), got {self.betas!r}")
        object.__setattr__(self, "betas", (float(betas[0]), float(betas[1])))
        check_float("weight_decay", self.weight_decay, lo=0.0)
        check_float("momentum", self.momentum, lo=0.0, hi=1.0)
        check_int("seed", self.seed, lo=0, hi=MAX_SEED)
        object.__setattr__(self, "key", check_key(self.key))
        check_int("ensemble", self.ensemble, lo=1, hi=MAX_ENSEMBLE)
        check_int("first_member", self.first_member, lo=0, hi=MAX_ENSEMBLE)
        if self.dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {', '.join(DTYPES)}, got {self.dtype!r}")
        check_int("log_every", self.log_every, lo=1, hi=MAX_STEPS)
        check_int("eval_prompts", self.eval_prompts, lo=2, hi=MAX_EVAL_PROMPTS)
        check_int("checkpoint_every", self.checkpoint_every, lo=1, hi=MAX_STEPS)
        check_int("threads", self.threads, lo=0, hi=MAX_THREADS)
        if str(self.device) != "cpu" and not str(self.device).startswith("cuda"):
            raise ValueError(f"device must be cpu or cuda[:N], got {self.device!r}")
        for name in ("lr", "weight_decay", "momentum"):
            object.__setattr__(self, name, float(getattr(self, name)))

    # ------------------------------------------------------------------------------------ derived
    @property
    def is_transformer(self) -> bool:
        return self.model in TRANSFORMER_MODELS

    @property
    def problem(self) -> Problem:
        return Problem(d=self.d, L=self.L, sigma2=self.sigma2, cov=self.cov, supports=self.supports, s=self.s)

    @property
    def n_out(self) -> int:
        return self.problem.n_tasks

    @property
    def seeds(self) -> tuple[int, ...]:
        """Initialisation seed of every member: the spawned children of ``(seed, *key)``."""
        return member_seeds(self.seed, *self.key, n=self.first_member + self.ensemble)[self.first_member:]

    @property
    def data_seeds(self) -> tuple[int, ...]:
        """Prompt-stream seed of every member: the spawned children of ``(seed, *key, "prompts")``."""
        return member_seeds(self.seed, *self.key, "prompts", n=self.first_member + self.ensemble)[self.first_member:]

    @property
    def eval_seed(self) -> int:
        return seed_int(self.seed, *self.key, "eval")

    @property
    def torch_dtype(self) -> torch.dtype:
        return DTYPES[self.dtype]

    def identity(self) -> dict[str, Any]:
        """The fields that determine the result (JSON-able); the run's hash is computed from these."""
        skip = RUNTIME_FIELDS + (() if self.is_transformer else TRANSFORMER_FIELDS)
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in skip}
        if not out["first_member"]:
            del out["first_member"]   # a whole ensemble keeps the hash it had before shards existed
        for name in ("betas", "key"):
            out[name] = list(out[name])
        for name in ("cov", "supports"):
            if out[name] is not None:
                out[name] = [list(r) for r in out[name]]
        return out

    def hash(self) -> str:
        return ck.config_hash(self.identity())

    def name(self) -> str:
        shard = f"+{self.first_member}" if self.first_member else ""
        if self.is_transformer:
            return f"{self.model}-L{self.n_layer}-H{self.n_head}-W{self.width}-M{self.mlp}-E{self.ensemble}{shard}"
        return f"{self.model}-H{self.n_head}-E{self.ensemble}{shard}"

    def replace(self, **kw) -> "TrainConfig":
        return dataclasses.replace(self, **kw)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        conv = {"betas": tuple, "key": tuple, "cov": _tuples, "supports": _tuples}
        return cls(**{k: conv.get(k, lambda v: v)(v) for k, v in d.items() if k in known})


# ---------------------------------------------------------------------------- what a config describes
def build_model(cfg: TrainConfig, device: str | None = None) -> EnsembleAttention | EnsembleTransformer:
    """The paper's ensemble (SPEC 2.1 / 2.3), or SPEC 7.3's transformer (``model="transformer[-linear]"``: pre-norm,
    ``n_layer`` layers of ``n_head`` heads, residual width ``width``, MLP hidden size ``mlp``, 0 = attention only),
    with ``cfg.n_out`` outputs, initialised from ``cfg.seeds``."""
    if cfg.is_transformer:
        return EnsembleTransformer(d=cfg.d, n_layer=cfg.n_layer, n_head=cfg.n_head, width=cfg.width, mlp=cfg.mlp,
                                   n_out=cfg.n_out, attention=TRANSFORMER_MODELS[cfg.model], seeds=cfg.seeds,
                                   dtype=cfg.torch_dtype, device=device or cfg.device)
    return EnsembleAttention(d=cfg.d, n_head=cfg.n_head, seeds=cfg.seeds, n_out=cfg.n_out, kind=cfg.model,
                             dtype=cfg.torch_dtype, device=device or cfg.device)


def build_stream(cfg: TrainConfig, device: str | None = None) -> PromptStream:
    """Fresh prompts of ``cfg.problem`` for every member, from ``cfg.data_seeds``."""
    return stream_for(cfg.problem, batch=cfg.batch, seeds=cfg.data_seeds, device=device or cfg.device,
                      dtype=cfg.torch_dtype)


def make_optimizer(cfg: TrainConfig, params) -> torch.optim.Optimizer:
    """The configured optimiser; fused kernels where the device supports them, foreach otherwise."""
    params = list(params)
    on_cuda = str(cfg.device).startswith("cuda")
    kw: dict[str, Any] = {"lr": cfg.lr}
    if cfg.optimizer in ("adam", "adamw"):
        kw.update(betas=cfg.betas, weight_decay=cfg.weight_decay)
        cls = torch.optim.Adam if cfg.optimizer == "adam" else torch.optim.AdamW
        if on_cuda:
            kw["capturable"] = True
    else:
        kw.update(momentum=cfg.momentum, weight_decay=cfg.weight_decay)
        cls = torch.optim.SGD
    try:
        return cls(params, fused=True, **kw)
    except (RuntimeError, TypeError, ValueError):
        return cls(params, foreach=True, **{k: v for k, v in kw.items() if k != "capturable"})
