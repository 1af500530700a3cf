r"""Online training of attention ensembles (SPEC 1.1 data, fresh prompts every step), with logging,
atomic checkpoints, bit-identical resume and a run cache.

One step draws a batch of prompts on the device for every member, computes the per-member MSE and its
gradient (:meth:`~numerics.attention.EnsembleAttention.loss_and_grad`) and takes one optimiser step
(``torch.optim`` Adam / AdamW / SGD, fused or foreach where the device supports it). Every
``log_every`` steps (and at a few geometric steps before the first, to resolve the early dynamics) the
trainer records the mean training loss over the window and the pattern metrics of every member
(:mod:`numerics.patterns`). On CUDA the step is captured once in a CUDA graph and replayed.

**Seeds.** Member ``e`` of a run with ``seed`` and ``ensemble = E`` uses seed ``seed + e``; its
initialisation (:func:`numerics.attention.init_member`) and its prompt stream (a generator seeded from
``seed + e``) are those of a standalone run with ``seed + e`` and ``ensemble = 1``, so an ensemble is ``E``
independent runs batched (equal up to floating-point summation order).

**Resume.** The checkpoint holds the parameters, the optimiser state, every generator state, the step,
the loss window and the log so far; a run killed at any moment restarts from its last checkpoint and, on
the CPU with the same thread count, ends bit-identical to an uninterrupted run.

**Divergence.** A non-finite window loss or parameter stops the run with :class:`TrainingDiverged`; no
checkpoint is written after the last finite one, so the last good checkpoint is kept.
"""
from __future__ import annotations

import contextlib
import dataclasses
import math
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from . import checkpoint as ck
from theory.validate import check_float, check_int, check_problem
from .attention import EnsembleAttention, check_kind
from .data import make_generator
from .montecarlo import mc_losses
from .patterns import Patterns, circuits, patterns

OPTIMIZERS = ("adam", "adamw", "sgd")
DTYPES = {"float32": torch.float32, "float64": torch.float64}
#: Fields of :class:`TrainConfig` that do not change the result (left out of the run's hash).
RUNTIME_FIELDS = ("device", "checkpoint_every", "cuda_graph", "threads")
_DATA_STREAM, _EVAL_STREAM = 0x64617461, 0x6576616C


class TrainingDiverged(RuntimeError):
    """The loss or the parameters became NaN/inf; the message says when and where the last good checkpoint is."""


def check_device(device) -> str:
    device = str(device)
    if device != "cpu" and device != "cuda" and not device.startswith("cuda:"):
        raise ValueError(f"device must be cpu or cuda[:N], got {device!r}")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but CUDA is not available in this torch build/machine")
    return device


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a training run. Validated on construction (one-line ``ValueError``)."""

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
    ensemble: int = 1
    dtype: str = "float32"
    log_every: int = 1000
    eval_prompts: int = 16384
    device: str = "cpu"
    checkpoint_every: int = 10_000
    cuda_graph: bool = True
    threads: int = 1

    def __post_init__(self):
        check_problem(self.d, self.L, self.sigma2)
        check_int("n_head", self.n_head, lo=1)
        check_kind(self.model)
        check_int("steps", self.steps, lo=1)
        check_int("batch", self.batch, lo=1)
        check_float("lr", self.lr, lo=0.0, lo_open=True)
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {self.optimizer!r}")
        betas = tuple(self.betas)
        if len(betas) != 2:
            raise ValueError(f"betas must be two numbers in [0, 1), got {self.betas!r}")
        for b in betas:
            check_float("betas", b, lo=0.0, hi=1.0)
            if b >= 1.0:
                raise ValueError(f"betas must be two numbers in [0, 1), got {self.betas!r}")
        object.__setattr__(self, "betas", (float(betas[0]), float(betas[1])))
        check_float("weight_decay", self.weight_decay, lo=0.0)
        check_float("momentum", self.momentum, lo=0.0, hi=1.0)
        check_int("seed", self.seed, lo=0)
        check_int("ensemble", self.ensemble, lo=1)
        if self.dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {', '.join(DTYPES)}, got {self.dtype!r}")
        check_int("log_every", self.log_every, lo=1)
        check_int("eval_prompts", self.eval_prompts, lo=2)
        check_int("checkpoint_every", self.checkpoint_every, lo=1)
        check_int("threads", self.threads, lo=0)
        if str(self.device) != "cpu" and not str(self.device).startswith("cuda"):
            raise ValueError(f"device must be cpu or cuda[:N], got {self.device!r}")
        for name in ("sigma2", "lr", "weight_decay", "momentum"):
            object.__setattr__(self, name, float(getattr(self, name)))

    @property
    def seeds(self) -> list[int]:
        return [self.seed + e for e in range(self.ensemble)]

    def identity(self) -> dict[str, Any]:
        """The fields that determine the result (JSON-able); the run's hash is computed from these."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in RUNTIME_FIELDS}
        out["betas"] = list(out["betas"])
        return out

    def hash(self) -> str:
        return ck.config_hash(self.identity())

    def name(self) -> str:
        return f"{self.model}-H{self.n_head}-E{self.ensemble}"

    def replace(self, **kw) -> "TrainConfig":
        return dataclasses.replace(self, **kw)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        kw = {k: (tuple(v) if k == "betas" else v) for k, v in d.items() if k in known}
        return cls(**kw)


