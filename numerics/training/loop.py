r"""The training loop: one engine for any ensemble model, prompt stream, optimiser and readouts.

One step draws a batch for every member (``stream.sample()``), computes the per-member MSE ``(E,)`` and its
gradient — the model's hand-written ``loss_and_grad`` where it has one
(:meth:`~numerics.attention.EnsembleAttention.loss_and_grad`), autograd through ``model(Z, xq)`` otherwise —
and takes one optimiser step. Every ``log_every`` steps (and at a few geometric steps before the first, to
resolve the early dynamics) the trainer records the mean training loss over the window and every readout's
metrics. On CUDA the step is captured once in a CUDA graph and replayed (eager fallback if capture fails).

**Resume.** The checkpoint (tensors and primitive containers only; loaded with ``weights_only=True``) holds
the parameters, the optimiser state, every generator state, the step, the loss window and the log so far;
a run killed at any moment restarts from its last checkpoint and, on the CPU with the same thread count,
ends bit-identical to an uninterrupted run. The configuration lives in ``config.json`` beside it. Each
checkpoint is checksummed and the previous one kept (:func:`numerics.checkpoint.save_checkpoint`): a damaged
newest checkpoint falls back to the previous one, with a warning.

**Divergence.** A non-finite window loss or parameter stops the run with :class:`TrainingDiverged`; no
checkpoint is written after the last finite one, so the last good checkpoint is kept.
"""
from __future__ import annotations

import contextlib
import math
import threading
import time
import warnings
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from theory.validate import check_int
from .. import checkpoint as ck
from ..data import PromptStream
from .config import TrainConfig, build_model, build_stream, check_device, make_optimizer
from .evaluate import evaluate
from .prefetch import PrefetchStream, fused_adam_step
from .readouts import default_readouts
from .result import TrainResult


class TrainingDiverged(RuntimeError):
    """The loss or the parameters became NaN/inf; the message says when and where the last good checkpoint is."""


#: Set it to stop every running trainer at its next log step or checkpoint with :class:`KeyboardInterrupt`: how
#: runs training in worker threads are interrupted (Python cannot interrupt a thread from outside). The run folder
#: is left as a run killed at that moment: it resumes from its last checkpoint.
STOP = threading.Event()


def _early_logs(steps: int, log_every: int) -> list[int]:
    """The geometric ramp of log steps below ``min(log_every, steps)`` (at most 64 steps)."""
    return sorted({int(round(2 ** (k / 2))) for k in range(0, 64) if 2 ** (k / 2) < min(log_every, steps)})


def log_steps(steps: int, log_every: int) -> list[int]:
    """Step 0, a geometric ramp below ``log_every``, every multiple of ``log_every``, and the last step."""
    grid = set(_early_logs(steps, log_every)) | set(range(0, steps + 1, log_every)) | {0, steps}
    return sorted(s for s in grid if s <= steps)


@contextlib.contextmanager
def cpu_threads(n: int):
    """Run the block with ``n`` intra-op CPU threads (``0``: leave torch's setting), restoring it afterwards.

    The trainer defaults to one: its ops are tiny, so intra-op threading costs more than it gains (and on a
    shared machine far more), and a fixed count keeps CPU runs bit-reproducible. In a :func:`background` thread
    it changes nothing (the setting is process-wide: the main thread owns it).
    """
    if in_background():
        yield
        return
    prev = torch.get_num_threads()
    if n:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        if n:
            torch.set_num_threads(prev)


_local = threading.local()

#: fewest random numbers per step for which drawing them in a second thread pays. Measured at the paper's setting on
#: the 2-core CPU with the Philox generator (64,000 numbers per member-step), two threads, model-steps/s drawn ahead vs
#: inline: E=1 1655 vs 2218, E=2 2664 vs 2760, E=4 3779 vs 2541, E=8 3958 vs 2962 (handing the batch between threads
#: costs more than a cheap draw saves).
AHEAD_MIN_DRAWS = 150_000


@contextlib.contextmanager
def background(stop: threading.Event):
    """Mark the calling thread as a background trainer for the block: its trainers never change torch's
    (process-wide) intra-op thread count and draw their prompts inline, and they stop at their next log step once
    ``stop`` (or :data:`STOP`) is set, resumable from their last checkpoint. Used by :mod:`verify.pretrain`."""
    _local.stop = stop
    try:
        yield
    finally:
        _local.stop = None


def in_background() -> bool:
    """Whether the calling thread is inside :func:`background`."""
    return getattr(_local, "stop", None) is not None


