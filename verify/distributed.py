"""Scale-out on Dask distributed: claims, and the trainings inside them, as tasks of a cluster.

``--scheduler local[:N]`` starts a :class:`distributed.LocalCluster` of ``N`` worker processes (one thread each;
default: one per core) on this machine; ``--scheduler tcp://HOST:PORT`` connects to a running scheduler (started
by ``dask scheduler`` / ``dask worker``, or by dask-jobqueue on SLURM/PBS; see the README). Every worker must see
the output folder at the same path (a shared filesystem): trainings are cached there, and a task that is retried
on another worker resumes the training from its last checkpoint.

* :func:`cluster` — a :class:`distributed.Client` for a scheduler spec (the local cluster is closed on exit);
* :func:`train_all` — train configurations as tasks keyed by the run's cache folder, so two claims asking for the
  same ensemble share one task, and a task lost with its worker is rerun by Dask and resumes from its checkpoint;
* :func:`compute_task` — a claim's ``compute`` on a worker (the judge, the figures and every result file are
  written by the process that submitted it: one writer).

Trainings run with one intra-op thread in a worker (bit-identical to a serial run: the trainer's numbers do not
depend on how prompts are prefetched, :mod:`numerics.training.prefetch`).
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import re
import time
from pathlib import Path
from typing import Iterator

#: One line for ``--help`` and errors.
SCHEDULER_FORMS = "local, local:N (a local cluster of N worker processes) or tcp://HOST:PORT (a running scheduler)"
MAX_LOCAL_WORKERS = 256


def parse_scheduler(spec: str) -> tuple[str, int | None]:
    """``"local"`` -> ``("local", None)``, ``"local:3"`` -> ``("local", 3)``, ``"tcp://h:8786"`` -> (address, None).

    A one-line ``ValueError`` names the accepted forms otherwise.
    """
    text = str(spec).strip()
    m = re.fullmatch(r"local(?::(\d+))?", text)
    if m:
        n = None if m.group(1) is None else int(m.group(1))
        if n is not None and not 1 <= n <= MAX_LOCAL_WORKERS:
            raise ValueError(f"--scheduler local:N needs N in [1, {MAX_LOCAL_WORKERS}], got {n}")
        return "local", n
    if re.fullmatch(r"(tcp|tls|ucx|inproc)://[^\s/]+(:\d+)?", text):
        return text, None
    raise ValueError(f"--scheduler must be {SCHEDULER_FORMS}; got {spec!r}")


def cores() -> int:
    """CPU cores this process may use (its affinity set where the OS has one)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


@contextlib.contextmanager
def cluster(spec: str, *, timeout: float = 30.0) -> Iterator:
    """A :class:`distributed.Client` for ``spec`` (:func:`parse_scheduler`); a local cluster lives as long as the block.

    The local cluster listens on 127.0.0.1 only, with no dashboard; its workers are processes with one thread each
    (Dask's nanny sets ``OMP_NUM_THREADS=1`` for them), restarted by their nanny if they die.
    """
    import logging

    from distributed import Client, LocalCluster

    kind, n = parse_scheduler(spec)
    local = None
    try:
        if kind == "local":
            local = LocalCluster(n_workers=n or cores(), threads_per_worker=1, processes=True, host="127.0.0.1",
                                 dashboard_address=None, silence_logs=logging.ERROR)
            client = Client(local, timeout=timeout)
        else:
            try:
                client = Client(kind, timeout=timeout)
            except OSError as exc:
                raise ValueError(f"--scheduler {kind}: cannot connect ({exc})") from None
        try:
            yield client
        finally:
            client.close()
    finally:
        if local is not None:
            local.close()


@contextlib.contextmanager
def task_client() -> Iterator:
    """The client to submit more tasks from here: inside a task, a ``worker_client`` (the task secedes from the
    worker's thread pool while it waits, so the worker can run what it submitted); elsewhere the current client."""
    from distributed import get_client, get_worker, worker_client

    try:
        get_worker()
    except ValueError:
        yield get_client()
        return
    with worker_client() as client:
        yield client


def train_key(cfg, root: str | Path) -> str:
    """The task key of training ``cfg`` in the run cache ``root``: the same run, the same task (shared)."""
    from numerics.training.cache import cached_run_dir

    folder = os.path.realpath(cached_run_dir(cfg, root))
    return f"train-{cfg.name()}-{hashlib.sha256(folder.encode()).hexdigest()[:16]}"


def train_task(cfg, root: str) -> dict:
    """Run (or finish, or reuse) ``cfg`` in the run cache ``root`` on this worker, one intra-op thread; returns what
    happened: the run folder, the step it resumed from (``None``: a fresh start or a finished run), whether it
    was cached, the wall time."""
    from numerics.training import cached_train

    t0 = time.perf_counter()
    res = cached_train(cfg.replace(threads=1), root)
    return {"run_dir": str(res.run_dir), "resumed_from": res.resumed_from, "cached": bool(res.cached),
            "seconds": time.perf_counter() - t0}


def train_all(cfgs: list, root: str | Path) -> list[dict]:
    """Train every configuration as a Dask task (:func:`train_key`, :func:`train_task`) and wait for all; returns
    each task's report in order. A failed training raises its exception here."""
    from .trained import _cost

    with task_client() as client:
        futures = [client.submit(train_task, c, str(root), key=train_key(c, root), pure=False, priority=_cost(c))
                   for c in cfgs]
        return client.gather(futures)


def compute_task(claim_id: str, params, ctx) -> tuple[dict, float]:
    """``claim.compute(params, ctx)`` on a worker, with one intra-op thread; returns ``(data, seconds)``."""
    from numerics.training import cpu_threads

    from .registry import get

    t0 = time.perf_counter()
    with cpu_threads(1):
        data = get(claim_id).compute(params, ctx)
    return data, time.perf_counter() - t0
