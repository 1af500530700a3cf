"""Training entry points: one run (``train``), a finished run from its folder (``load_run``) and the run cache
keyed by the configuration's hash (``cached_train``; see :mod:`numerics.checkpoint`).

Damage (see :mod:`numerics.checkpoint`): a run folder whose newest checkpoint is damaged resumes from the
previous one with a warning; when no checkpoint is usable, :func:`train` raises
:class:`~numerics.checkpoint.CheckpointError` (``icl-verify train``: exit 1, one line) unless told to start
over (``on_damage="restart"``: the run cache, :func:`cached_train`). A finished run whose files are damaged is
finished again from its newest usable checkpoint (bit-identical on the CPU).
"""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from .. import checkpoint as ck
from .config import TrainConfig, build_model
from .loop import Trainer
from .memory import check_memory
from .result import TrainResult

ON_DAMAGE = ("raise", "restart")


def train(cfg: TrainConfig, run_dir: str | Path | None = None, *, resume: bool = True, progress: bool = False,
          on_damage: str = "raise") -> TrainResult:
    """Train ``cfg``; with a ``run_dir``, resume from its checkpoint (``resume=True``) and leave the outputs there.

    The run's memory is checked first (``ValueError`` with the estimate when it cannot fit). A ``run_dir`` is
    locked for the whole run (:class:`~numerics.checkpoint.RunBusy` if another process holds it). With no
    usable checkpoint, ``on_damage="raise"`` raises :class:`~numerics.checkpoint.CheckpointError`;
    ``"restart"`` warns and trains from scratch.
    """
    if on_damage not in ON_DAMAGE:
        raise ValueError(f"on_damage must be one of {', '.join(ON_DAMAGE)}, got {on_damage!r}")
    check_memory(cfg)
    if run_dir is None:
        return Trainer(cfg, None, progress=progress).run()
    with ck.run_lock(run_dir, blocking=False):
        trainer = Trainer(cfg, run_dir, progress=progress)
        if resume:
            try:
                trainer.resume()
            except ck.CheckpointError as exc:
                if on_damage == "raise":
                    raise ck.CheckpointError(f"no usable checkpoint: {exc}") from None
                warnings.warn(f"no usable checkpoint ({exc}); training {run_dir} from scratch", stacklevel=2)
                trainer = Trainer(cfg, run_dir, progress=progress)
        return trainer.run()


def load_run(run_dir: str | Path, *, device: str = "cpu") -> TrainResult:
    """A finished run from its folder (``summary.json`` present), model on ``device``.

    ``ValueError`` if the folder holds no finished run or another configuration's files;
    :class:`~numerics.checkpoint.CheckpointError` (a ``ValueError``) naming the file when one is damaged.
    """
    run_dir = Path(run_dir)
    if not (run_dir / ck.SUMMARY).exists():
        raise ValueError(f"{run_dir} holds no finished run (no {ck.SUMMARY})")

    def read(name, loader):
        try:
            return loader(run_dir / name)
        except (OSError, UnicodeDecodeError, ValueError, KeyError, EOFError) as exc:  # JSON/NPZ damage
            raise ck.CheckpointError(f"{run_dir / name} is unreadable ({type(exc).__name__})") from None

    meta = read(ck.CONFIG, ck.load_json)
    try:
        cfg = TrainConfig.from_dict({**meta["config"], "device": device})
    except (KeyError, TypeError, ValueError) as exc:
        raise ck.CheckpointError(f"{run_dir / ck.CONFIG} does not hold a valid configuration "
                                 f"({type(exc).__name__})") from None
    state = ck.read_checkpoint(run_dir / ck.CHECKPOINT)
    if state.get("hash") != cfg.hash() or meta.get("hash") != cfg.hash():
        raise ValueError(f"{run_dir}: checkpoint and config.json disagree (hash mismatch)")
    if state["step"] != cfg.steps:
        raise ck.CheckpointError(f"{run_dir / ck.CHECKPOINT} is at step {state['step']}, not the last step "
                                 f"{cfg.steps}")
    model = build_model(cfg, device)
    try:
        model.load_state_dict({k: v.to(device) for k, v in state["model"].items()})
    except (RuntimeError, AttributeError, TypeError) as exc:
        raise ck.CheckpointError(f"{run_dir / ck.CHECKPOINT} does not fit the model ({type(exc).__name__})") from None
    summ = read(ck.SUMMARY, ck.load_json)
    trajectory = read(ck.TRAJECTORY, ck.load_npz)
    try:
        loss = np.array([float(m["final_loss"]) for m in summ["members"]])
        se = np.array([float(m.get("final_loss_se", np.nan)) for m in summ["members"]])
        sps = summ.get("steps_per_s")
        sps = float("nan") if sps is None else float(sps)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ck.CheckpointError(f"{run_dir / ck.SUMMARY} is damaged ({type(exc).__name__})") from None
    if loss.shape != (cfg.ensemble,):
        raise ck.CheckpointError(f"{run_dir / ck.SUMMARY} lists {loss.size} members, the run has {cfg.ensemble}")
    return TrainResult(cfg, model, trajectory, loss, se, run_dir, steps_per_s=sps, cached=True)


