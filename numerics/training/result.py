"""A finished (or loaded) training run and its ``summary.json`` document."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from ..patterns import Patterns
from .config import TrainConfig
from .readouts import PatternReadout, PhaseReadout, default_readouts


@dataclass
class TrainResult:
    """The model at its last step, the logged trajectory and the final Monte Carlo risks."""

    config: TrainConfig
    model: object
    trajectory: dict[str, np.ndarray]
    final_loss: np.ndarray      # (E,) Monte Carlo risk on eval_prompts fresh prompts at the training L
    final_loss_se: np.ndarray   # (E,)
    run_dir: Path | None = None
    seconds: float = 0.0
    steps_per_s: float = float("nan")
    resumed_from: int | None = None
    cached: bool = False
    extra: dict = field(default_factory=dict)
    readouts: tuple = field(default_factory=default_readouts)

    @property
    def patterns(self) -> Patterns:
        """SPEC 2.1 pattern metrics of the final model (attention ensembles)."""
        return PatternReadout().patterns(self.model)

    def summary(self) -> dict:
        """The ``summary.json`` document (see :func:`summary_dict`)."""
        readouts = tuple(self.readouts)
        if self.config.supports is not None and not any(isinstance(r, PhaseReadout) for r in readouts):
            readouts += (PhaseReadout(self.config.supports),)   # multi-task: the head allocation (SPEC 3.7)
        return summary_dict(self.config, self.final_loss, self.final_loss_se,
                            [r.members(self.model) for r in readouts], self.steps_per_s,
                            kernel=getattr(self.model, "kernel", None))


def summary_dict(cfg: TrainConfig, loss: np.ndarray, loss_se: np.ndarray, readout_members: Sequence[list[dict]] = (),
                 steps_per_s: float = float("nan"), kernel: str | None = None) -> dict:
    """``{"final_loss", "members": [{"seed", "final_loss", "final_loss_se", ...readouts}], "config", "hash", ...}``.

    ``final_loss`` at the top is the mean over members; each member's loss is a Monte Carlo risk on
    ``eval_prompts`` fresh prompts (query noise included) with its standard error; every readout's per-member
    entries (for the pattern readout: ``eta_eff, zero_sum, heads, split``) are merged in. ``kernel`` (when known)
    names the step's kernel (``native``, ``traced``, ``eager``): runs by different kernels differ at rounding level.
    """
    members = []
    for e, seed in enumerate(cfg.seeds):
        m = {"seed": seed, "final_loss": float(loss[e]), "final_loss_se": float(loss_se[e])}
        for entries in readout_members:
            m.update(entries[e])
        members.append(m)
    return {"final_loss": float(np.mean(loss)), "members": members, "config": cfg.identity(),
            "hash": cfg.hash(), "steps_per_s": steps_per_s if math.isfinite(steps_per_s) else None,
            **({"kernel": kernel} if kernel else {})}