def stop_requested() -> bool:
    """:data:`STOP` is set, or this thread's :func:`background` stop event is."""
    own = getattr(_local, "stop", None)
    return STOP.is_set() or (own is not None and own.is_set())


class Trainer:
    """Trains ``model`` on ``stream`` with ``optimizer`` under ``cfg`` (steps, logging, checkpoints, evaluation).

    Defaults come from ``cfg``: the paper's :class:`~numerics.attention.EnsembleAttention`, the prompt stream of
    ``cfg.problem`` and the configured optimiser; readouts default to the HPCY pattern readout. A model is any
    ``nn.Module`` with an ensemble axis: ``forward(Z (E, B, L, D), xq (E, B, d)) -> (E, B, N)``, ``n_member`` and
    ``d``; a stream is any object with ``sample() -> (Z, xq, yq, ...)``, ``state()`` and ``set_state()`` (and
    ``generators``, registered with CUDA graphs). The run cache keys on ``cfg`` only: pass a custom model or
    stream with a config ``key`` that names it.
    """

    def __init__(self, cfg: TrainConfig, run_dir: str | Path | None = None, *, model=None, stream=None,
                 optimizer: torch.optim.Optimizer | None = None, readouts: Sequence | None = None,
                 progress: bool = False):
        self.cfg = cfg
        self.device = check_device(cfg.device)
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.progress = progress
        self.model = model if model is not None else build_model(cfg, self.device)
        self.stream = stream if stream is not None else build_stream(cfg, self.device)
        self.opt = optimizer if optimizer is not None else make_optimizer(cfg, self.model.parameters())
        self.readouts = tuple(readouts) if readouts is not None else default_readouts()
        self._handwritten = callable(getattr(self.model, "loss_and_grad", None))
        self.n_member = int(self.model.n_member)
        self.step = 0
        self.loss_sum = torch.zeros(self.n_member, device=self.device, dtype=torch.float64)
        self.loss_n = 0
        self.log: dict[str, list] = {}
        self.last_good_step: int | None = None
        self.resumed_from: int | None = None
        self._graph = None
        self._use_graph = cfg.cuda_graph
        self._fast_step = None     # fused_adam_step(opt), built after the first ordinary step (None: not yet / n/a)
        self._fast_ok = True

    # --------------------------------------------------------------------------------------- state
    def state_dict(self) -> dict:
        """Tensors and primitive containers only (``torch.load(..., weights_only=True)`` reads it back)."""
        return {"hash": self.cfg.hash(), "step": self.step,
                "model": {n: t.detach().cpu() for n, t in self.model.state_dict().items()},
                "optimizer": self.opt.state_dict(), "data": [s.cpu() for s in self.stream.state()],
                "loss_sum": self.loss_sum.cpu(), "loss_n": self.loss_n,
                "log": {k: torch.from_numpy(np.stack(v)) for k, v in self.log.items()}}

    def load_state_dict(self, state: dict) -> None:
        """Apply a checkpoint's state. A foreign configuration is a ``ValueError``; a state that does not fit this
        trainer (missing entries, wrong shapes or types) is a :class:`~numerics.checkpoint.CheckpointError`."""
        if state.get("hash") != self.cfg.hash():
            raise ValueError("checkpoint belongs to a different configuration (hash mismatch)")
        try:
            model = {k: v.to(self.device) for k, v in state["model"].items()}
            log = {k: list(v.numpy()) for k, v in state["log"].items()}
            step, loss_n = int(state["step"]), int(state["loss_n"])
            loss_sum = state["loss_sum"].to(self.device)
            if loss_sum.shape != self.loss_sum.shape:
                raise ValueError(f"loss_sum has shape {tuple(loss_sum.shape)}")
            self.model.load_state_dict(model)
            self.opt.load_state_dict(state["optimizer"])
            self._fast_step, self._fast_ok = None, True   # the optimiser's state tensors were replaced
            self.stream.set_state(state["data"])
        except (KeyError, TypeError, AttributeError, ValueError, RuntimeError, IndexError) as exc:
            msg = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
            raise ck.CheckpointError(f"checkpoint does not fit this run ({type(exc).__name__}: {msg})") from None
        self.step, self.loss_sum, self.loss_n, self.log = step, loss_sum, loss_n, log
        self.last_good_step = self.step

    def resume(self) -> bool:
        """Load the newest usable checkpoint of ``run_dir`` (``checkpoint.pt``, else ``checkpoint.prev.pt`` with a
        warning); returns whether there was one.

        Raises :class:`~numerics.checkpoint.CheckpointError` when checkpoints exist but none is usable (the
        trainer may then hold part of a state: build a fresh one to start over), ``ValueError`` when the
        checkpoint belongs to another configuration.
        """
        if self.run_dir is None:
            return False

        def use(state: dict) -> None:
            if state.get("hash") != self.cfg.hash():  # a foreign run is not damage: never fall back silently
                raise ValueError(f"{self.run_dir}: checkpoint belongs to a different configuration (hash mismatch)")
            self.load_state_dict(state)

        found = ck.load_checkpoint(self.run_dir, use=use)
        if found is None:
            return False
        self.resumed_from = self.step
        return True

    # ---------------------------------------------------------------------------------------- steps
    def _loss_and_grad(self, Z, xq, yq) -> torch.Tensor:
        if self._handwritten:
            return self.model.loss_and_grad(Z, xq, yq)
        for p in self.model.parameters():
            if p.grad is not None:
                p.grad.zero_()
        with torch.enable_grad():
            loss = ((self.model(Z, xq) - yq) ** 2).mean(dim=(1, 2))  # (E,)
            loss.sum().backward()  # each member gets the gradient of its own loss
        return loss.detach()

    def _eager_step(self) -> None:
        Z, xq, yq = self.stream.sample()[:3]
        loss = self._loss_and_grad(Z, xq, yq)
        if self._fast_step is not None:
            self._fast_step()
        else:
            self.opt.step()
            if self._fast_ok and self.device == "cpu":
                self._fast_step = fused_adam_step(self.opt)
                self._fast_ok = self._fast_step is not None
        self.loss_sum += loss.to(torch.float64)

    def _capture(self) -> None:
        """Capture one step in a CUDA graph. Capture executes nothing, so no state needs restoring."""
        try:
            graph = torch.cuda.CUDAGraph()
            for g in getattr(self.stream, "generators", ()):
                graph.register_generator_state(g)
            with torch.cuda.graph(graph):
                self._eager_step()
            self._graph = graph
        except Exception as exc:  # graphs are an optimisation only
            warnings.warn(f"CUDA graph capture failed ({type(exc).__name__}: {exc}); training eagerly")
            self._graph = None
            self._use_graph = False

    def advance(self, n: int) -> None:
        """Take ``n`` optimiser steps (no logging, no checkpoint); the window loss accumulates."""
        if self.device.startswith("cuda") and self._use_graph and self._graph is None:
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
    def _finite_params(self) -> bool:
        return all(bool(torch.isfinite(p).all()) for p in self.model.parameters())

    def _record(self) -> None:
        """Append the window's mean loss and every readout's metrics at the current step; check divergence."""
        loss = (self.loss_sum / self.loss_n).cpu().numpy() if self.loss_n else np.full(self.n_member, np.nan)
        finite_params = self._finite_params()
        if (self.loss_n and not np.all(np.isfinite(loss))) or not finite_params:
            self._diverged(loss)
        row = {"step": np.asarray(self.step), "loss": loss}
        for r in self.readouts:
            row.update(r.log(self.model))
        for k, v in row.items():
            self.log.setdefault(k, []).append(np.asarray(v).copy())
        self.loss_sum.zero_()
        self.loss_n = 0

    def _diverged(self, loss) -> None:
        bad = [e for e, l in enumerate(loss) if not math.isfinite(l)]
        what = f"non-finite loss for member(s) {bad}" if bad else "non-finite parameters"
        where = (f"the last good checkpoint (step {self.last_good_step}) is kept in {self.run_dir / ck.CHECKPOINT}"
                 if self.run_dir is not None and self.last_good_step is not None else "no checkpoint was written")
        prev = int(self.log["step"][-1]) if self.log.get("step") else 0
        raise TrainingDiverged(f"training diverged: {what} between steps {prev} and {self.step} "
                               f"(lr {self.cfg.lr:g}); {where}")

    def _checkpoint(self) -> None:
        if self.run_dir is None:
            return
        if not self._finite_params() or not bool(torch.isfinite(self.loss_sum).all()):
            self._diverged((self.loss_sum / max(self.loss_n, 1)).cpu().numpy())
        ck.save_checkpoint(self.state_dict(), self.run_dir)
        self.last_good_step = self.step

    def trajectory(self) -> dict[str, np.ndarray]:
        return {k: np.stack(v) for k, v in self.log.items()}

    # ------------------------------------------------------------------------------------------ run
    def run(self) -> TrainResult:
        """Train to ``cfg.steps`` (from the current step), evaluate, and write the outputs to ``run_dir``."""
        with self.cpu_plan():
            t0, s0 = time.perf_counter(), self.step
            self._loop(self.cfg.steps)
            seconds = time.perf_counter() - t0
            loss, se = self.evaluate()
        rate = (self.step - s0) / seconds if seconds > 0 and self.step > s0 else float("nan")
        res = TrainResult(self.cfg, self.model, self.trajectory(), loss, se, self.run_dir, seconds, rate,
                          self.resumed_from, readouts=self.readouts)
        if self.run_dir is not None:
            ck.save_npz(res.trajectory, self.run_dir / ck.TRAJECTORY)
            ck.save_json(res.summary(), self.run_dir / ck.SUMMARY)  # written last: marks the run finished
        return res

    def evaluate(self) -> tuple[np.ndarray, np.ndarray]:
        """Monte Carlo risk ``(E,)`` of the current model on ``cfg.eval_prompts`` fresh prompts of the stream's data model."""
        problem = getattr(self.stream, "problem", None) or self.cfg.problem
        return evaluate(self.model, problem, n_prompts=self.cfg.eval_prompts, seed=self.cfg.eval_seed)

    def run_until(self, stop: int) -> None:
        """Train up to step ``min(stop, cfg.steps)`` with the run's logging and checkpoints (no final outputs).

        ``run`` is ``run_until(cfg.steps)`` followed by the evaluation; stopping early leaves the folder
        exactly as a run killed right after that step's checkpoint would.
        """
        with self.cpu_plan():
            self._loop(min(check_int("stop", stop, lo=0), self.cfg.steps))

    @contextlib.contextmanager
    def cpu_plan(self):
        """The CPU threads of ``cfg.threads`` (0: torch's current setting): with two or more, and at least
        :data:`AHEAD_MIN_DRAWS` numbers to draw per step, the next batch is drawn in a background thread
        (:class:`~.prefetch.PrefetchStream`, exact) and the steps get the other threads as intra-op threads; with
        fewer numbers per step everything runs in the calling thread on one intra-op thread (a step that small loses
        to threading overhead); with one thread, in the calling thread."""
        if self.device != "cpu":
            yield
            return
        n = self.cfg.threads or torch.get_num_threads()
        draws = sum(t.numel() for t in self.stream.raw.values()) if isinstance(self.stream, PromptStream) else None
        small = draws is not None and draws < AHEAD_MIN_DRAWS
        ahead = n >= 2 and draws is not None and not small and not in_background()
        # a small step runs fastest on one thread (measured: a single paper-setting model on two intra-op threads
        # ran at 2484-2647 steps/s against 2776-2793 on one)
        with cpu_threads(n - 1 if ahead else 1 if small else self.cfg.threads):
            if not ahead:
                yield
                return
            inner, self.stream = self.stream, PrefetchStream(self.stream)
            try:
                yield
            finally:
                self.stream.close()
                self.stream = inner

    def _loop(self, stop: int) -> None:
        cfg = self.cfg
        if self.run_dir is not None:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            ck.save_json({"config": cfg.identity(), "hash": cfg.hash()}, self.run_dir / ck.CONFIG)
        early, every, ck_every = _early_logs(cfg.steps, cfg.log_every), cfg.log_every, cfg.checkpoint_every
        if self.step == 0 and not self.log:
            self._record()
        bar = _bar(cfg, self.step) if self.progress and self.step < stop else None
        # events (log steps, checkpoint multiples, stop) one at a time: memory does not grow with steps
        while self.step < stop:
            if stop_requested():
                raise KeyboardInterrupt(f"training stopped at step {self.step} (numerics.training.loop.STOP)")
            s = self.step
            target = min(stop, (s // every + 1) * every, (s // ck_every + 1) * ck_every,
                         next((e for e in early if e > s), stop))
            self.advance(target - self.step)
            if target in early or target % every == 0 or target == cfg.steps:
                self._record()
                if bar is not None:
                    bar.update(target - bar.n)
                    bar.set_postfix(loss=f"{float(np.mean(self.log['loss'][-1])):.4f}", refresh=False)
            if target % ck_every == 0 or target == cfg.steps or target == stop:
                self._checkpoint()
        if self.device.startswith("cuda"):
            torch.cuda.synchronize()
        if bar is not None:
            bar.close()


def _bar(cfg: TrainConfig, initial: int):
    from tqdm.auto import tqdm

    return tqdm(total=cfg.steps, initial=initial, unit="step", unit_scale=True, leave=False,
                desc=f"train {cfg.model} H={cfg.n_head} E={cfg.ensemble}")
