"""The runs of the claims still to come, trained ahead in a background thread (``icl-verify run`` on a CPU with two
or more cores and no ``--scheduler``).

Why: a suite run is mostly one claim at a time, and most claims' derivations and Monte Carlo keep one core busy
(sympy is not thread-safe, so claims cannot run side by side in threads). Measured on the 2-core CPU before this
module: the quick suite used 1.5 cores on average, while the trainings of H8-H11 and C1 waited their turn.

How, exactly: every claim names the runs its ``compute`` trains (:attr:`verify.registry.Claim.trainings`); the
runner lists them in claim order (the shards :func:`verify.trained.planned_runs` would train) and a
:class:`Pretrainer` thread trains each one that is neither finished nor locked, through the run cache
(:func:`numerics.training.cached_train`): the same folder, configuration, seeds and checkpoints the claim's own
call uses. That call then finds the run finished, waits on the run's lock while the thread finishes it, or trains
it itself when the thread has not reached it (the thread then skips it). Which thread trained a run does not change
its numbers (the trainer's results do not depend on the thread count or on drawing prompts ahead:
``tests/verify/test_pretrain.py``). The thread never changes torch's process-wide thread count
(:func:`numerics.training.loop.background`); :meth:`Pretrainer.close` stops it at the next log step, leaving the run
it was training resumable from its last checkpoint. A failure is left for the claim that needs the run to report.

Cores: while the thread works (:data:`ACTIVE`), the calling thread keeps to one core: torch gets one intra-op thread
and :func:`verify.trained.train_many` trains one run at a time beside it. Measured on the 2-core CPU, letting both
use every core (three or four busy threads on two cores) made the suite slower, not faster: H3's Monte Carlo took
76 s instead of 29 s beside a training. And the interpreter hands its lock over every :data:`SWITCH_INTERVAL` (0.2 ms,
not Python's 5 ms): a training step takes the lock back some twenty times between its torch and C calls, and behind
a pure-Python sympy derivation each of those waits could last a whole interval (measured: with 5 ms the suite used
1.2 of 2 cores and took 270-300 s; with 0.2 ms, 218-240 s).
"""
from __future__ import annotations

import sys
import threading
from pathlib import Path

import torch

from numerics import checkpoint as ck
from numerics.training import TrainConfig, cached_train
from numerics.training.cache import cache_finished, cached_run_dir
from numerics.training.loop import background

#: set while a :class:`Pretrainer` thread works: the calling thread then keeps to one core
ACTIVE = threading.Event()
#: the interpreter's thread switch interval while it works (seconds; Python's default is 0.005)
SWITCH_INTERVAL = 0.0002


class Pretrainer:
    """Trains ``runs`` (``[(cache root, config), ...]``, in order) in a daemon thread; use as a context manager."""

    def __init__(self, runs: list[tuple[Path, TrainConfig]]):
        self.runs = list(runs)
        self.failed: list[tuple[str, str]] = []          # (hash, error) left for the claims to report
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._work, name="pretrain", daemon=True)

    def __enter__(self) -> "Pretrainer":
        self._threads = torch.get_num_threads()
        torch.set_num_threads(1)
        self._switch = sys.getswitchinterval()
        sys.setswitchinterval(SWITCH_INTERVAL)
        ACTIVE.set()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Stop at the next log step (the run in progress stays resumable) and wait for the thread."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        if ACTIVE.is_set():
            ACTIVE.clear()
            torch.set_num_threads(self._threads)
            sys.setswitchinterval(self._switch)

    def _work(self) -> None:
        with background(self._stop):
            for root, cfg in self.runs:
                if self._stop.is_set():
                    return
                try:
                    with ck.run_lock(cached_run_dir(cfg, root), blocking=False):   # held by a claim: skip it
                        if not cache_finished(cfg, root):
                            cached_train(cfg, root, progress=False)
                except ck.RunBusy:
                    continue
                except KeyboardInterrupt:        # close(), or STOP after a claim's failed training
                    if self._stop.is_set():
                        return
                except Exception as exc:          # the claim that needs the run trains it and reports the error
                    self.failed.append((cfg.hash(), f"{type(exc).__name__}: {exc}"))


def runs_ahead(todo, params) -> list[tuple[Path, TrainConfig]]:
    """``[(cache root, run config), ...]`` of the claims ``todo`` (``[(claim, ctx, key), ...]``), in claim order,
    each unfinished run once; a claim whose ``trainings`` raises is left out (its compute reports the error)."""
    from .trained import cache_root, planned_runs

    out, seen = [], set()
    for claim, ctx, _ in todo:
        if claim.trainings is None:
            continue
        try:
            groups = claim.trainings(params[claim.id], ctx)
            root = cache_root(ctx)
            runs = [cfg for cfgs, shard in groups for piece in planned_runs(list(cfgs), root, shard) for cfg in piece]
        except Exception:
            continue
        for cfg in runs:
            key = (str(root), cfg.hash())
            if key not in seen and not cache_finished(cfg, root):
                seen.add(key)
                out.append((root, cfg))
    return out
