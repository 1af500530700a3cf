"""Write ``<out>/report.md`` and ``<out>/results.json`` from claim results (atomically)."""
from __future__ import annotations

import json
import math
import os
import platform
from datetime import datetime, timezone
from pathlib import Path

from numerics.checkpoint import atomic_write_bytes

from .registry import Claim
from .result import ClaimResult

KIND_LEGEND = {
    "symbolic": "exact symbolic identity proved by sympy",
    "theory": "population theory (closed form, no sampling)",
    "ode": "numerical integration of a theory's ODE (deterministic)",
    "monte-carlo": "Monte Carlo estimate with its standard error",
    "trained": "a model trained with torch on fresh samples",
    "benchmark": "a timing",
}


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (temporary file, fsync, rename): never a half-written file."""
    atomic_write_bytes(path, text.encode())


def results_json(profile: str, results: list[ClaimResult], meta: dict) -> dict:
    return {"profile": profile, "meta": meta, "claims": [r.to_json() for r in results]}


def write_results(out: Path, profile: str, results: list[ClaimResult], meta: dict) -> Path:
    path = Path(out) / "results.json"
    write_atomic(path, json.dumps(results_json(profile, results, meta), indent=1))
    return path


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell (a bare ``|`` would split the cell)."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def _fmt(x) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    if isinstance(x, float):
        if x != 0 and (abs(x) < 1e-3 or abs(x) >= 1e4):
            return f"{x:.3e}"
        return f"{x:.4g}"
    return str(x)


def write_report(out: Path, claims: list[Claim], results: list[ClaimResult], meta: dict) -> Path:
    out = Path(out)
    by_id = {c.id: c for c in claims}
    n_pass = sum(r.verdict == "pass" for r in results)
    undecided = [r.id for r in results if r.verdict == "inconclusive"]
    lines = [
        "# icl-verify report",
        "",
        f"Profile **{meta['profile']}**, seed {meta['seed']}, device {meta['device']}, "
        f"{meta['finished']}, {meta['seconds']:.0f} s in all. "
        f"**{n_pass} of {len(results)} claims pass.**"
        + (f" Inconclusive (the protocol could not decide, by the criterion its row states): {', '.join(undecided)}."
           if undecided else "")
        + (" *Rebuilt from saved data (`icl-verify report`).*" if meta.get("rebuilt") else ""),
        "",
        "A claim passes when every checked row of its table passes (rows marked `info` report a measured number "
        "without a pass criterion). It fails when a decided row fails; it is *inconclusive* when no decided row "
        "fails but a row's stated criterion says the protocol could not decide (`?` in the table), e.g. an "
        "interval that straddles its threshold. Each row says what produced the measured number:",
        "",
    ]
    lines += [f"* `{k}` — {v}" for k, v in KIND_LEGEND.items()]
    lines += ["", "In figures, theory is drawn as solid lines, simulations (Monte Carlo, ODE samples, trained models) "
              "as markers with error bars, and trivial baselines and published reference values in grey.", "",
              "| claim | verdict | rows passed | empirical rows | symbolic identities | mutants rejected | time (s) | "
              "statement |",
              "|---|---|---|---|---|---|---|---|"]
    for r in results:
        n = r.counts()
        stmt = by_id[r.id].statement if r.id in by_id else ""
        lines.append(f"| [{r.id}](#{r.id.lower()}) | **{r.verdict}** | {n['passed']}/{n['checked']} | "
                     f"{n['empirical']} | {n['symbolic']} | "
                     f"{sum(p.rejected for p in r.power)}/{len(r.power)} | {r.seconds:.1f} | {_cell(stmt)} |")
    for r in results:
        c = by_id.get(r.id)
        lines += ["", f"## {r.id}", ""]
        if c is not None:
            lines += [f"*{c.source}* — {c.statement}", ""]
        lines += [f"Verdict: **{r.verdict}** ({r.profile} profile, {r.seconds:.1f} s)."]
        if r.error:
            lines += ["", f"Error: `{r.error}`"]
        if r.comparisons:
            lines += ["", "| check | kind | measured | predicted | tolerance | how | ok |", "|---|---|---|---|---|---|---|"]
            for row in r.comparisons:
                lines.append(f"| {_cell(row.name)} | {row.kind} | {_fmt(row.measured)} | {_fmt(row.predicted)} | "
                             f"{_fmt(row.tolerance)} | {_cell(row.how)} | {_mark(row)} |")
        lines += _power_lines(r, c)
        for note in r.notes:
            if note.startswith("traceback"):
                lines += ["", "```", note, "```"]
            else:
                lines += ["", note]
        for fig in r.figures:
            rel = os.path.relpath(fig, out)
            lines += ["", f"![{Path(fig).stem}]({rel})"]
    lines += ["", "---", f"Python {platform.python_version()}, {meta.get('versions', '')}"]
    path = out / "report.md"
    write_atomic(path, "\n".join(lines) + "\n")
    return path


def _power_lines(r: ClaimResult, c: Claim | None) -> list[str]:
    """The claim's power table: each wrong theory, its effect, and whether the check rejects it."""
    if not r.power:
        if c is not None and not c.mutants:
            return ["", "Power: this claim names no mutants yet."]
        return []
    n_rej = sum(p.rejected for p in r.power)
    lines = ["", f"**Power** — {n_rej} of {len(r.power)} wrong theories rejected, each judged on the same data as "
             f"the verdict above; effect = largest relative change of the predictions; the check resolves relative "
             f"effects down to {_fmt(r.resolution)} (its tightest relative tolerance among Monte Carlo and trained rows).", "",
             "| mutant | what is wrong | effect | rejected | by / why not |", "|---|---|---|---|---|"]
    for p in r.power:
        mark = "✔" if p.rejected else ("✘ (not expected at this profile)" if not p.quick_resolves else "✘")
        lines.append(f"| `{p.mutant}` | {_cell(p.change)} | {_fmt(p.effect)} | {mark} | {_cell(p.by)} |")
    return lines


def _mark(row) -> str:
    if row.info:
        return "info"
    if row.inconclusive:
        return "?"
    return "✔" if row.passed else "✘"


def now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
