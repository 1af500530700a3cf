"""``icl-verify baselines``: every in-context estimator's excess risk at one setting (SPEC 7.1/7.2 or 1.1).

Prints, per method (``ols``, ``ridge``, ``gd``, ``pto``, ``lasso``), the excess risk E(ŷ − βᵀx_q)² on the evaluation
prompts with its standard error and the tuned parameter; ``--json`` prints
``{"methods": [{"name", "excess_risk", "se", "param"}], "setting": {...}, "grids": {...}}``. Tuning follows
:mod:`numerics.sparse.tuning` (the same grid search for every method, on separate prompts).

Exit status: 0, or 2 for bad usage (s > d, s < 1, n < 1, σ² < 0, NaN, ...) with a one-line message.
"""
from __future__ import annotations

import argparse
import json
import math


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser("baselines", help="excess risk of OLS, ridge, GD, preprocess-then-optimize and Lasso "
                                                "at one setting (tuned on separate prompts)")
    p.add_argument("--data", choices=("sparse", "isotropic"), default="sparse",
                   help="sparse (SPEC 7.1, default) or isotropic (SPEC 1.1; --s is ignored)")
    p.add_argument("--d", type=int, default=20, help="covariate dimension (default 20)")
    p.add_argument("--s", type=int, default=3, help="support size 1 <= s <= d (sparse data; default 3)")
    p.add_argument("--n", type=int, default=20, help="context examples n >= 1 (default 20)")
    p.add_argument("--sigma2", type=float, default=0.25, help="label noise variance >= 0 (default 0.25)")
    p.add_argument("--steps", type=int, default=10, help="steps T of GD and PtO (default 10)")
    p.add_argument("--prompts", type=int, default=2000, help="evaluation prompts M >= 2 (default 2000)")
    p.add_argument("--tune-prompts", type=int, default=None, help="tuning prompts (default: same as --prompts)")
    p.add_argument("--heads", type=int, default=None,
                   help="group-wise PtO with H first-layer heads (H even contiguous coordinate blocks); "
                        "default: the d-head PtO")
    p.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    p.add_argument("--device", default="cpu", help="cpu | cuda[:N] (default cpu)")
    p.add_argument("--threads", type=int, default=1, help="CPU intra-op threads (default 1)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(handler=run)
    return p


def run(args) -> int:
    from numerics.sparse.estimators import even_groups
    from numerics.sparse.tuning import GRIDS, evaluate_methods, make_problem
    from theory.validate import check_int

    make_problem(data=args.data, d=args.d, s=args.s, n=args.n, sigma2=args.sigma2)  # validate before any work
    groups = None
    if args.heads is not None:
        H = check_int("--heads", args.heads, lo=1, hi=args.d)
        groups = even_groups(args.d, H)
    if args.device != "cpu":
        from numerics.training import check_device
        check_device(args.device)
    res = evaluate_methods(d=args.d, s=args.s if args.data == "sparse" else None, n=args.n, sigma2=args.sigma2,
                           steps=args.steps, prompts=args.prompts, tune_prompts=args.tune_prompts, seed=args.seed,
                           data=args.data, device=args.device, groups=groups, threads=args.threads)
    if args.json:
        print(json.dumps({
            "methods": [{k: (v if not isinstance(v, float) or math.isfinite(v) else None)
                         for k, v in (r.to_dict() | {"param_name": r.param_name, "at_grid_edge": r.at_grid_edge}).items()}
                        for r in res],
            "setting": {"data": args.data, "d": args.d, "s": args.s if args.data == "sparse" else None,
                        "n": args.n, "sigma2": args.sigma2, "steps": args.steps, "prompts": args.prompts,
                        "tune_prompts": args.tune_prompts or args.prompts, "heads": args.heads, "seed": args.seed},
            "grids": {k: {"param": v[0], "values": [float(x) for x in v[1]]} for k, v in GRIDS.items()},
        }, allow_nan=False))
        return 0
    what = (f"sparse (SPEC 7.1) d={args.d} s={args.s}" if args.data == "sparse"
            else f"isotropic (SPEC 1.1) d={args.d}")
    print(f"{what} n={args.n} sigma2={args.sigma2:g}; T={args.steps} steps; {args.prompts} evaluation prompts, "
          f"tuned on {args.tune_prompts or args.prompts} others")
    print(f"{'method':8s} {'excess risk':>12s} {'± SE':>10s}  tuned parameter")
    for r in res:
        par = "-" if r.param is None else f"{r.param_name}={r.param:.4g}" + (" (grid edge)" if r.at_grid_edge else "")
        print(f"{r.name:8s} {_fmt(r.excess_risk):>12s} {_fmt(r.se):>10s}  {par}")
    return 0


def _fmt(v: float) -> str:
    return f"{v:.4g}" if math.isfinite(v) else "inf"
