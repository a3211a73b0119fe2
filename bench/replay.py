"""Replay and verify rates over a large SQLite event log, against reading the raw notification log.

Builds a log of EVENTS events (default 1,000,000: locations with updates, chargers, frames), then measures in
the same run: reading the raw notification log (the baseline), `replay` (every view rebuilt from zero), and
`verify` (the hash chain recomputed, the views rebuilt into scratch space and compared).
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

from adapters.bootstrap import build_gateway
from adapters.settings import Settings
from adapters.store.verify import verify
from adapters.store.views import Views
from application.ports import Actor
from bench import budgets
from bench.report import append_section, machine, table
from bench.results import Figure, ratio_of
from domain.charger import register_charger
from domain.frames import FrameRecorded, frame_log_id
from domain.location import Location
from domain.values import Coordinates

ACTOR = Actor(sub="bench", role="user", tenant_id="bench", request_id="bench")
BUDGET = budgets.REPLAY.limit


def build_log(gateway, total: int) -> int:
    """Writes `total` events in batches: for each location, 9 updates, one charger, frames for the rest."""
    model = gateway.catalog.model("wallbox", "wallbox-pulsar-plus")
    written, n = 0, 0
    meta = ACTOR.metadata()
    while written < total:
        batch: list = []
        for _ in range(20):
            n += 1
            location = Location.open("bench", f"site-{n}", f"Site {n}", "1 Main", "Paris", "FR", Coordinates(1, 2))
            for k in range(9):
                location.update({"city": f"City {k}"})
            charger, index = register_charger(
                "bench", location, None, f"CP-{n}", model, "Type2", None, "ws://127.0.0.1:9/ocpp", None
            )
            for aggregate in (location, charger, index):
                for event in aggregate.collect_events():
                    object.__setattr__(event, "meta", meta)
                    batch.append(event)
            stream = frame_log_id(charger.id)
            for version in range(1, 31):
                frame = FrameRecorded(
                    originator_id=stream,
                    originator_version=version,
                    timestamp=datetime.now(UTC),
                    charger_id=charger.id,
                    direction="cp_to_csms",
                    message_type=2,
                    action="Heartbeat",
                    message_id=str(uuid4()),
                    raw=f'[2,"{version}","Heartbeat",{{}}]',
                )
                object.__setattr__(frame, "meta", meta)
                batch.append(frame)
        gateway.save(*batch)
        written += len(batch)
    return written


def read_raw(gateway) -> tuple[int, float]:
    started, position, count = time.perf_counter(), 0, 0
    while True:
        rows = gateway.recorder.select_notifications(start=position, limit=5000, inclusive_of_start=False)
        if not rows:
            return count, time.perf_counter() - started
        count += len(rows)
        position = rows[-1].id


async def measure(total: int) -> tuple[list[list[str]], list[Figure]]:
    with tempfile.TemporaryDirectory(prefix="ocpplab-bench-replay-") as tmp:
        settings = Settings(data_dir=Path(tmp))
        gateway = build_gateway(settings)
        started = time.perf_counter()
        events = build_log(gateway, total)
        print(f"built a log of {events:,} events in {time.perf_counter() - started:.1f} s", flush=True)
        raw_count, raw_seconds = read_raw(gateway)
        views = Views(settings.views_path, gateway, batch_size=2000)
        await views.open()
        try:
            replayed, replay_seconds = await views.rebuild()
        finally:
            await views.close()
        started = time.perf_counter()
        report = await verify(gateway, settings.views_path)
        verify_seconds = time.perf_counter() - started
        gateway.close()
    assert report.ok, report.chain_problems[:3] + report.view_problems[:3]
    raw_rate = raw_count / raw_seconds
    figures = []
    rows = [
        [
            "read raw notification log (baseline)",
            f"{raw_count:,}",
            f"{raw_seconds:.1f}",
            f"{raw_rate:,.0f}",
            "1.00x",
            "",
            "",
        ]
    ]
    for name, count, seconds in (
        ("replay (rebuild every view)", replayed, replay_seconds),
        ("verify (chain + rebuild + compare)", report.events, verify_seconds),
    ):
        rate = count / seconds
        figures.append(
            Figure(f"{name}, {count:,} events", round(rate), "events/s", round(raw_rate), ratio_of(rate, raw_rate))
        )
        rows.append(
            [
                name,
                f"{count:,}",
                f"{seconds:.1f}",
                f"{rate:,.0f}",
                f"{rate / raw_rate:.2f}x",
                f">= {BUDGET:,}" if name.startswith("replay") else "",
                "PASS" if rate >= BUDGET else "MISS",
            ]
        )
    rows[-1][-1] = ""
    return rows, figures


def main() -> int:
    total = int(os.environ.get("BENCH_EVENTS", "1000000"))
    rows, figures = asyncio.run(measure(total))
    headers = ["scenario", "events", "seconds", "events/s", "vs raw read", "budget", "result"]
    print(table(headers, rows))
    append_section(
        "Replay and verify",
        [
            f"Machine: {machine()}",
            "",
            table(headers, rows),
            "",
            f"{total:,} events on SQLite (locations with 9 updates each, chargers, 30 frames per charger); the ratio "
            "compares with reading the same notification log raw (no decoding) in the same run.",
        ],
        "replay",
        figures,
    )
    return 0
