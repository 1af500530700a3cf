"""The trainer benchmark: :class:`numerics.training.Trainer` against the notebook-style :mod:`.baseline`
(see :mod:`verify.bench` for the protocol)."""
from __future__ import annotations

import statistics
import time


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


def bench(device: str = "cpu", steps: int = 600, rounds: int = 3, threads: int = 1) -> list[dict]:
    """Run the benchmark; returns the ``cases`` list (see the module docstring)."""
    import torch

    from theory.validate import check_int
    from numerics.training import TrainConfig, Trainer, check_device, cpu_threads

    from .baseline import NotebookRun

    device = check_device(device)
    steps = check_int("steps", steps, lo=10)
    rounds = check_int("rounds", rounds, lo=1)
    threads = check_int("threads", threads, lo=0)
    base = dict(d=5, L=40, sigma2=0.1, n_head=4, batch=256, lr=1e-3, steps=10**9, device=device, threads=threads)
    with cpu_threads(threads), torch.no_grad():
        ours1 = Trainer(TrainConfig(**base, ensemble=1))
        ours16 = Trainer(TrainConfig(**base, ensemble=16))
        for tr in (ours1, ours16):
            tr.advance(10)  # warm-up (and CUDA graph capture)
    with cpu_threads(threads):
        nb = NotebookRun(d=5, L=40, sigma2=0.1, n_head=4, batch=256, lr=1e-3, seed=0, device=device)
        nb.train(10)
        r_ours1, r_ours16, r_base = [], [], []
        n_base = max(10, steps // 8)
        n_ens = max(2, steps // 16)
        for _ in range(rounds):
            with torch.no_grad():
                r_ours1.append(_rate(ours1.advance, steps, device))
            r_base.append(_rate(nb.train, n_base, device))
            with torch.no_grad():
                r_ours16.append(_rate(ours16.advance, n_ens, device, models=16))
    med = statistics.median
    dev = "cuda" if device.startswith("cuda") else "cpu"
    cases = []
    for name, ours in (("single", med(r_ours1)), ("ensemble-16", med(r_ours16))):
        b = med(r_base)
        cases.append({"name": name, "device": dev, "ours_steps_per_s": round(ours, 1),
                      "baseline_steps_per_s": round(b, 1), "ratio": round(ours / b, 2)})
    return cases
