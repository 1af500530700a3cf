"""``icl-verify train``: train an ensemble of the paper's attention model and write its summary.

Writes into ``--out``: ``checkpoint.pt`` (resumable; with ``checkpoint.sha256.json``, its checksums, and
``checkpoint.prev.pt``, the previous one), ``trajectory.npz`` (logged loss, per-head omega, mu and pattern
metrics), ``config.json`` and ``summary.json``. Rerunning with the same arguments resumes an interrupted run
or reports the finished one.

Exit status: 2 for bad usage (``ValueError``: a bad flag, an unusable ``--out``, a run that cannot fit in
memory, a folder holding another configuration's run), checked before any work; 1 when the run cannot go on
(a damaged folder with no usable checkpoint, another process writing into the same ``--out``, divergence,
a full disk); 130 on Ctrl-C (rerunning the same command resumes).
"""
from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

#: CLI flag for each config field whose name differs, so error messages name what the user typed.
_FLAGS = {"n_head": "--heads", "n_layer": "--layers", "ensemble": "--ensemble", "log_every": "--log-every",
          "checkpoint_every": "--checkpoint-every", "eval_prompts": "--eval-prompts", "weight_decay": "--weight-decay"}


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser("train", help="train the paper's attention model (an ensemble of seeds) and write "
                                            "<out>/summary.json")
    p.add_argument("--d", type=int, default=5, help="covariate dimension (default 5)")
    p.add_argument("--L", type=int, default=40, help="context length (default 40)")
    p.add_argument("--sigma2", type=float, default=0.1, help="label noise variance (default 0.1)")
    p.add_argument("--heads", type=int, default=4, help="number of heads H (default 4)")
    p.add_argument("--steps", type=int, default=10_000, help="optimiser steps (default 10000)")
    p.add_argument("--batch", type=int, default=256, help="fresh prompts per step (default 256)")
    p.add_argument("--lr", type=float, default=1e-3, help="learning rate (default 1e-3)")
    p.add_argument("--optimizer", default="adam", help="adam | adamw | sgd (default adam)")
    p.add_argument("--weight-decay", type=float, default=0.0)
    p.add_argument("--seed", type=int, default=0,
                   help="run seed; the members are its spawned children, disjoint across seeds (default 0)")
    p.add_argument("--ensemble", type=int, default=1, help="independent models trained together (default 1)")
    p.add_argument("--model", default="softmax", help="softmax | linear | linear-normalised | transformer | "
                                                      "transformer-linear (default softmax)")
    p.add_argument("--layers", type=int, default=3, help="transformer layers (--model transformer*; default 3)")
    p.add_argument("--width", type=int, default=32, help="transformer residual width (default 32)")
    p.add_argument("--mlp", type=int, default=0, help="transformer MLP hidden size, 0 = attention only (default 0)")
    p.add_argument("--s", type=int, default=None, help="sparse data (SPEC 7.1): support size 1 <= s <= d")
    p.add_argument("--supports", default=None,
                   help="multi-task data (SPEC 1.3): 1-based inclusive coordinate ranges per task, e.g. 1-4,3-6 "
                        "(N = number of ranges; '+' joins ranges of one task)")
    p.add_argument("--cov", default=None,
                   help="anisotropic covariates (SPEC 1.2): toeplitz:RHO (Sigma_ij = RHO^|i-j|), diag:a,b,... "
                        "(d positive entries) or a path to a .npy (d, d) symmetric positive-definite matrix")
    p.add_argument("--dtype", default="float32", help="float32 | float64 (default float32)")
    p.add_argument("--device", default="cpu", help="cpu | cuda[:N] (default cpu)")
    p.add_argument("--log-every", type=int, default=1000, help="log period in steps (default 1000)")
    p.add_argument("--checkpoint-every", type=int, default=10_000, help="checkpoint period in steps (default 10000)")
    p.add_argument("--eval-prompts", type=int, default=16384, help="fresh prompts for the final risk (default 16384)")
    p.add_argument("--threads", type=int, default=1, help="CPU intra-op threads, 0 = torch's default (default 1)")
    p.add_argument("--out", default="train_out", help="output folder (default ./train_out)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(handler=run)
    return p


def config_from_args(args):
    """The :class:`numerics.training.TrainConfig` of the parsed arguments (``ValueError`` names the flag)."""
    from numerics.training import TrainConfig

    kw = dict(d=args.d, L=args.L, sigma2=args.sigma2, n_head=args.heads, model=args.model, steps=args.steps,
              batch=args.batch, lr=args.lr, optimizer=args.optimizer, weight_decay=args.weight_decay, seed=args.seed,
              ensemble=args.ensemble, dtype=args.dtype, log_every=args.log_every, eval_prompts=args.eval_prompts,
              device=args.device, checkpoint_every=args.checkpoint_every, threads=args.threads)
    if args.model.startswith("transformer"):
        kw.update(n_layer=args.layers, width=args.width, mlp=args.mlp)
    elif (args.layers, args.width, args.mlp) != (3, 32, 0):
        raise ValueError(f"--layers, --width and --mlp apply to --model transformer[-linear], not {args.model!r}")
    if getattr(args, "s", None) is not None:
        kw["s"] = args.s
    if getattr(args, "cov", None) is not None:
        kw["cov"] = parse_cov(args.cov, d=args.d)
    if getattr(args, "supports", None) is not None:
        from numerics.phases import parse_supports

        try:
            kw["supports"] = parse_supports(args.supports, d=args.d)
        except ValueError as exc:
            msg = str(exc)
            raise ValueError("--supports" + (msg[len("supports"):] if msg.startswith("supports") else ": " + msg)) \
                from None
    try:
        return TrainConfig(**kw)
    except ValueError as exc:
        msg = str(exc)
        for field, flag in _FLAGS.items():
            if msg.startswith(field + " "):
                msg = flag + msg[len(field):]
                break
        else:
            head = msg.split(" ", 1)[0]
            if head in kw:
                msg = "--" + msg
        raise ValueError(msg) from None


def parse_cov(text: str, *, d: int) -> tuple[tuple[float, ...], ...]:
    """``--cov``: ``toeplitz:RHO``, ``diag:a,b,...`` or a ``.npy`` path -> a validated SPD ``(d, d)`` matrix as nested
    tuples; a ``ValueError`` naming ``--cov`` otherwise (exit 2)."""
    import numpy as np

    from theory.validate import check_float, check_int, check_spd

    try:
        d = check_int("--d", d, lo=1)
        kind, _, rest = text.partition(":")
        if kind == "toeplitz" and rest:
            rho = check_float("rho", float(rest), lo=-1.0, hi=1.0, lo_open=True)
            i = np.arange(d)
            mat = rho ** np.abs(i[:, None] - i[None, :])
        elif kind == "diag" and rest:
            entries = [float(v) for v in rest.split(",")]
            if len(entries) != d:
                raise ValueError(f"diag: needs d = {d} entries, got {len(entries)}")
            mat = np.diag(entries)
        elif text.endswith(".npy"):
            try:
                mat = np.load(text, allow_pickle=False)
            except (OSError, ValueError) as exc:
                raise ValueError(f"cannot read {text} as a .npy matrix ({type(exc).__name__})") from None
        else:
            raise ValueError(f"must be toeplitz:RHO, diag:a,b,... or a .npy file, got {text!r}")
        arr = check_spd("the matrix", mat, d=d)
    except ValueError as exc:
        raise ValueError(f"--cov: {str(exc).splitlines()[0]}") from None
    return tuple(tuple(float(v) for v in row) for row in arr)


def run(args) -> int:
    from numerics import checkpoint as ck
    from numerics.training import TrainingDiverged, check_device, check_memory, finish_run

    from .runner import check_out_dir

    cfg = config_from_args(args)
    check_device(cfg.device)
    check_memory(cfg)
    out = check_out_dir(args.out)
    finished = (out / ck.SUMMARY).exists()
    try:
        with warnings.catch_warnings(), ck.run_lock(out, blocking=False):
            warnings.showwarning = _warn  # a fallback to the previous checkpoint is one line on stderr
            _check_same_config(out, cfg)
            res = finish_run(cfg, out, progress=not args.no_progress)
    except ck.RunBusy:
        # exit 1, not 2: the command is right and succeeds once the other process is done (it resumes there)
        _fail(f"{out} is in use by another `icl-verify train` (lock {out / ck.LOCK}); wait for it to finish or "
              f"choose another --out")
        return 1
    except ck.CheckpointError as exc:
        _fail(f"{exc}; to start over, delete {out} (or choose another --out)")
        return 1
    except TrainingDiverged as exc:
        _fail(str(exc))
        return 1
    if res.cached:
        note = " (already finished in this folder)"
    else:
        note = f" (resumed from step {res.resumed_from})" if res.resumed_from else ""
        note += " (finished again: its files were damaged)" if finished else ""
    summ = res.summary()
    shape = f"{cfg.n_layer} layers x " if cfg.is_transformer else ""
    print(f"trained {cfg.model} {shape}H={cfg.n_head} x{cfg.ensemble} for {cfg.steps} steps{note}: "
          f"final loss {summ['final_loss']:.4f}; {res.steps_per_s:.0f} steps/s; summary in {out / ck.SUMMARY}")
    for e, m in enumerate(summ["members"]):
        if "heads" not in m:  # the transformer has no SPEC 2.1 circuits to print
            print(f"  member {e} (seed {m['seed']}): loss {m['final_loss']:.4f} ± {m['final_loss_se']:.4f}")
            continue
        if "phase" in m:  # multi-task: the head allocation (SPEC 3.7)
            print(f"  member {e} (seed {m['seed']}): loss {m['final_loss']:.4f}  phase {m['phase']}  mu (per head, "
                  f"per task): {[[round(x, 2) for x in row] for row in m['phase_mu']]}")
            continue
        heads = " ".join(f"({h['omega']:+.3f},{h['mu']:+.2f}{',dummy' if h['dummy'] else ''})" for h in m["heads"])
        print(f"  member {e} (seed {m['seed']}): loss {m['final_loss']:.4f}  eta_eff {m['eta_eff']:.3f}  "
              f"zero-sum {m['zero_sum']:.3f}  (omega,mu): {heads}")
    return 0


def _warn(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"icl-verify train: warning: {str(message).splitlines()[0]}", file=sys.stderr)


def _fail(msg: str) -> None:
    print(f"icl-verify train: error: {msg.splitlines()[0] if msg else msg}", file=sys.stderr)


def _check_same_config(out: Path, cfg) -> None:
    """``ValueError`` (exit 2) if ``out`` holds another configuration's run; an unreadable ``config.json`` is
    left to the checkpoint's own hash check (the trainer rewrites it)."""
    from numerics import checkpoint as ck

    try:
        prev = ck.load_json(out / ck.CONFIG)
    except (OSError, UnicodeDecodeError, ValueError):  # missing or damaged
        return
    if isinstance(prev, dict) and isinstance(prev.get("hash"), str) and prev["hash"] != cfg.hash():
        raise ValueError(f"{out} holds a run with a different configuration; choose another --out")


def main(argv=None) -> int:  # pragma: no cover - convenience for `python -m verify.train_cmd`
    parser = argparse.ArgumentParser(prog="icl-verify")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    try:
        return run(args)
    except ValueError as exc:
        _fail(str(exc))
        return 2
    except OSError as exc:
        _fail(f"{exc.strerror or exc}" + (f" ({exc.filename})" if exc.filename else ""))
        return 1
    except KeyboardInterrupt:
        print("icl-verify train: interrupted; finished work is saved (rerun the same command to resume)",
              file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
