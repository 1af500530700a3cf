"""``icl-verify``: run the verification suite, list claims, print derivations, train models, benchmark.

Exit status: 0 when every selected claim passes, 1 when one fails or errors, 2 on bad usage.
"""
from __future__ import annotations

import argparse
import importlib
import sys


class _Parser(argparse.ArgumentParser):
    """argparse that reports errors in one line (exit 2), without the usage block."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="icl-verify", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = sub.add_parser("run", help="run claims and write <out>/report.md and <out>/results.json")
    run.add_argument("--profile", choices=("quick", "paper"), default="quick")
    run.add_argument("--claims", default=None, help="comma-separated claim ids, e.g. H3,H5 (default: all)")
    run.add_argument("--out", default="report", help="output folder (default: ./report)")
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--device", default="cpu", help="cpu or cuda[:N] (default: cpu)")
    run.add_argument("--set", dest="overrides", action="append", metavar="KEY=VALUE",
                     help="override a claim parameter (Python literal), repeatable; see `icl-verify list -v`")
    run.add_argument("--resume", action="store_true", help="reuse claims already finished in --out with the same settings")
    run.add_argument("--no-progress", action="store_true", help="no progress bars")

    ls = sub.add_parser("list", help="list the claims")
    ls.add_argument("-v", "--verbose", action="store_true", help="also show each claim's parameters per profile")

    der = sub.add_parser("derive", help="print a symbolic derivation")
    der.add_argument("name", nargs="?", help="derivation name (omit to list them)")
    der.add_argument("--heads", type=int, default=2, help="number of heads H where it applies (default 2)")
    der.add_argument("--latex", action="store_true", help="print LaTeX instead of pretty text")

    for mod in ("verify.train_cmd", "verify.bench"):
        try:
            importlib.import_module(mod).add_parser(sub)
        except ModuleNotFoundError as exc:
            if exc.name != mod:
                raise
    return parser


def _cmd_run(args) -> int:
    from .runner import parse_overrides, run_claims

    results = run_claims(args.claims, profile=args.profile, out=args.out, seed=args.seed, device=args.device,
                         overrides=parse_overrides(args.overrides), resume=args.resume,
                         progress=not args.no_progress)
    bad = [r.id for r in results if r.verdict != "pass"]
    print(f"report: {args.out}/report.md — {len(results) - len(bad)}/{len(results)} claims pass"
          + (f"; not passing: {', '.join(bad)}" if bad else ""))
    return 1 if bad else 0


def _cmd_list(args) -> int:
    from .registry import all_claims

    for c in all_claims():
        print(f"{c.id:4s} {c.statement}")
        if args.verbose:
            for prof, params in c.params.items():
                print(f"       {prof}: " + ", ".join(f"{k}={v!r}" for k, v in params.items()))
    return 0


def _cmd_derive(args) -> int:
    from .derivations import DERIVATIONS, derive, names, render

    if not args.name:
        for n in names():
            print(f"{n:22s} {DERIVATIONS[n][0]}")
        return 0
    print(render(derive(args.name, args.heads), latex=args.latex))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handlers = {"run": _cmd_run, "list": _cmd_list, "derive": _cmd_derive}
    handler = handlers.get(args.command) or getattr(args, "handler", None)
    try:
        return int(handler(args))
    except ValueError as exc:
        print(f"icl-verify {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"icl-verify {args.command}: interrupted; finished work is saved (rerun with --resume)", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
