"""Markdown tables, budget verdicts, machine info, and the end of every run: its dated section appended to
docs/benchmarks/history.md, its figures to docs/benchmarks/results.jsonl, docs/benchmarks.md rendered again."""

from __future__ import annotations

import os
import platform
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

from bench import render, results
from bench.results import Figure

ROOT = Path(__file__).resolve().parent.parent
DOCS = render.DOCS  # docs/: benchmarks.md, and its sources in benchmarks/


def verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("PASS" if ok else "MISS")


def ratio(value: float, baseline: float) -> str:
    return f"{value / baseline:.2f}x" if baseline else "n/a"


def table(header: Sequence[str], rows: Sequence[Sequence[str]], left: int = 1) -> str:
    """A markdown table; the first `left` columns are left-aligned, the others right-aligned."""
    align = ["---" if i < left else "--:" for i in range(len(header))]
    lines = [header, align, *rows]
    return "\n".join("| " + " | ".join(line) + " |" for line in lines)


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def _memory_gib() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) / 1024 / 1024
    return float("nan")


def machine() -> str:
    return (
        f"nproc {len(os.sched_getaffinity(0))} ({_cpu_model()}), {_memory_gib():.1f} GiB RAM, "
        f"Python {platform.python_version()} ({platform.system()} {platform.release()} {platform.machine()}), "
        f"websockets {version('websockets')}, ocpp {version('ocpp')}, eventsourcing {version('eventsourcing')}"
    )


def append_section(
    title: str, lines: Sequence[str], suite: str, figures: Sequence[Figure], machine_text: str | None = None
) -> bool:
    """Appends `## <UTC date>: <title>` and the lines to the history, the figures (stamped with the suite, the date
    and `machine_text`, by default `machine()`) to the results, then renders docs/benchmarks.md again.
    BENCH_NO_REPORT=1 skips it (trial runs); returns whether it was recorded."""
    if os.environ.get("BENCH_NO_REPORT") == "1":
        print(f"BENCH_NO_REPORT=1: section {title!r} not recorded", file=sys.stderr)
        return False
    now, sources = datetime.now(UTC), render.source(DOCS)
    section = [f"## {now:%Y-%m-%d %H:%M} UTC: {title}", "", *lines, ""]
    with (sources / "history.md").open("a", encoding="utf-8") as out:
        out.write("\n" + "\n".join(section))
    stamp = machine_text or machine()
    results.append(sources / "results.jsonl", [figure.record(suite, now, stamp) for figure in figures])
    print(f"appended to {sources}/history.md and results.jsonl; rendered {render.write(DOCS)}", file=sys.stderr)
    return True


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


GATEWAY_SOURCES = ("adapters", "application", "domain", "simulator")


def source_stamp() -> tuple[float, str]:
    """The newest modification time among the gateway's source files, and that file (to notice code changing
    underneath a run: the figures then mix two versions)."""
    newest = max(
        (path.stat().st_mtime, str(path.relative_to(ROOT)))
        for d in GATEWAY_SOURCES
        for path in (ROOT / d).rglob("*.py")
    )
    return newest


def source_note(before: tuple[float, str]) -> str | None:
    after = source_stamp()
    if after[0] <= before[0]:
        return None
    changed = datetime.fromtimestamp(after[0], UTC)
    return (
        f"WARNING: gateway source changed during the run ({after[1]} at {changed:%H:%M:%S} UTC): the figures may "
        "mix two versions of the code."
    )


def print_run(tables: Sequence[str], remarks: list[str], code_at_start: tuple[float, str]) -> list[str]:
    """Prints a run's tables and its notes (with a warning when the gateway's code changed meanwhile); returns the
    notes."""
    changed = source_note(code_at_start)
    if changed:
        remarks.append(changed)
    print(*(part for text in tables for part in (text, "")), sep="\n", end="")
    for line in remarks:
        print(f"NOTE {line}")
    return remarks
