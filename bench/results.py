"""The figures of every benchmark run, one JSON object per figure per run in docs/benchmarks/results.jsonl:
the structured source the current tables of docs/benchmarks.md are rendered from."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

from bench.budgets import budget_for


@dataclass(frozen=True)
class Figure:
    """One measured figure of a run, as the suite computed it (values rounded as its report prints them)."""

    figure: str
    value: float
    unit: str
    baseline: float | None = None  # the same figure for the suite's baseline, same run
    ratio: float | None = None  # value / baseline from unrounded numbers, when the suite reports it

    def record(self, suite: str, date: datetime, machine: str) -> dict:
        return {
            "suite": suite,
            **asdict(self),
            "budget": str(budget_for(suite, self.figure)),
            "date": f"{date:%Y-%m-%dT%H:%MZ}",
            "machine": machine,
        }


def ratio_of(value: float, baseline: float) -> float | None:
    return round(value / baseline, 2) if baseline else None


def load(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def append(path: Path, records: Iterable[dict]) -> None:
    with path.open("a", encoding="utf-8") as out:
        out.writelines(json.dumps(record, ensure_ascii=False) + "\n" for record in records)


def latest(records: Sequence[dict]) -> dict[str, list[dict]]:
    """Per suite, the newest record of each figure (by date; a later line wins a tie), figures in the order they
    first appear."""
    newest: dict[tuple[str, str], dict] = {}
    for record in records:
        key = (record["suite"], record["figure"])
        if key not in newest or record["date"] >= newest[key]["date"]:
            newest[key] = record
    suites: dict[str, list[dict]] = {}
    for (suite, _), record in newest.items():
        suites.setdefault(suite, []).append(record)
    return suites