def _derived_seed(seed: int, stream: int) -> int:
    return int(np.random.SeedSequence([seed, stream]).generate_state(1, np.uint64)[0] % (2**63 - 1))


class PromptStream:
    r"""Fresh SPEC 1.1 prompts for every member, drawn on the device into fixed buffers.

    Per member and step: one ``normal_`` fills the transposed context ``(D, L)`` (x rows then a noise row)
    and one fills the query part ``(x_q, \epsilon_q, g)``; then :math:`y = g^\top x/\sqrt d + \sigma\epsilon`
    (so :math:`\beta = g/\sqrt d \sim\mathcal N(0, I_d/d)`) is written over the noise in place. The context
    is stored transposed, ``(E, B, D, L)``, because the batched products of the forward read it fastest that way.
    """

    def __init__(self, *, d: int, L: int, sigma2: float, batch: int, seeds: Sequence[int],
                 device: str, dtype: torch.dtype):
        self.d, self.L, self.batch = d, L, batch
        self.sigma = math.sqrt(sigma2)
        self.gens = [make_generator(_derived_seed(s, _DATA_STREAM), device) for s in seeds]
        E, D = len(seeds), d + 1
        self.ctx = torch.empty(E, batch, D, L, device=device, dtype=dtype)  # (E, B, D, L) transposed tokens
        self.qry = torch.empty(E, batch, 2 * d + 1, device=device, dtype=dtype)  # (E, B, [x_q, eps_q, beta])

    def sample(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``Z (E, B, L, D)`` (a transposed view), ``xq (E, B, d)``, ``yq (E, B, 1)``; valid until the next call."""
        d = self.d
        for e, g in enumerate(self.gens):
            self.ctx[e].normal_(generator=g)
            self.qry[e].normal_(generator=g)
        beta = self.qry[..., d + 1:].unsqueeze(-1)  # (E, B, d, 1), N(0, I) before the 1/sqrt(d)
        y = self.ctx[..., d:, :]  # (E, B, 1, L) noise row, overwritten with the labels
        y.mul_(self.sigma).add_((beta * self.ctx[..., :d, :]).sum(-2, keepdim=True), alpha=1.0 / math.sqrt(d))
        xq = self.qry[..., :d]  # (E, B, d)
        yq = self.qry[..., d:d + 1]  # (E, B, 1)
        yq.mul_(self.sigma).add_((beta[..., 0] * xq).sum(-1, keepdim=True), alpha=1.0 / math.sqrt(d))
        return self.ctx.transpose(-1, -2), xq, yq

    def state(self) -> list[torch.Tensor]:
        return [g.get_state() for g in self.gens]

    def set_state(self, states: Sequence[torch.Tensor]) -> None:
        if len(states) != len(self.gens):
            raise ValueError(f"checkpoint holds {len(states)} data generators, the run has {len(self.gens)}")
        for g, s in zip(self.gens, states):
            g.set_state(s)


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


def _log_steps(steps: int, log_every: int) -> list[int]:
    """Step 0, a geometric ramp below ``log_every``, every multiple of ``log_every``, and the last step."""
    early = sorted({int(round(2 ** (k / 2))) for k in range(0, 64) if 2 ** (k / 2) < min(log_every, steps)})
    grid = set(early) | set(range(0, steps + 1, log_every)) | {0, steps}
    return sorted(s for s in grid if s <= steps)


@dataclass
class TrainResult:
    """A finished (or loaded) run: the model at its last step, the logged trajectory and the final losses."""

    config: TrainConfig
    model: EnsembleAttention
    trajectory: dict[str, np.ndarray]
    final_loss: np.ndarray      # (E,) Monte Carlo risk on eval_prompts fresh prompts at the training L
    final_loss_se: np.ndarray   # (E,)
    run_dir: Path | None = None
    seconds: float = 0.0
    steps_per_s: float = float("nan")
    resumed_from: int | None = None
    cached: bool = False
    extra: dict = field(default_factory=dict)

    @property
    def patterns(self) -> Patterns:
        return patterns(*circuits(self.model))

    def summary(self) -> dict:
        """The ``summary.json`` document (see :func:`summary_dict`)."""
        return summary_dict(self.config, self.patterns, self.final_loss, self.final_loss_se, self.steps_per_s)


def summary_dict(cfg: TrainConfig, p: Patterns, loss: np.ndarray, loss_se: np.ndarray,
                 steps_per_s: float = float("nan")) -> dict:
    """``{"final_loss", "members": [{"seed", "final_loss", "eta_eff", "zero_sum", "heads": [...]}], ...}``.

    ``final_loss`` at the top is the mean over members; each member's loss is a Monte Carlo risk on
    ``eval_prompts`` fresh prompts (query noise included) with its standard error.
    """
    members = []
    for e, seed in enumerate(cfg.seeds):
        m = {"seed": seed, "final_loss": float(loss[e]), "final_loss_se": float(loss_se[e])}
        m.update(p.member(e))
        m["split"] = bool(p.split[e])
        members.append(m)
    return {"final_loss": float(np.mean(loss)), "members": members, "config": cfg.identity(),
            "hash": cfg.hash(), "steps_per_s": steps_per_s if math.isfinite(steps_per_s) else None}


class Trainer:
    """Runs one :class:`TrainConfig`; ``run_dir`` (optional) receives checkpoints, the trajectory and the summary."""

    def __init__(self, cfg: TrainConfig, run_dir: str | Path | None = None, *, progress: bool = False):
        self.cfg = cfg
        self.device = check_device(cfg.device)
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.progress = progress
        dtype = DTYPES[cfg.dtype]
        self.model = EnsembleAttention(d=cfg.d, n_head=cfg.n_head, seeds=cfg.seeds, kind=cfg.model,
                                       dtype=dtype, device=self.device)
        self.opt = make_optimizer(cfg, self.model.parameters())
        self.stream = PromptStream(d=cfg.d, L=cfg.L, sigma2=cfg.sigma2, batch=cfg.batch, seeds=cfg.seeds,
                                   device=self.device, dtype=dtype)
        self.step = 0
        self.loss_sum = torch.zeros(cfg.ensemble, device=self.device, dtype=torch.float64)
        self.loss_n = 0
        self.log: dict[str, list] = {}
        self.last_good_step: int | None = None
        self.resumed_from: int | None = None
        self._graph = None

    # --------------------------------------------------------------------------------------- state
    def state_dict(self) -> dict:
        return {"config": self.cfg.identity(), "hash": self.cfg.hash(), "step": self.step,
                "model": {n: t.detach().cpu() for n, t in self.model.state_dict().items()},
                "optimizer": self.opt.state_dict(), "data": [s.cpu() for s in self.stream.state()],
                "loss_sum": self.loss_sum.cpu(), "loss_n": self.loss_n, "log": self.log}

    def load_state_dict(self, state: dict) -> None:
        if state.get("hash") != self.cfg.hash():
            raise ValueError("checkpoint belongs to a different configuration (hash mismatch)")
        self.model.load_state_dict({k: v.to(self.device) for k, v in state["model"].items()})
        self.opt.load_state_dict(state["optimizer"])
        self.stream.set_state(state["data"])
        self.step = int(state["step"])
        self.loss_sum = state["loss_sum"].to(self.device)
        self.loss_n = int(state["loss_n"])
        self.log = state["log"]
        self.last_good_step = self.step

    def resume(self) -> bool:
        """Load ``run_dir/checkpoint.pt`` if there is one; returns whether it did."""
        if self.run_dir is None or not (self.run_dir / ck.CHECKPOINT).exists():
            return False
        self.load_state_dict(ck.load_torch(self.run_dir / ck.CHECKPOINT))
        self.resumed_from = self.step
        return True

    # ---------------------------------------------------------------------------------------- steps
    def _eager_step(self) -> None:
        Z, xq, yq = self.stream.sample()
        loss = self.model.loss_and_grad(Z, xq, yq)
        self.opt.step()
        self.loss_sum += loss.to(torch.float64)

    def _want_graph(self) -> bool:
        return self.device.startswith("cuda") and self.cfg.cuda_graph and self._graph is None

    def _capture(self) -> None:
        """Capture one step in a CUDA graph. Capture executes nothing, so no state needs restoring."""
        try:
            graph = torch.cuda.CUDAGraph()
            for g in self.stream.gens:
                graph.register_generator_state(g)
            with torch.cuda.graph(graph):
                self._eager_step()
            self._graph = graph
        except Exception as exc:  # graphs are an optimisation only
            warnings.warn(f"CUDA graph capture failed ({type(exc).__name__}: {exc}); training eagerly")
            self._graph = None
            self.cfg = self.cfg.replace(cuda_graph=False)

    def _advance(self, n: int) -> None:
        if self._want_graph():
            # a few real (counted) steps on a side stream allocate gradients and optimiser state first
            warm = min(n, 3)
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                for _ in range(warm):
                    self._eager_step()
            torch.cuda.current_stream().wait_stream(side)
            self.step += warm
            self.loss_n += warm
            n -= warm
            if n > 0:
                self._capture()
        if self._graph is not None:
            for _ in range(n):
                self._graph.replay()
        else:
            for _ in range(n):
                self._eager_step()
        self.step += n
        self.loss_n += n

    # -------------------------------------------------------------------------------------- logging
    def _record(self) -> None:
        """Append the window's mean loss and the pattern metrics at the current step; check divergence."""
        cfg = self.cfg
        loss = (self.loss_sum / max(self.loss_n, 1)).cpu().numpy() if self.loss_n else np.full(cfg.ensemble, np.nan)
        finite_params = all(bool(torch.isfinite(p).all()) for p in self.model.parameters())
        if (self.loss_n and not np.all(np.isfinite(loss))) or not finite_params:
            self._diverged(loss, finite_params)
        p = patterns(*circuits(self.model))
        row = {"step": self.step, "loss": loss, "omega": p.omega, "mu": p.mu, "diag_ratio": p.diag_ratio,
               "homogeneity": p.homogeneity, "ov_last_ratio": p.ov_last_ratio, "eta_eff": p.eta_eff,
               "zero_sum": p.zero_sum, "dummy": p.dummy}
        for k, v in row.items():
            self.log.setdefault(k, []).append(np.asarray(v).copy())
        self.loss_sum.zero_()
        self.loss_n = 0

    def _diverged(self, loss, finite_params) -> None:
        bad = [s for s, l in zip(self.cfg.seeds, loss) if not math.isfinite(l)]
        what = f"non-finite loss for seed(s) {bad}" if bad else "non-finite parameters"
        where = (f"the last good checkpoint (step {self.last_good_step}) is kept in {self.run_dir / ck.CHECKPOINT}"
                 if self.run_dir is not None and self.last_good_step is not None else "no checkpoint was written")
        prev = self.log["step"][-1] if self.log.get("step") else 0
        raise TrainingDiverged(f"training diverged: {what} between steps {prev} and {self.step} "
                               f"(lr {self.cfg.lr:g}); {where}")

    def _checkpoint(self) -> None:
        if self.run_dir is None:
            return
        if not all(bool(torch.isfinite(p).all()) for p in self.model.parameters()) or \
                not bool(torch.isfinite(self.loss_sum).all()):
            self._diverged((self.loss_sum / max(self.loss_n, 1)).cpu().numpy(), False)
        ck.save_torch(self.state_dict(), self.run_dir / ck.CHECKPOINT)
        self.last_good_step = self.step

    def trajectory(self) -> dict[str, np.ndarray]:
        return {k: np.stack(v) if k != "step" else np.asarray(v) for k, v in self.log.items()}

    # ------------------------------------------------------------------------------------------ run
    def run(self) -> TrainResult:
        """Train to ``cfg.steps`` (from the current step), evaluate, and write the outputs to ``run_dir``."""
        with cpu_threads(self.cfg.threads if self.device == "cpu" else 0):
            return self._run()

    def run_until(self, stop: int) -> None:
        """Train up to step ``min(stop, cfg.steps)`` with the run's logging and checkpoints (no final outputs).

        ``run`` is ``run_until(cfg.steps)`` followed by the evaluation; stopping early leaves the folder
        exactly as a run killed right after that step's checkpoint would.
        """
        with cpu_threads(self.cfg.threads if self.device == "cpu" else 0):
            self._loop(min(check_int("stop", stop, lo=0), self.cfg.steps))

    def _loop(self, stop: int) -> None:
        cfg = self.cfg
        if self.run_dir is not None:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            ck.save_json({"config": cfg.identity(), "hash": cfg.hash()}, self.run_dir / ck.CONFIG)
        logs = set(_log_steps(cfg.steps, cfg.log_every))
        events = sorted(logs | set(range(cfg.checkpoint_every, cfg.steps + 1, cfg.checkpoint_every)) | {stop})
        if self.step == 0 and not self.log:
            self._record()
        bar = _bar(cfg, self.step) if self.progress and self.step < stop else None
        for target in events:
            if target <= self.step or target > stop:
                continue
            self._advance(target - self.step)
            if target in logs:
                self._record()
                if bar is not None:
                    bar.update(target - bar.n)
                    bar.set_postfix(loss=f"{float(np.mean(self.log['loss'][-1])):.4f}", refresh=False)
            if target % cfg.checkpoint_every == 0 or target == cfg.steps or target == stop:
                self._checkpoint()
        if self.device.startswith("cuda"):
            torch.cuda.synchronize()
        if bar is not None:
            bar.close()

    def _run(self) -> TrainResult:
        cfg = self.cfg
        t0, s0 = time.perf_counter(), self.step
        self._loop(cfg.steps)
        seconds = time.perf_counter() - t0
        loss, se = evaluate(self.model, L=cfg.L, sigma2=cfg.sigma2, n_prompts=cfg.eval_prompts,
                            seed=_derived_seed(cfg.seed, _EVAL_STREAM))
        res = TrainResult(cfg, self.model, self.trajectory(), loss, se, self.run_dir, seconds,
                          (self.step - s0) / seconds if seconds > 0 and self.step > s0 else float("nan"),
                          self.resumed_from)
        if self.run_dir is not None:
            ck.save_npz(res.trajectory, self.run_dir / ck.TRAJECTORY)
            ck.save_json(res.summary(), self.run_dir / ck.SUMMARY)  # written last: marks the run finished
        return res


@contextlib.contextmanager
def cpu_threads(n: int):
    """Run the block with ``n`` intra-op CPU threads (``0``: leave torch's setting), restoring it afterwards.

    The trainer defaults to one: its ops are tiny, so intra-op threading costs more than it gains (and on a
    shared machine far more), and a fixed count keeps CPU runs bit-reproducible.
    """
    prev = torch.get_num_threads()
    if n:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        if n:
            torch.set_num_threads(prev)


def _bar(cfg: TrainConfig, initial: int):
    from tqdm.auto import tqdm

    return tqdm(total=cfg.steps, initial=initial, unit="step", unit_scale=True, leave=False,
                desc=f"train {cfg.model} H={cfg.n_head} E={cfg.ensemble}")


def evaluate(model: EnsembleAttention, *, L: int, sigma2: float, n_prompts: int, seed: int,
             chunk: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    r"""Monte Carlo risk ``(mean (E,), stderr (E,))`` of every member on the same fresh SPEC 1.1 prompts of length ``L``.

    Prompts are drawn in float64 on the model's device, fed in the model's dtype; errors are accumulated
    in float64. Query noise included (the risk contains the irreducible :math:`\sigma^2`). Single-output models.
    """
    return evaluate_many([model], L=L, sigma2=sigma2, n_prompts=n_prompts, seed=seed, chunk=chunk)[0]


@torch.no_grad()
def evaluate_many(models: Sequence[EnsembleAttention], *, L: int, sigma2: float, n_prompts: int, seed: int,
                  chunk: int | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
    """:func:`evaluate` for several models (same ``d``, same device) on one shared stream of prompts."""
    if not models:
        raise ValueError("models must hold at least one model")
    d = models[0].d
    d, L, sigma2 = check_problem(d, L, sigma2)
    n_prompts = check_int("n_prompts", n_prompts, lo=2)
    for m in models:
        if m.n_out != 1 or m.d != d:
            raise ValueError("evaluate needs single-output models with the same d (SPEC 1.1 data)")
    dev = models[0].q.device
    if chunk is None:  # about 2^24 floats of attention weights and tokens per chunk
        width = max(m.n_member * (3 * m.n_head + d + 1) for m in models)
        chunk = max(64, min(8192, 2**24 // (L * width)))

    def losses(p):
        Z64 = torch.cat([p.x, p.y.unsqueeze(-1)], -1)  # (k, L, d+1)
        out = {}
        for i, m in enumerate(models):
            E, k, dtype = m.n_member, p.x.shape[0], m.q.dtype
            Z = Z64.to(dtype).unsqueeze(0).expand(E, k, L, d + 1)
            pred = m(Z, p.xq.to(dtype).unsqueeze(0).expand(E, k, d))[..., 0].double()  # (E, k)
            out[i] = (pred - p.yq.unsqueeze(0)) ** 2
        return out

    res = mc_losses(losses, d=d, L=L, sigma2=sigma2, n_prompts=n_prompts, seed=seed, device=dev, chunk=chunk)
    return [(np.asarray(res[i][0]), np.asarray(res[i][1])) for i in range(len(models))]


def train(cfg: TrainConfig, run_dir: str | Path | None = None, *, resume: bool = True,
          progress: bool = False) -> TrainResult:
    """Train ``cfg``; with a ``run_dir``, resume from its checkpoint (``resume=True``) and leave the outputs there."""
    trainer = Trainer(cfg, run_dir, progress=progress)
    if resume:
        trainer.resume()
    return trainer.run()


def load_run(run_dir: str | Path, *, device: str = "cpu") -> TrainResult:
    """A finished run from its folder (``summary.json`` present), model on ``device``."""
    run_dir = Path(run_dir)
    if not (run_dir / ck.SUMMARY).exists():
        raise ValueError(f"{run_dir} holds no finished run (no {ck.SUMMARY})")
    state = ck.load_torch(run_dir / ck.CHECKPOINT)
    cfg = TrainConfig.from_dict({**state["config"], "device": device})
    model = EnsembleAttention.from_state({k: v.to(device) for k, v in state["model"].items()}, d=cfg.d,
                                         kind=cfg.model, seeds=cfg.seeds)
    summ = ck.load_json(run_dir / ck.SUMMARY)
    loss = np.array([m["final_loss"] for m in summ["members"]])
    se = np.array([m.get("final_loss_se", np.nan) for m in summ["members"]])
    sps = summ.get("steps_per_s")
    return TrainResult(cfg, model, ck.load_npz(run_dir / ck.TRAJECTORY), loss, se, run_dir,
                       steps_per_s=float("nan") if sps is None else float(sps), cached=True)


def cached_train(cfg: TrainConfig, root: str | Path, *, progress: bool = False) -> TrainResult:
    """Train ``cfg`` under ``root/<name>-<hash>`` or reuse the finished run there; an interrupted run resumes."""
    folder = ck.run_dir(root, cfg.name(), cfg.identity())
    with ck.run_lock(folder):
        if (folder / ck.SUMMARY).exists():
            try:
                return load_run(folder, device=cfg.device)
            except (OSError, KeyError, ValueError) as exc:  # a damaged cache entry: train again
                warnings.warn(f"ignoring unreadable cached run {folder}: {exc}")
                (folder / ck.SUMMARY).unlink(missing_ok=True)
        return train(cfg, folder, resume=True, progress=progress)
