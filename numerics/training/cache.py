"""Training entry points: one run (``train``), a finished run from its folder (``load_run``) and the run cache
keyed by the configuration's hash (``cached_train``; see :mod:`numerics.checkpoint`)."""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from .. import checkpoint as ck
from .config import TrainConfig, build_model
from .loop import Trainer
from .result import TrainResult


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
    meta = ck.load_json(run_dir / ck.CONFIG)
    cfg = TrainConfig.from_dict({**meta["config"], "device": device})
    state = ck.load_torch(run_dir / ck.CHECKPOINT)
    if state.get("hash") != cfg.hash() or meta.get("hash") != cfg.hash():
        raise ValueError(f"{run_dir}: checkpoint and config.json disagree (hash mismatch)")
    model = build_model(cfg, device)
    model.load_state_dict({k: v.to(device) for k, v in state["model"].items()})
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
            except (OSError, KeyError, ValueError, RuntimeError) as exc:  # a damaged cache entry: train again
                warnings.warn(f"ignoring unreadable cached run {folder}: {exc}")
                (folder / ck.SUMMARY).unlink(missing_ok=True)
        return train(cfg, folder, resume=True, progress=progress)
