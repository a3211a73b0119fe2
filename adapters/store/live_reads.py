"""The live stream's reads: current documents for the ids a flush names, a fresh snapshot, and what changed since
a notification id (resume). Everything is filtered by tenant; the views are the only source."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID

from adapters.store.live import Changes, meter_readings
from adapters.store.views import Views
from domain.frames import frame_log_id

CHUNK = 200  # documents per stream message, and ids per IN (...) clause
RECENT_FRAMES = 100
RECENT_COMMANDS = 20
RESUMED_FRAMES = 1000


async def chargers(views: Views, tenant_id: str, changes: Changes) -> tuple[list[dict], list[str]]:
    """The current documents of the chargers a change names (directly or through their runtime), and the ids of
    those that are gone."""
    ids = set(changes.chargers)
    runtimes = list(changes.runtimes)
    for chunk in _chunks(runtimes):
        marks = ",".join("?" * len(chunk))
        sql = f"SELECT charger_id FROM runtimes WHERE tenant_id = ? AND id IN ({marks})"  # noqa: S608
        ids.update(row[0] for row in await views.read(sql, (tenant_id, *chunk)))
    docs: list[dict] = []
    for chunk in _chunks(sorted(ids)):
        docs += (await views.chargers(tenant_id, 1, len(chunk), keys=chunk)).rows
    found = {doc["id"] for doc in docs}
    return docs, sorted(set(changes.chargers) - found)


async def locations(views: Views, tenant_id: str, ids: set[str]) -> tuple[list[dict], list[str]]:
    docs: list[dict] = []
    for chunk in _chunks(sorted(ids)):
        marks = ",".join("?" * len(chunk))
        sql = f"SELECT doc FROM locations WHERE tenant_id = ? AND id IN ({marks})"  # noqa: S608
        docs += [json.loads(row[0]) for row in await views.read(sql, (tenant_id, *chunk))]
    found = {doc["id"] for doc in docs}
    return docs, sorted(ids - found)


async def commands(views: Views, tenant_id: str, charger_id: str, ids: set[str]) -> list[dict]:
    """The watched charger's commands among `ids`."""
    docs: list[dict] = []
    for chunk in _chunks(sorted(ids)):
        marks = ",".join("?" * len(chunk))
        sql = (
            f"SELECT doc FROM commands WHERE tenant_id = ? AND charger_id = ? AND id IN ({marks}) "  # noqa: S608
            "ORDER BY created_at, id"
        )
        docs += [json.loads(row[0]) for row in await views.read(sql, (tenant_id, charger_id, *chunk))]
    return docs


async def recent_commands(views: Views, tenant_id: str, charger_id: str) -> list[dict]:
    rows = await views.read(
        "SELECT doc FROM commands WHERE tenant_id = ? AND charger_id = ? ORDER BY created_at DESC, id DESC LIMIT ?",
        (tenant_id, charger_id, RECENT_COMMANDS),
    )
    return [json.loads(row[0]) for row in reversed(rows)]


async def frames(views: Views, tenant_id: str, charger_id: str, from_sequence: int | None = None) -> list[dict]:
    """The charger's frames from a sequence number on (resume), or its most recent ones; oldest first."""
    columns = "direction, action, raw, at, message_id, seq"
    if from_sequence is None:
        sql = f"SELECT {columns} FROM frames WHERE charger_id = ? AND tenant_id = ? ORDER BY seq DESC LIMIT ?"  # noqa: S608
        rows = list(reversed(await views.read(sql, (charger_id, tenant_id, RECENT_FRAMES))))
    else:
        sql = (
            f"SELECT {columns} FROM frames WHERE charger_id = ? AND tenant_id = ? AND seq >= ? "  # noqa: S608
            "ORDER BY seq DESC LIMIT ?"
        )
        rows = list(reversed(await views.read(sql, (charger_id, tenant_id, from_sequence, RESUMED_FRAMES))))
    return [
        {
            "direction": r["direction"],
            "action": r["action"] or "",
            "message": r["raw"],
            "timestamp": r["at"],
            "message_id": r["message_id"],
            "sequence": r["seq"],
        }
        for r in rows
    ]


async def meters(views: Views, tenant_id: str, docs: list[dict]) -> list[dict]:
    """The last meter reading of each connector in a transaction (power is only in the frames)."""
    readings: list[dict] = []
    for doc in docs:
        if not any(c.get("transaction_id") for c in doc.get("connectors", [])):
            continue
        rows = await views.read(
            "SELECT raw, at FROM frames WHERE charger_id = ? AND tenant_id = ? AND direction = 'cp_to_csms' "
            "AND action IN ('MeterValues', 'TransactionEvent') ORDER BY seq DESC LIMIT 10",
            (doc["id"], tenant_id),
        )
        for row in rows:
            found = meter_readings(row["raw"])
            if found:
                readings += [{"charger_id": doc["id"], "at": row["at"], **reading} for reading in found]
                break
    return readings


async def snapshot(views: Views, tenant_id: str) -> AsyncIterator[tuple[str, list[dict]]]:
    """Every location and charger of the tenant, in chunks: ("locations" | "chargers", documents)."""
    page = 1
    while True:
        found = await views.locations(tenant_id, page, CHUNK)
        if found.rows:
            yield "locations", found.rows
        if page * CHUNK >= found.total:
            break
        page += 1
    page = 1
    while True:
        found = await views.chargers(tenant_id, page, CHUNK)
        if found.rows:
            yield "chargers", found.rows
        if page * CHUNK >= found.total:
            break
        page += 1


async def changed_since(views: Views, tenant_id: str, position: int, watched: str | None) -> tuple[Changes, int | None]:
    """What the tenant's events after `position` touched (from the auditors' index), and the first frame sequence
    of the watched charger among them."""
    rows = await views.read(
        "SELECT aggregate_id, max(type) AS type, min(version) AS first, max(position) AS last FROM events "
        "WHERE tenant_id = ? AND position > ? GROUP BY aggregate_id",
        (tenant_id, position),
    )
    changes = Changes(position=position)
    frame_log = str(frame_log_id(UUID(watched))) if watched else None
    first_frame = None
    for row in rows:
        kind = row["type"].partition(".")[0]
        changes.position = max(changes.position, row["last"])
        target = {
            "Charger": changes.chargers,
            "ChargerRuntime": changes.runtimes,
            "Location": changes.locations,
            "Command": changes.commands if watched else None,
        }.get(kind)
        if target is not None:
            target.add(row["aggregate_id"])
        elif row["aggregate_id"] == frame_log:
            first_frame = row["first"]
    return changes, first_frame


def _chunks(items: list[Any]) -> list[list[Any]]:
    return [items[start : start + CHUNK] for start in range(0, len(items), CHUNK)]
