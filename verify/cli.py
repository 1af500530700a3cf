"""``icl-verify``: run the verification suite, list claims, print derivations, train models, benchmark.

Exit status: 0 when no selected claim fails or errors (inconclusive claims are listed), 1 when one fails or
errors, 2 on bad usage.
"""
from __future__ import annotations

import argparse
import importlib
import sys

from .registry import PROFILES


class _Parser(argparse.ArgumentParser):
    """argparse that reports errors in one line (exit 2), without the usage block."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="icl-verify", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = sub.add_parser("run", help="run claims and write <out>/report.md and <out>/results.json")
    run.add_argument("--profile", choices=PROFILES, default="quick",
                     help="quick (default, a 2-core CPU in minutes), paper (the published protocol, for a GPU) "
                          "or smoke (tiny, for tests)")
    run.add_argument("--claims", default=None, help="comma-separated claim ids, e.g. H3,H5 (default: all)")
    run.add_argument("--out", default="report", help="output folder (default: ./report)")
    run.add_argument("--seed", type=int, default=0, help="run seed: streams are keyed by (seed, claim, purpose)")
    run.add_argument("--device", default="cpu", help="cpu or cuda[:N] (default: cpu)")
    run.add_argument("--set", dest="overrides", action="append", metavar="[CLAIM.]KEY=VALUE",
                     help="override a parameter (Python literal), repeatable: H6.n_prompts=200000 changes one "
                          "claim, n_prompts=... every selected claim that has it; see `icl-verify list -v`")
    run.add_argument("--resume", action="store_true", help="reuse claims already finished in --out with the same "
                                                           "settings and code")
    run.add_argument("--no-progress", action="store_true", help="no progress bars")
    run.add_argument("--scheduler", default=None, metavar="SPEC",
                     help="run the claims and their trainings as Dask tasks: local, local:N (a local cluster of N "
                          "worker processes) or tcp://HOST:PORT (a running scheduler; workers must share --out's "
                          "filesystem). Default: in this process")
    run.add_argument("--no-background", action="store_true",
                     help="without --scheduler: do not train later claims' runs ahead in a background thread "
                          "(the default on a CPU with 2+ cores; same numbers either way)")
    run.set_defaults(handler=_cmd_run)

    rep = sub.add_parser("report", help="rebuild report.md, results.json and the figures from saved data "
                                        "(runs nothing)")
    rep.add_argument("--out", default="report", help="the folder of an earlier `icl-verify run` (default: ./report)")
    rep.set_defaults(handler=_cmd_report)

    ls = sub.add_parser("list", help="list the claims")
    ls.add_argument("-v", "--verbose", action="store_true", help="also show each claim's parameters per profile")
    ls.set_defaults(handler=_cmd_list)

    der = sub.add_parser("derive", help="print a symbolic derivation")
    der.add_argument("name", nargs="?", help="derivation name (omit to list them)")
    der.add_argument("--heads", type=int, default=2, help="number of heads H where it applies (default 2)")
    der.add_argument("--latex", action="store_true", help="print LaTeX instead of pretty text")
    der.set_defaults(handler=_cmd_derive)

    for mod in ("verify.train_cmd", "verify.bench", "verify.baselines_cmd", "verify.sweep"):
        importlib.import_module(mod).add_parser(sub)
    return parser


def _cmd_run(args) -> int:
    from .runner import parse_overrides, run_claims

    results = run_claims(args.claims, profile=args.profile, out=args.out, seed=args.seed, device=args.device,
                         overrides=parse_overrides(args.overrides), resume=args.resume,
                         progress=not args.no_progress, scheduler=args.scheduler,
                         background=not args.no_background)
    return _summary(args.out, results)


def _cmd_report(args) -> int:
    from .runner import rebuild_report

    return _summary(args.out, rebuild_report(args.out))


def _summary(out, results) -> int:
    """Print the one-line outcome; exit 1 on a fail or error, 0 otherwise (inconclusive claims are named)."""
    bad = [r.id for r in results if r.verdict in ("fail", "error")]
    undecided = [r.id for r in results if r.verdict == "inconclusive"]
    n_pass = sum(r.verdict == "pass" for r in results)
    print(f"report: {out}/report.md — {n_pass}/{len(results)} claims pass"
          + (f"; failing: {', '.join(bad)}" if bad else "")
          + (f"; inconclusive: {', '.join(undecided)}" if undecided else ""))
    return 1 if bad else 0


def _cmd_list(args) -> int:
    from .registry import all_claims

    for c in all_claims():
        print(f"{c.id:4s} {c.statement}")
        if args.verbose:
            for prof, params in c.params.items():
                print(f"       {prof}: " + ", ".join(f"{k}={v!r}" for k, v in params.flat().items()
                                                     if v is not None))
    return 0


def _cmd_derive(args) -> int:
    from .derivations import DERIVATIONS, derive, names, render

    if not args.name:
        for n in names():
            print(f"{n:22s} {DERIVATIONS[n][0]}")
        return 0
    print(render(derive(args.name, args.heads), latex=args.latex, unicode=_unicode_ok()))
    return 0


def _unicode_ok() -> bool:
    """Whether stdout can show the pretty printer's Unicode (an ASCII-only terminal, LANG=C, gets ASCII art)."""
    try:
        "ω∑─".encode(sys.stdout.encoding or "ascii")
        return True
    except (UnicodeEncodeError, LookupError):
        return False


def main(argv: list[str] | None = None) -> int:
    for stream in (sys.stdout, sys.stderr):   # an ASCII-only terminal (LANG=C) gets '?' instead of a crash
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="replace")
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args))
    except ValueError as exc:
        msg = str(exc).splitlines()[0] if str(exc) else repr(exc)
        print(f"icl-verify {args.command}: error: {msg}", file=sys.stderr)
        return 2
    except OSError as exc:   # a full disk, a folder that vanished: one line, no traceback
        where = f" ({exc.filename})" if exc.filename else ""
        print(f"icl-verify {args.command}: error: {exc.strerror or exc}{where}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        hint = " (rerun with --resume)" if args.command == "run" else " (rerun the same command to resume)"
        print(f"icl-verify {args.command}: interrupted; finished work is saved{hint}", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
