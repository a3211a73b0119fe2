"""`python -m bench render`: rebuilds docs/benchmarks.md from its sources in docs/benchmarks/ (preamble.md,
results.jsonl, methods/<suite>.md, history.md); every benchmark run calls it after appending its figures.

The page: the preamble, one current table per suite (the newest record of each figure, judged by bench/budgets.py),
the methods, then the history of runs, newest first."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from bench import results
from bench.budgets import budget_for

DOCS = Path(__file__).resolve().parent.parent / "docs"
# suite -> (title, what its figures are compared with), in the order `python -m bench` runs them
SUITES = {
    "rest": ("REST", "a trivial Quart route served by hypercorn, same client"),
    "simulator": ("Simulator", "a bare websockets client process (`bench/bare_client.py`)"),
    "recording": ("Frame recording", "plain sqlite3 `executemany` of the rows the store holds, same batch sizes"),
    "replay": ("Replay and verify", "reading the raw notification log, no decoding"),
    "commands": ("Commands", "the trivial Quart route's HTTP round trip, paced (same percentile)"),
    "smart-charging": (
        "Smart charging",
        "the same fleet without charging profiles, in a second `serve` process over the same window",
    ),
    "tls": (
        "TLS (security profile 2)",
        "the same fleet on plain ws:// (security profile 1, the same Basic auth key), in its own fresh `serve` "
        "process in the same run",
    ),
    "dashboard": ("Dashboard (live stream)", "the same gateway and load with no stream open"),
}
HEADER = ["figure", "value", "baseline", "vs baseline", "budget", "result", "next budget (design)", "measured"]


def source(docs: Path) -> Path:
    return docs / "benchmarks"


def number(value: float | None, unit: str = "") -> str:
    return "-" if value is None else f"{value:,} {unit}".rstrip()


def when(date: str) -> str:
    """`2026-11-24T05:54Z` -> `2026-11-24 05:54 UTC`"""
    return date.replace("T", " ").replace("Z", " UTC")


def verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("PASS" if ok else "MISS")


def row(record: dict) -> list[str]:
    value, baseline, unit = record["value"], record.get("baseline"), record["unit"]
    ratio = record.get("ratio")
    if ratio is None and baseline:
        ratio = round(value / baseline, 2)
    budget = budget_for(record["suite"], record["figure"])
    return [
        record["figure"],
        number(value, unit),
        number(baseline, unit),
        "-" if ratio is None else f"{ratio:.2f}x",
        str(budget),
        verdict(budget.met(value)),
        budget.next,
        when(record["date"]),
    ]


def table(rows: list[list[str]]) -> str:
    align = ["---", *("--:" for _ in HEADER[1:-3]), "---", "---", "---"]
    return "\n".join("| " + " | ".join(line) + " |" for line in (HEADER, align, *rows))


def current(suite: str, records: list[dict]) -> str:
    baseline = SUITES[suite][1] if suite in SUITES else "-"
    machines = dict.fromkeys((record["date"], record["machine"]) for record in records)
    measured = "\n\n".join(f"Machine, run of {when(date)}: {machine}." for date, machine in machines)
    return f"### {title(suite)}\n\nBaseline: {baseline}.\n\n{table([row(r) for r in records])}\n\n{measured}"


def history(text: str) -> str:
    """The run sections of history.md (each opens with `## `), newest first, one heading level down."""
    sections = [s.strip() for s in re.split(r"(?m)^(?=## )", text) if s.startswith("## ")]
    return "\n\n".join("#" + section for section in reversed(sections))


def title(suite: str) -> str:
    return SUITES[suite][0] if suite in SUITES else suite


def render(docs: Path = DOCS) -> str:
    base = source(docs)
    by_suite = results.latest(results.load(base / "results.jsonl"))
    suites = [*SUITES, *(s for s in by_suite if s not in SUITES)]
    parts = [(base / "preamble.md").read_text(encoding="utf-8").strip(), "## Current figures"]
    parts += [current(suite, by_suite[suite]) for suite in suites if suite in by_suite]
    parts.append("## Methods")
    for suite in suites:
        method = base / "methods" / f"{suite}.md"
        if method.exists():
            parts.append(f"### {title(suite)}\n\n{method.read_text(encoding='utf-8').strip()}")
    runs = base / "history.md"
    if runs.exists():
        parts += [
            "## History",
            "Every run as its suite reported it, newest first (`docs/benchmarks/history.md` keeps them oldest first).",
            history(runs.read_text(encoding="utf-8")),
        ]
    return "\n\n".join(parts) + "\n"


def write(docs: Path = DOCS) -> Path:
    target = docs / "benchmarks.md"
    target.write_text(render(docs), encoding="utf-8")
    return target


def main() -> int:
    print(f"rendered {write()}", file=sys.stderr)
    return 0
