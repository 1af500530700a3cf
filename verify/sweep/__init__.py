"""``icl-verify sweep SPEC.toml``: train a grid of settings through the run cache and tabulate every member.

* :mod:`.spec` — the sweep file (TOML: ``[sweep]``, ``[fixed]``, ``[grid]``) and its settings;
* :mod:`.table` — the tidy table (one row per member), written as CSV and Parquet;
* :mod:`.figures` — theory beside the measurement across the grid.

Trainings go through the run cache under ``<out>/cache/trained/<training code version>/`` (stream key
``("sweep",)``), so re-running a finished sweep only looks them up, an interrupted one resumes from the
checkpoints, and a setting shared by two sweep files trains once. Without ``--scheduler`` the settings train side
by side in this process (:func:`verify.trained.train_many`); with it, each is a Dask task
(:mod:`verify.distributed`). The table and figures are written by this process only, atomically.
"""
from __future__ import annotations

import time
from pathlib import Path

from .spec import SweepSpec, load, parse  # noqa: F401  (the public API)


def add_parser(subparsers):
    p = subparsers.add_parser("sweep", help="train a grid of settings (a TOML file) and write a tidy table (CSV, "
                                            "Parquet) and theory-vs-measurement figures")
    p.add_argument("spec", help="the sweep file (TOML; see examples/sweep-quick.toml)")
    p.add_argument("--out", default="sweep", help="output folder (default: ./sweep)")
    p.add_argument("--scheduler", default=None, metavar="SPEC",
                   help="train as Dask tasks: local, local:N or tcp://HOST:PORT (default: in this process)")
    p.add_argument("--device", default="cpu", help="cpu or cuda[:N] (default: cpu)")
    p.add_argument("--checkpoint-every", type=int, default=2000, help="steps between checkpoints (default 2000)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(handler=run)
    return p


def run(args) -> int:
    from numerics.training import check_device
    from theory.validate import check_int

    from ..registry import RunContext
    from ..runner import check_out_dir
    from ..trained import CLAIM_THREADS, train_many
    from . import figures, table

    spec = load(args.spec)
    check_int("--checkpoint-every", args.checkpoint_every, lo=1, hi=10**9)
    try:
        device = check_device(args.device)
    except ValueError as exc:
        raise ValueError(f"--{exc}") from None
    if args.scheduler is not None:
        from ..distributed import parse_scheduler

        parse_scheduler(args.scheduler)
    out = check_out_dir(args.out)
    ctx = RunContext(profile="quick", out_dir=out, seed=spec.seed, device=device, progress=not args.no_progress,
                     claim_id="sweep", scheduler=args.scheduler)
    cfgs = [s.config.replace(device=device, checkpoint_every=args.checkpoint_every, threads=CLAIM_THREADS)
            for s in spec.settings]
    members = sum(c.ensemble for c in cfgs)
    print(f"icl-verify sweep: {len(cfgs)} setting(s) over {', '.join(spec.axes) or 'no axis'}, {members} members "
          f"-> {out}")
    t0 = time.perf_counter()
    if args.scheduler is None:
        results = train_many(cfgs, ctx)
    else:
        from ..distributed import cluster

        with cluster(args.scheduler):
            results = train_many(cfgs, ctx)
    trained = time.perf_counter() - t0
    rows = [r for s, res in zip(spec.settings, results) for r in table.rows(s, res)]
    df = table.frame(rows)
    csv, parquet = table.write(df, out)
    figs = figures.draw(df, out)
    cached = sum(bool(r.cached) for r in results)
    print(f"trained {len(cfgs) - cached} setting(s), {cached} from the cache, in {trained:.1f} s")
    print(f"table: {csv} and {parquet} ({len(df)} rows)")
    print("figures: " + ", ".join(figs))
    return 0
