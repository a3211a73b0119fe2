"""Read models: projections of the event log into their own SQLite tables (aiosqlite).

One writer connection folds batches of events into rows and advances the tracked position in the same
transaction; one reader connection serves the routes. The views can be dropped and rebuilt from zero at
any time (`replay`), and several processes may share the file: the tracked position is re-read inside the
write transaction, so no event is applied twice.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiosqlite

from adapters.store.projections import (
    CHARGER_PREFIX,
    LOCATION_PREFIX,
    TENANT_TOPIC,
    fold_charger,
    fold_location,
    iso,
)
from application.gateway import Gateway

log = logging.getLogger("ocpplab.views")
SCHEMA = """
CREATE TABLE IF NOT EXISTS tracking (name TEXT PRIMARY KEY, position INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS tenants (org_id TEXT PRIMARY KEY, registered_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS locations (
    id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, name TEXT NOT NULL, created_at TEXT NOT NULL, doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS locations_by_tenant ON locations (tenant_id, created_at, id);
CREATE TABLE IF NOT EXISTS chargers (
    id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, location_id TEXT NOT NULL, identity TEXT NOT NULL,
    created_at TEXT NOT NULL, doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS chargers_by_tenant ON chargers (tenant_id, created_at, id);
CREATE INDEX IF NOT EXISTS chargers_by_location ON chargers (tenant_id, location_id, created_at, id);
CREATE UNIQUE INDEX IF NOT EXISTS chargers_by_identity ON chargers (tenant_id, identity);
"""
VIEW_TABLES = ("tenants", "locations", "chargers")
TRACKING_NAME = "views"
FOLDS: dict[str, tuple[str, Callable[[dict | None, Any], dict | None]]] = {
    LOCATION_PREFIX: ("locations", fold_location),
    CHARGER_PREFIX: ("chargers", fold_charger),
}


@dataclass(frozen=True)
class Page:
    rows: list[dict]
    total: int


class Views:
    """The read side: catches up with the event log and answers the list/get queries."""

    def __init__(self, path: Path, gateway: Gateway, batch_size: int = 500) -> None:
        self.path = path
        self.gateway = gateway
        self.batch_size = batch_size
        self.position = 0
        self.applied = 0  # events read from the log since the last rebuild
        self._writer: aiosqlite.Connection | None = None
        self._reader: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()

    async def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._writer = await aiosqlite.connect(self.path, isolation_level=None)
        await self._writer.execute("PRAGMA journal_mode=WAL")
        await self._writer.execute("PRAGMA synchronous=OFF")  # rebuildable from the event log
        await self._writer.executescript(SCHEMA)
        self._reader = await aiosqlite.connect(self.path, isolation_level=None)
        self._reader.row_factory = aiosqlite.Row
        self.position = await self._tracked(self._writer)

    async def close(self) -> None:
        for connection in (self._writer, self._reader):
            if connection is not None:
                await connection.close()
        self._writer = self._reader = None

    # -- following the log -----------------------------------------------------------------------------

    async def catch_up(self, until: int | None = None) -> int:
        """Applies new events until the views reach `until` (or the end of the log). Returns the position."""
        if until is not None and self.position >= until:
            return self.position
        async with self._lock:
            while until is None or self.position < until:
                if not await self._apply_next_batch():
                    break
        return self.position

    async def follow(self, interval: float = 0.25) -> None:
        """Keeps the views current with events written by other processes."""
        while True:
            try:
                await self.catch_up()
            except Exception:
                log.warning("the read models could not catch up with the event log; retrying", exc_info=True)
            await asyncio.sleep(interval)

    async def rebuild(self, progress: Callable[[int, int], None] | None = None) -> tuple[int, float]:
        """Drops every view and rebuilds it from the first event. Returns (events applied, seconds)."""
        assert self._writer is not None
        async with self._lock:
            await self._writer.execute("BEGIN IMMEDIATE")
            for table in VIEW_TABLES:
                await self._writer.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed table names
            await self._writer.execute("DELETE FROM tracking")
            await self._writer.execute("COMMIT")
            self.position = 0
            end = await asyncio.to_thread(self.gateway.position)
            started = time.perf_counter()
            self.applied = 0
            while self.position < end and await self._apply_next_batch():
                if progress:
                    progress(self.position, end)
            return self.applied, time.perf_counter() - started

    async def _apply_next_batch(self) -> bool:
        """One transaction: re-read the position, fold the next batch of events, advance the position."""
        db = self._writer
        assert db is not None
        await db.execute("BEGIN IMMEDIATE")
        open_transaction = True
        try:
            position = await self._tracked(db)
            notifications, events = await asyncio.to_thread(self._read_batch, position)
            if notifications:
                await self._fold(db, events)
                await db.execute(
                    "INSERT INTO tracking (name, position) VALUES (?, ?) "
                    "ON CONFLICT(name) DO UPDATE SET position = excluded.position",
                    (TRACKING_NAME, notifications[-1].id),
                )
                position = notifications[-1].id
                self.applied += len(notifications)
            # The connection's thread runs a queued COMMIT/ROLLBACK even if this task is cancelled meanwhile:
            # never queue a second one behind it.
            open_transaction = False
            await db.execute("COMMIT" if notifications else "ROLLBACK")
        except BaseException:
            if open_transaction:
                await db.execute("ROLLBACK")
            raise
        self.position = position
        return bool(notifications)

    def _read_batch(self, position: int) -> tuple[Sequence[Any], list[tuple[str, Any]]]:
        """Reads the next notifications and decodes only those a view folds (runs in a worker thread)."""
        notifications = self.gateway.recorder.select_notifications(
            start=position, limit=self.batch_size, inclusive_of_start=False
        )
        to_event = self.gateway.mapper.to_domain_event
        events = [
            (n.topic, to_event(n))
            for n in notifications
            if n.topic == TENANT_TOPIC or n.topic.startswith((LOCATION_PREFIX, CHARGER_PREFIX))
        ]
        return notifications, events

    async def _fold(self, db: aiosqlite.Connection, events: list[tuple[str, Any]]) -> None:
        tenants: list[tuple[str, str]] = []
        by_table: dict[str, list[Any]] = {"locations": [], "chargers": []}
        folds: dict[str, Callable[[dict | None, Any], dict | None]] = {}
        for topic, event in events:
            if topic == TENANT_TOPIC:
                tenants.append((event.org_id, iso(event.timestamp)))
                continue
            for prefix, (table, fold) in FOLDS.items():
                if topic.startswith(prefix):
                    by_table[table].append(event)
                    folds[table] = fold
        if tenants:
            await db.executemany("INSERT OR IGNORE INTO tenants (org_id, registered_at) VALUES (?, ?)", tenants)
        for table, table_events in by_table.items():
            if table_events:
                await self._fold_rows(db, table, folds[table], table_events)

    async def _fold_rows(
        self, db: aiosqlite.Connection, table: str, fold: Callable[[dict | None, Any], dict | None], events: list
    ) -> None:
        ids = list(dict.fromkeys(str(e.originator_id) for e in events))
        docs: dict[str, dict | None] = {}
        tenant_of: dict[str, str] = {}
        for chunk in _chunks(ids, 500):
            marks = ",".join("?" * len(chunk))
            sql = f"SELECT id, tenant_id, doc FROM {table} WHERE id IN ({marks})"  # noqa: S608
            for row_id, tenant_id, doc in await db.execute_fetchall(sql, chunk):
                docs[row_id] = json.loads(doc)
                tenant_of[row_id] = tenant_id
        for event in events:
            key = str(event.originator_id)
            if hasattr(event, "tenant_id"):
                tenant_of[key] = event.tenant_id
            docs[key] = fold(docs.get(key), event)
        upserts = [(key, tenant_of[key], doc) for key, doc in docs.items() if doc is not None]
        deletes = [(key,) for key, doc in docs.items() if doc is None]
        if deletes:
            await db.executemany(f"DELETE FROM {table} WHERE id = ?", deletes)  # noqa: S608
        if not upserts:
            return
        if table == "locations":
            await db.executemany(
                "INSERT OR REPLACE INTO locations (id, tenant_id, name, created_at, doc) VALUES (?, ?, ?, ?, ?)",
                [(k, t, d["name"], d["created_at"], json.dumps(d)) for k, t, d in upserts],
            )
        else:
            await db.executemany(
                "INSERT OR REPLACE INTO chargers (id, tenant_id, location_id, identity, created_at, doc) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [(k, t, d["location_id"], d["identity"], d["created_at"], json.dumps(d)) for k, t, d in upserts],
            )

    @staticmethod
    async def _tracked(db: aiosqlite.Connection) -> int:
        rows = list(await db.execute_fetchall("SELECT position FROM tracking WHERE name = ?", (TRACKING_NAME,)))
        return rows[0][0] if rows else 0

    # -- queries ---------------------------------------------------------------------------------------

    async def tenants(self) -> list[dict]:
        rows = await self._all("SELECT org_id, registered_at FROM tenants ORDER BY registered_at, org_id", ())
        return [{"id": r["org_id"], "registered_at": r["registered_at"]} for r in rows]

    async def locations(self, tenant_id: str, page: int, limit: int) -> Page:
        return await self._page("locations", "tenant_id = ?", (tenant_id,), page, limit)

    async def location(self, tenant_id: str, location_id: str) -> dict | None:
        return await self._doc("locations", "tenant_id = ? AND id = ?", (tenant_id, location_id))

    async def location_ids_named(self, tenant_id: str, name: str) -> list[str]:
        rows = await self._all("SELECT id FROM locations WHERE tenant_id = ? AND name = ?", (tenant_id, name))
        return [r["id"] for r in rows]

    async def chargers(
        self,
        tenant_id: str,
        page: int,
        limit: int,
        location_id: str | None = None,
        keys: Iterable[str] | None = None,
    ) -> Page:
        """Chargers of a tenant, optionally of one location and/or matching ids or identities."""
        where, params = "tenant_id = ?", [tenant_id]
        if location_id is not None:
            where += " AND location_id = ?"
            params.append(location_id)
        if keys is not None:
            keys = list(keys)
            marks = ",".join("?" * len(keys))
            where += f" AND (id IN ({marks}) OR identity IN ({marks}))"
            params += keys + keys
        return await self._page("chargers", where, tuple(params), page, limit)

    async def charger(self, tenant_id: str, key: str) -> dict | None:
        """A charger by id, or else by identity (routes accept either)."""
        doc = await self._doc("chargers", "tenant_id = ? AND id = ?", (tenant_id, key))
        return doc or await self._doc("chargers", "tenant_id = ? AND identity = ?", (tenant_id, key))

    async def _page(self, table: str, where: str, params: tuple, page: int, limit: int) -> Page:
        total = (await self._all(f"SELECT count(*) FROM {table} WHERE {where}", params))[0][0]  # noqa: S608
        rows = await self._all(
            f"SELECT doc FROM {table} WHERE {where} ORDER BY created_at, id LIMIT ? OFFSET ?",  # noqa: S608
            (*params, limit, (page - 1) * limit),
        )
        return Page([json.loads(r["doc"]) for r in rows], total)

    async def _doc(self, table: str, where: str, params: tuple) -> dict | None:
        rows = await self._all(f"SELECT doc FROM {table} WHERE {where}", params)  # noqa: S608
        return json.loads(rows[0]["doc"]) if rows else None

    async def _all(self, sql: str, params: tuple) -> list[aiosqlite.Row]:
        """Runs and exhausts a statement in one hop to the connection's thread.

        Requests share the reader connection: a statement left open while another runs would pin an old
        snapshot (WAL), and a read right after a write could miss it. One hop per statement prevents that.
        """
        assert self._reader is not None
        return list(await self._reader.execute_fetchall(sql, params))


def _chunks(items: list, size: int) -> Iterable[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