def finish_run(cfg: TrainConfig, run_dir: str | Path, *, progress: bool = False,
               on_damage: str = "raise") -> TrainResult:
    """The finished run in ``run_dir`` (loaded), or the run trained / resumed there.

    A finished run whose files are damaged is finished again from the newest usable checkpoint, with a warning
    (its ``summary.json`` is kept until the new one replaces it: :func:`load_run` refuses a checkpoint short of
    the last step, so an interruption meanwhile is harmless); ``on_damage`` is as in :func:`train`. Holds the
    folder's lock throughout (non-blocking: :class:`~numerics.checkpoint.RunBusy`).
    """
    run_dir = Path(run_dir)
    with ck.run_lock(run_dir, blocking=False):
        if (run_dir / ck.SUMMARY).exists():
            try:
                return load_run(run_dir, device=cfg.device)
            except ck.CheckpointError as exc:
                warnings.warn(f"finished run {run_dir} is damaged ({exc}); finishing it again from its newest "
                              f"usable checkpoint", stacklevel=2)
        return train(cfg, run_dir, resume=True, progress=progress, on_damage=on_damage)


def cached_run_dir(cfg: TrainConfig, root: str | Path) -> Path:
    """``root/<name>-<hash>``: the folder :func:`cached_train` uses for ``cfg`` (not created); the run there is
    finished when it holds ``summary.json`` (:data:`numerics.checkpoint.SUMMARY`)."""
    return ck.run_dir(root, cfg.name(), cfg.identity())


def cache_finished(cfg: TrainConfig, root: str | Path) -> bool:
    """Whether the run cache under ``root`` holds ``cfg``'s run finished (its ``summary.json``)."""
    return (cached_run_dir(cfg, root) / ck.SUMMARY).exists()


def cached_train(cfg: TrainConfig, root: str | Path, *, progress: bool = False) -> TrainResult:
    """Train ``cfg`` under ``root/<name>-<hash>`` or reuse the finished run there; an interrupted run resumes.

    A second process asking for the same run waits for the first (blocking lock) and then reuses its result.
    The cache heals itself: a damaged entry is finished again from its newest usable checkpoint, or retrained
    from scratch with a warning when none is usable.
    """
    check_memory(cfg)
    folder = cached_run_dir(cfg, root)
    with ck.run_lock(folder):
        try:
            return finish_run(cfg, folder, progress=progress, on_damage="restart")
        except ValueError as exc:
            if isinstance(exc, ck.CheckpointError) or "hash mismatch" not in str(exc):
                raise
            # a foreign checkpoint under this hash's folder (hand-copied files): it is a cache, start over
            warnings.warn(f"ignoring cached run {folder} ({exc}); training from scratch", stacklevel=2)
            for name in (ck.SUMMARY, ck.CHECKPOINT, ck.PREV_CHECKPOINT, ck.CHECKSUMS):
                (folder / name).unlink(missing_ok=True)
            return train(cfg, folder, resume=False, progress=progress)
