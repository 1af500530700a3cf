"""``icl-verify bench``: this package's trainer against the straightforward trainers, and how its cost grows.

Both sides train the paper's model on the same settings (d=5, L=40, H=4, batch 256, Adam lr 1e-3, float32) in one
process, with the same CPU thread count, interleaved in rounds so that a slow patch of a shared machine hits all of
them; each reported rate is the median over rounds of model-steps per second, excluding start-up (model
construction, first steps, CUDA graph capture). The baseline is the faster of :mod:`numerics.baseline`'s two
straightforward trainers (the [HPCY25] authors' idiom and a notebook idiom), and the output shows both.

Cases, at every thread count of ``--threads`` (default: 1 and torch's default, the machine's cores): ``single``
(one model) and ``ensemble-16`` (16 seeds: our batched ensemble against 16 sequential baseline runs, so the
baseline's rate is its single-run rate). Targets (issue 10): CPU single and ensemble-16 >= 8x the baseline at
every thread count; CUDA single >= 10,000 steps/s, ensemble-16 >= 50,000 model-steps/s.
``--scaling`` prints steps/s over d, L and H (:data:`.trainer.SCALING`) and the projected paper-length run.
The reduced-model numerics cases (issue 2: flow to t=1e4 under 1 s, Monte Carlo throughput) come from
:mod:`verify.bench.reduced` and are listed under ``"numerics"`` in the JSON.
"""
from __future__ import annotations

import json
import sys

from .trainer import bench

TARGETS = {("cpu", "single"): ("ratio", 8.0), ("cpu", "ensemble-16"): ("ratio", 8.0),
           ("cuda", "single"): ("ours_steps_per_s", 10_000.0), ("cuda", "ensemble-16"): ("ours_steps_per_s", 50_000.0)}


def add_parser(subparsers):
    p = subparsers.add_parser("bench", help="time this trainer against the straightforward trainers (steps/s); "
                                            "--scaling: cost growth over d, L, H")
    p.add_argument("--json", action="store_true", help="print {\"cases\": [...]} as JSON")
    p.add_argument("--device", default="cpu", help="cpu | cuda[:N] (default cpu)")
    p.add_argument("--steps", type=int, default=600,
                   help="timed steps of one model per round for our trainer (default 600; the baseline and the "
                        "ensemble get fewer, scaled to similar wall time)")
    p.add_argument("--rounds", type=int, default=3, help="interleaved timing rounds (default 3)")
    p.add_argument("--threads", default="1,0", help="comma-separated CPU thread counts to compare at, 0 = torch's "
                                                    "default (this machine's cores); default 1,0")
    p.add_argument("--scaling", action="store_true",
                   help="instead: steps/s over d in {5,10,20}, L in {20,40,80,160}, H in {1,2,4,8} at one thread "
                        "(--threads' first count), and the projected time of a 500,001-step run")
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
    try:
        counts = [int(t) for t in str(args.threads).split(",")]
    except ValueError:
        raise ValueError(f"--threads must be comma-separated integers, got {args.threads!r}") from None
    for t in counts:
        check_int("--threads", t, lo=0, hi=MAX_THREADS)
    args.thread_counts = counts
    try:
        check_device(args.device)
    except ValueError as exc:
        raise ValueError(f"--{exc}") from None


def _thread_counts(counts: list[int]) -> tuple[int, ...]:
    import torch

    out: list[int] = []
    for t in counts:
        t = t or torch.get_num_threads()
        if t not in out:
            out.append(t)
    return tuple(out)


def run(args) -> int:
    check_args(args)
    threads = _thread_counts(args.thread_counts)
    if args.scaling:
        return _run_scaling(args, threads[0])
    cases = bench(args.device, args.steps, args.rounds, threads)
    numerics = []
    if not args.no_numerics:
        from .reduced import cases as numerics_cases

        numerics = numerics_cases()
    for c in cases:
        kind, goal = TARGETS.get((c["device"], c["name"]), (None, None))
        c["target"] = None if kind is None else f"{kind} >= {goal:g}"
        c["met"] = None if kind is None else bool(c[kind] >= goal)
    if args.json:
        print(json.dumps({"cases": cases, "threads": list(threads), "numerics": numerics}))
        return 0
    kernels = ", ".join(sorted({str(c.get("kernel")) for c in cases}))
    print(f"icl-verify bench: d=5 L=40 H=4 batch=256 Adam, median of {args.rounds} rounds; rates in model-steps/s; "
          f"our step kernel: {kernels}")
    print(f"{'case':12s} {'device':6s} {'threads':>7s} {'ours':>8s} {'authors':>8s} {'notebook':>8s} {'ratio':>6s}  target")
    for c in cases:
        b = c["baselines_steps_per_s"]
        verdict = "-" if c["met"] is None else f"{'met' if c['met'] else 'MISSED'} ({c['target']})"
        print(f"{c['name']:12s} {c['device']:6s} {c['threads']:7d} {c['ours_steps_per_s']:8.0f} {b['authors']:8.0f} "
              f"{b['notebook']:8.0f} {c['ratio']:6.2f}  {verdict}")
    print("ratio: ours / the faster baseline (" + ", ".join(sorted({c['baseline'] for c in cases})) + " here); the "
          "ensemble's baseline runs its 16 seeds one after another", file=sys.stderr)
    for c in numerics:
        print(f"{c['name']}: ours {c['ours']:.4g} {c['unit']}, baseline {c['baseline']:.4g} {c['unit']}, "
              f"ratio {c['ratio']:.3g} (target: {c['target']}; {c['note']})")
    return 0


def _run_scaling(args, threads: int) -> int:
    from .trainer import scaling

    rows = scaling(args.device, steps=args.steps, threads=threads, rounds=args.rounds)
    if args.json:
        print(json.dumps({"scaling": rows, "threads": threads}))
        return 0
    print(f"icl-verify bench --scaling: one model, batch 256, Adam, {threads} CPU thread(s), median of {args.rounds} "
          "rounds; one axis at a time around d=5 L=40 H=4; paper run = 500,001 steps at that rate")
    print(f"{'d':>3s} {'L':>4s} {'H':>2s} {'ours steps/s':>13s} {'paper run':>10s} {'authors steps/s':>16s} {'paper run':>10s}")
    for r in rows:
        b = "-" if r["baseline_steps_per_s"] is None else f"{r['baseline_steps_per_s']:.0f}"
        bt = "-" if r["baseline_paper_run_s"] is None else _hours(r["baseline_paper_run_s"])
        print(f"{r['d']:3d} {r['L']:4d} {r['n_head']:2d} {r['ours_steps_per_s']:13.0f} {_hours(r['ours_paper_run_s']):>10s} "
              f"{b:>16s} {bt:>10s}")
    return 0


def _hours(seconds: float) -> str:
    return f"{seconds / 60:.0f} min" if seconds < 5400 else f"{seconds / 3600:.1f} h"
