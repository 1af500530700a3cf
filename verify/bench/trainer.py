"""The trainer benchmark: :class:`numerics.training.Trainer` against the straightforward trainers of
:mod:`numerics.baseline` (see :mod:`verify.bench` for the protocol), and the cost-growth table (``--scaling``)."""
from __future__ import annotations

import statistics
import time

#: the benchmark's setting (issue 10): d = 5, L = 40, H = 4, batch 256, Adam 1e-3
SETTING = dict(d=5, L=40, sigma2=0.1, n_head=4, batch=256, lr=1e-3)
#: model-steps per round of our single model (the others get fewer, scaled to a similar wall time)
ENSEMBLE = 16
PAPER_STEPS = 500_001


def _sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _rate(fn, steps: int, device: str, models: int = 1) -> float:
    _sync(device)
    t0 = time.perf_counter()
    fn(steps)
    _sync(device)
    return models * steps / (time.perf_counter() - t0)


class _Ours:
    """Our trainer as a training run uses it: :meth:`Trainer.cpu_plan` (threads, prompts drawn ahead) around steps."""

    def __init__(self, device: str, threads: int, ensemble: int, **setting):
        from numerics.training import TrainConfig, Trainer

        self.trainer = Trainer(TrainConfig(**{**SETTING, **setting}, steps=10**9, device=device, threads=threads,
                                           ensemble=ensemble))
        self.models = ensemble
        self.advance(10)   # warm-up: optimiser state, the fused step, CUDA graph capture

    @property
    def kernel(self) -> str | None:
        """Which step kernel ran (``native``, ``traced``, ``eager``; :meth:`EnsembleAttention.loss_and_grad`)."""
        return getattr(self.trainer.model, "kernel", None)

    def advance(self, n: int) -> None:
        import torch

        with self.trainer.cpu_plan(), torch.no_grad():
            self.trainer.advance(n)


def bench(device: str = "cpu", steps: int = 600, rounds: int = 3, threads: tuple[int, ...] = (1,)) -> list[dict]:
    """Run the benchmark at each CPU thread count of ``threads``; returns the ``cases`` list.

    Per thread count ``T``: ``single`` (one model) and ``ensemble-16`` (16 seeds in our batched ensemble, against
    the baseline's single-run rate, i.e. 16 runs one after another), both in model-steps per second. The baseline
    is the faster of the two straightforward trainers (:data:`numerics.baseline.BASELINES`), each timed at ``T``
    intra-op threads; our trainer gets the same ``T`` CPU threads (``cfg.threads = T``: with two, one of them
    draws the next batch). Rounds interleave every trainer, so a slow patch of a shared machine hits all of them;
    each rate is the median over rounds.
    """
    import torch

    from numerics.baseline import BASELINES, baseline_run
    from numerics.training import check_device, cpu_threads
    from theory.validate import check_int

    device = check_device(device)
    steps = check_int("steps", steps, lo=10)
    rounds = check_int("rounds", rounds, lo=1)
    on_cuda = device.startswith("cuda")
    threads = (0,) if on_cuda else tuple(check_int("threads", t, lo=1) for t in threads)
    n_base, n_ens = max(10, steps // 8), max(2, steps // ENSEMBLE)
    cases = []
    for T in threads:
        with cpu_threads(T):
            ours = {"single": _Ours(device, T, 1), "ensemble-16": _Ours(device, T, ENSEMBLE)}
            base = {name: baseline_run(name, **SETTING, seed=0, device=device) for name in BASELINES}
            for run in base.values():
                run.train(10)
            r = {k: [] for k in (*ours, *base)}
            for _ in range(rounds):
                r["single"].append(_rate(ours["single"].advance, steps, device))
                for name, run in base.items():
                    r[name].append(_rate(run.train, n_base, device))
                r["ensemble-16"].append(_rate(ours["ensemble-16"].advance, n_ens, device, models=ENSEMBLE))
        med = {k: statistics.median(v) for k, v in r.items()}
        best = max(BASELINES, key=lambda n: med[n])
        for name in ours:
            cases.append({"name": name, "device": "cuda" if on_cuda else "cpu", "threads": T or torch.get_num_threads(),
                          "ours_steps_per_s": round(med[name], 1), "baseline": best,
                          "baseline_steps_per_s": round(med[best], 1),
                          "baselines_steps_per_s": {n: round(med[n], 1) for n in BASELINES},
                          "ratio": round(med[name] / med[best], 2), "kernel": ours[name].kernel})
    return cases


#: the cost-growth grid of ``--scaling`` (issue 10): one axis varied at a time around the benchmark's setting
SCALING = {"d": (5, 10, 20), "L": (20, 40, 80, 160), "n_head": (1, 2, 4, 8)}


def scaling(device: str = "cpu", steps: int = 600, threads: int = 1, rounds: int = 3,
            baseline_seconds: float = 3.0) -> list[dict]:
    """Steps per second of our single-model trainer (and of the authors'-idiom baseline, where ``steps / 8`` of its
    steps take under ``baseline_seconds``) along each axis of :data:`SCALING`, each the median of ``rounds``
    interleaved timings, and the projected time of one paper-length run (500,001 steps) at that rate. Along an
    axis the baseline is dropped once it gets slower than that."""
    from numerics.baseline import baseline_run
    from numerics.training import check_device, cpu_threads

    device = check_device(device)
    rows = []
    with cpu_threads(threads):
        for axis, values in SCALING.items():
            skip_base = False
            for v in values:
                setting = {axis: v}
                ours = _Ours(device, threads, 1, **setting)
                run = None if skip_base else baseline_run("authors", **{**SETTING, **setting}, seed=0, device=device)
                if run is not None:
                    run.train(3)
                mine, theirs, n = [], [], max(5, steps // 8)
                for _ in range(rounds):
                    mine.append(_rate(ours.advance, steps, device))
                    if run is not None:
                        t0 = time.perf_counter()
                        theirs.append(_rate(run.train, n, device))
                        skip_base = skip_base or time.perf_counter() - t0 > baseline_seconds
                rate = statistics.median(mine)
                row = {"axis": axis, **{k: SETTING[k] for k in ("d", "L", "n_head")}, axis: v,
                       "ours_steps_per_s": round(rate, 1), "ours_paper_run_s": round(PAPER_STEPS / rate, 0),
                       "baseline_steps_per_s": None, "baseline_paper_run_s": None}
                if theirs:
                    b = statistics.median(theirs)
                    row.update(baseline_steps_per_s=round(b, 1), baseline_paper_run_s=round(PAPER_STEPS / b, 0))
                rows.append(row)
    return rows
