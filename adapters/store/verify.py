"""`verify`: the event store's chain is intact, and the live views are exactly what the events say."""

from __future__ import annotations

import json
import sqlite3
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from adapters.store.chain import GENESIS, link
from adapters.store.views import VIEW_TABLES, Views
from application.gateway import Gateway

Progress = Callable[[int, int], None]


@dataclass
class Report:
    events: int = 0
    chain_problems: list[str] = field(default_factory=list)
    view_position: int = 0
    view_rows: dict[str, int] = field(default_factory=dict)
    view_problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.chain_problems and not self.view_problems


def verify_chain(gateway: Gateway, batch: int = 5000, progress: Progress | None = None) -> tuple[int, list[str]]:
    """Recomputes every link in log order from the rows exactly as stored; returns (events checked, problems)."""
    recorder: Any = gateway.recorder
    if not hasattr(recorder, "raw_events"):
        return 0, ["this store keeps no hash chain (an in-memory store?)"]
    end = gateway.position()
    previous, position, checked, problems = GENESIS, 0, 0, []
    while True:
        rows = recorder.raw_events(position, batch)
        if not rows:
            break
        links = recorder.chain_links(position + 1, rows[-1][0])
        for row_position, aggregate, version, topic, state in rows:
            stored = links.pop(row_position, None)
            if (
                not isinstance(state, (bytes, memoryview))
                or not isinstance(aggregate, str)
                or not isinstance(version, int)
                or not isinstance(topic, str)
            ):
                problems.append(f"position {row_position}: the stored row is unreadable (a column was rewritten)")
                expected = None
            else:
                expected = link(recorder.chain_key, previous, row_position, aggregate, version, topic, bytes(state))
                if stored is None:
                    problems.append(
                        f"position {row_position}: event has no chain link (written behind the gateway's back)"
                    )
                elif stored != expected:
                    problems.append(
                        f"position {row_position}: link does not match ({topic} of {aggregate} v{version} was "
                        "changed, moved, or an event before it was removed)"
                    )
            previous = stored or expected or previous
        problems += [f"position {p}: chain link without its event (the event was deleted)" for p in sorted(links)]
        checked += len(rows)
        position = rows[-1][0]
        if progress:
            progress(position, end)
    count, top = recorder.chain_end()
    if top > position:
        problems.append(f"the chain goes on to position {top} but the events stop at {position}: events deleted")
    if count != checked and not problems:
        problems.append(f"{count} chain links for {checked} events")
    return checked, problems


async def verify(gateway: Gateway, views_path: Path, progress: Progress | None = None) -> Report:
    """Checks the chain, rebuilds every view from zero into scratch space, compares with the live views."""
    report = Report()
    report.events, report.chain_problems = verify_chain(gateway, progress=progress)
    live = _snapshot(views_path)
    report.view_position = live.pop("__position__")  # type: ignore[assignment]
    with tempfile.TemporaryDirectory(prefix="ocpplab-verify-") as scratch:
        rebuilt_views = Views(Path(scratch) / "views.sqlite", gateway, batch_size=2000)
        await rebuilt_views.open()
        try:
            await rebuilt_views.rebuild(until=report.view_position)
        except Exception as error:  # noqa: BLE001 - events that cannot be folded are a finding, not a crash
            report.view_problems.append(f"the views cannot be rebuilt from the events: {error!r}")
            return report
        finally:
            await rebuilt_views.close()
        rebuilt = _snapshot(Path(scratch) / "views.sqlite")
        rebuilt.pop("__position__")
    for table in VIEW_TABLES:
        ours, theirs = live.get(table, {}), rebuilt.get(table, {})
        report.view_rows[table] = len(ours)
        for key in sorted(set(ours) | set(theirs), key=str):
            if key not in theirs:
                report.view_problems.append(f"{table} {key}: served but no event says so")
            elif key not in ours:
                report.view_problems.append(f"{table} {key}: the events say it exists but it is not served")
            elif ours[key] != theirs[key]:
                report.view_problems.append(
                    f"{table} {key}: served {_short(ours[key])} != events {_short(theirs[key])}"
                )
    return report


def _snapshot(path: Path) -> dict[str, Any]:
    """Every view table's rows by key, read in one transaction (one consistent position)."""
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        connection.execute("BEGIN")
        row = connection.execute("SELECT position FROM tracking WHERE name = 'views'").fetchone()
        tables: dict[str, Any] = {"__position__": row[0] if row else 0}
        for table in VIEW_TABLES:
            cursor = connection.execute(f"SELECT * FROM {table}")  # noqa: S608 - fixed names
            columns = [c[0] for c in cursor.description]
            key_columns = ["charger_id", "seq"] if table == "frames" else [columns[0]]
            tables[table] = {
                tuple(r[columns.index(k)] for k in key_columns): {
                    c: _decoded(v) for c, v in zip(columns, r, strict=True)
                }
                for r in cursor.fetchall()
            }
        connection.execute("COMMIT")
        return tables
    finally:
        connection.close()


def _decoded(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _short(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 160 else text[:157] + "..."
