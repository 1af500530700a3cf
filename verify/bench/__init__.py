"""``icl-verify bench``: this package's trainer against the straightforward notebook-style trainer.

Both train the paper's model on the same settings (d=5, L=40, H=4, batch 256, Adam lr 1e-3, float32) in one
process, with the same CPU thread count, interleaved in rounds so that a slow patch of a shared machine
hits both; each reported rate is the median over rounds of optimiser steps per second, excluding start-up
(model construction, first steps, CUDA graph capture).

Cases: ``single`` (one model) and ``ensemble-16`` (16 seeds: our batched ensemble against 16 sequential
notebook runs; both counted in *model*-steps per second, so the baseline's rate is its single-run rate).
Targets (issue 3): CPU single >= 8x, CPU ensemble-16 >= 4x, CUDA single >= 10,000 steps/s.
The reduced-model numerics cases (issue 2: flow to t=1e4 under 1 s, Monte Carlo throughput) come from
:mod:`verify.bench.reduced` and are listed under ``"numerics"`` in the JSON.

Layout: :mod:`.trainer` times the trainer (public :class:`numerics.training.Trainer` methods only) against
:mod:`.baseline`, the notebook-style reference; :mod:`.reduced` holds the reduced-model cases.
"""
from __future__ import annotations

import json
import sys

from .trainer import bench

TARGETS = {("cpu", "single"): ("ratio", 8.0), ("cpu", "ensemble-16"): ("ratio", 4.0),
           ("cuda", "single"): ("ours_steps_per_s", 10_000.0)}


def add_parser(subparsers):
    p = subparsers.add_parser("bench", help="time this trainer against a notebook-style trainer (steps/s)")
    p.add_argument("--json", action="store_true", help="print {\"cases\": [...]} as JSON")
    p.add_argument("--device", default="cpu", help="cpu | cuda[:N] (default cpu)")
    p.add_argument("--steps", type=int, default=600,
                   help="timed steps of one model per round for our trainer (default 600; the baseline and the "
                        "ensemble get fewer, scaled to similar wall time)")
    p.add_argument("--rounds", type=int, default=3, help="interleaved timing rounds (default 3)")
    p.add_argument("--threads", type=int, default=1, help="CPU intra-op threads for both trainers, 0 = torch default "
                                                          "(default 1)")
    p.add_argument("--no-numerics", action="store_true",
                   help="skip the reduced-model numerics cases (flow integration, Monte Carlo throughput)")
    p.set_defaults(handler=run)
    return p


#: Bounds of the bench's arguments: 10^7 steps is about half an hour per round on a CPU; a round count beyond
#: 1000 is a typo; more threads than 4 per core only oversubscribe (and 10^5 crash torch).
MAX_BENCH_STEPS = 10**7
MAX_ROUNDS = 1000


def check_args(args) -> None:
    """One-line ``ValueError`` (exit 2) for an argument out of range, before anything is built."""
    from numerics.training import MAX_THREADS, check_device
    from theory.validate import check_int

    check_int("--steps", args.steps, lo=10, hi=MAX_BENCH_STEPS)
    check_int("--rounds", args.rounds, lo=1, hi=MAX_ROUNDS)
    check_int("--threads", args.threads, lo=0, hi=MAX_THREADS)
    try:
        check_device(args.device)
    except ValueError as exc:
        raise ValueError(f"--{exc}") from None


def run(args) -> int:
    import torch

    check_args(args)
    cases = bench(args.device, args.steps, args.rounds, args.threads)
    threads = args.threads or torch.get_num_threads()
    numerics = []
    if not args.no_numerics:
        from .reduced import cases as numerics_cases

        numerics = numerics_cases()
    if args.json:
        print(json.dumps({"cases": cases, "threads": threads, "numerics": numerics}))
        return 0
    print(f"icl-verify bench: d=5 L=40 H=4 batch=256 Adam, {threads} CPU thread(s), median of {args.rounds} rounds")
    print(f"{'case':12s} {'device':6s} {'ours steps/s':>13s} {'baseline':>10s} {'ratio':>7s}  target")
    for c in cases:
        kind, goal = TARGETS.get((c["device"], c["name"]), (None, None))
        if kind is None:
            verdict = "-"
        else:
            ok = c[kind] >= goal
            verdict = (f"{'met' if ok else 'MISSED'} ({'ratio' if kind == 'ratio' else 'steps/s'} >= {goal:g})")
        print(f"{c['name']:12s} {c['device']:6s} {c['ours_steps_per_s']:13.0f} {c['baseline_steps_per_s']:10.0f} "
              f"{c['ratio']:7.2f}  {verdict}")
    print("ensemble rates are model-steps/s; the baseline runs the 16 seeds one after another", file=sys.stderr)
    for c in numerics:
        print(f"{c['name']}: ours {c['ours']:.4g} {c['unit']}, baseline {c['baseline']:.4g} {c['unit']}, "
              f"ratio {c['ratio']:.3g} (target: {c['target']}; {c['note']})")
    return 0
