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
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import aiosqlite

from adapters.store.projections import (
    CHARGER_PREFIX,
    COMMAND_PREFIX,
    FRAME_TOPIC,
    LOCATION_PREFIX,
    RUNTIME_PREFIX,
    TENANT_TOPIC,
    audit_record,
    fold_charger,
    fold_command,
    fold_location,
    fold_runtime,
    iso,
    present_charger,
)
from application.gateway import Gateway
from application.waiting import wait_event

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
CREATE TABLE IF NOT EXISTS runtimes (
    id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, charger_id TEXT NOT NULL, doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS runtimes_by_charger ON runtimes (charger_id);
CREATE TABLE IF NOT EXISTS commands (
    id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, charger_id TEXT NOT NULL, created_at TEXT NOT NULL,
    doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS commands_by_charger ON commands (tenant_id, charger_id, created_at, id);
CREATE TABLE IF NOT EXISTS frames (
    charger_id TEXT NOT NULL, seq INTEGER NOT NULL, tenant_id TEXT NOT NULL, at TEXT NOT NULL,
    direction TEXT NOT NULL, action TEXT, message_id TEXT, raw TEXT NOT NULL, PRIMARY KEY (charger_id, seq)
);
CREATE INDEX IF NOT EXISTS frames_by_time ON frames (charger_id, at, seq);
CREATE TABLE IF NOT EXISTS events (
    position INTEGER PRIMARY KEY, tenant_id TEXT NOT NULL, type TEXT NOT NULL, aggregate_id TEXT NOT NULL,
    version INTEGER NOT NULL, timestamp TEXT NOT NULL, actor_sub TEXT, actor_role TEXT, request_id TEXT,
    state BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_tenant ON events (tenant_id, position);
CREATE INDEX IF NOT EXISTS events_by_aggregate ON events (tenant_id, aggregate_id, position);
CREATE INDEX IF NOT EXISTS events_by_type ON events (tenant_id, type, position);
"""
VIEW_TABLES = ("tenants", "locations", "chargers", "runtimes", "commands", "frames", "events")
TRACKING_NAME = "views"


@dataclass(frozen=True)
class TableFold:
    """A view table folded from one aggregate's events: a row per aggregate, some doc keys as columns."""

    table: str
    prefix: str
    fold: Callable[[dict | None, Any], dict | None]
    columns: tuple[str, ...]


TABLE_FOLDS = (
    TableFold("locations", LOCATION_PREFIX, fold_location, ("name", "created_at")),
    TableFold("chargers", CHARGER_PREFIX, fold_charger, ("location_id", "identity", "created_at")),
    TableFold("runtimes", RUNTIME_PREFIX, fold_runtime, ("charger_id",)),
    TableFold("commands", COMMAND_PREFIX, fold_command, ("charger_id", "created_at")),
)
FOLDED_PREFIXES = tuple(t.prefix for t in TABLE_FOLDS)
CHARGER_SELECT = (
    "SELECT c.doc AS doc, r.doc AS runtime, "
    "(SELECT max(f.at) FROM frames f WHERE f.charger_id = c.id) AS last_frame_at "
    "FROM chargers c LEFT JOIN runtimes r ON r.charger_id = c.id"
)


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
        self._woken = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.batch_listeners: list[Callable[[list[tuple[str, Any, Any]]], None]] = []  # the live stream's feed

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
        """Keeps the views current: woken by in-process saves (`wake`), polling for other processes' events."""
        self._loop = asyncio.get_running_loop()
        while True:
            try:
                await self.catch_up()
            except Exception:
                log.warning("the read models could not catch up with the event log; retrying", exc_info=True)
            await wait_event(self._woken, interval)
            self._woken.clear()

    def wake(self, position: int | None = None) -> None:
        """Thread-safe: something was saved in this process."""
        loop = self._loop
        if loop is not None and not loop.is_closed() and position is not None and position > self.position:
            loop.call_soon_threadsafe(self._woken.set)

    async def rebuild(
        self, progress: Callable[[int, int], None] | None = None, until: int | None = None
    ) -> tuple[int, float]:
        """Drops every view and rebuilds it from the first event (up to `until`). Returns (events read, seconds)."""
        assert self._writer is not None
        async with self._lock:
            await self._writer.execute("BEGIN IMMEDIATE")
            for table in VIEW_TABLES:
                await self._writer.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed table names
            await self._writer.execute("DELETE FROM tracking")
            await self._writer.execute("COMMIT")
            self.position = 0
            end = until if until is not None else await asyncio.to_thread(self.gateway.position)
            started = time.perf_counter()
            self.applied = 0
            # Read (and decode) the next batch while this one is written: the two overlap in their threads.
            reading = asyncio.ensure_future(asyncio.to_thread(self._read_batch, 0, end))
            while self.position < end:
                batch = await reading
                if not batch[0]:
                    break
                if batch[0][-1].id < end:
                    reading = asyncio.ensure_future(asyncio.to_thread(self._read_batch, batch[0][-1].id, end))
                await self._apply_next_batch(stop=end, read=batch)
                if progress:
                    progress(self.position, end)
            return self.applied, time.perf_counter() - started

    async def _apply_next_batch(self, stop: int | None = None, read: tuple | None = None) -> bool:
        """One transaction: re-read the position, fold the next batch of events, advance the position.

        `read` is a batch already read from the position this transaction finds (the rebuild's prefetch)."""
        db = self._writer
        assert db is not None
        await db.execute("BEGIN IMMEDIATE")
        open_transaction = True
        events: list[tuple[str, Any, Any]] = []
        try:
            position = await self._tracked(db)
            if read is not None and (not read[0] or read[0][0].id > position):
                notifications, events = read
            else:
                notifications, events = await asyncio.to_thread(self._read_batch, position, stop)
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
        for listener in self.batch_listeners:  # after the commit: what listeners read back is there
            listener(events)
        return bool(notifications)

    def _read_batch(self, position: int, stop: int | None = None) -> tuple[Sequence[Any], list[tuple[str, Any, Any]]]:
        """Reads and decodes the next notifications (runs in a worker thread)."""
        notifications = self.gateway.recorder.select_notifications(
            start=position, limit=self.batch_size, stop=stop, inclusive_of_start=False
        )
        to_event = self.gateway.mapper.to_domain_event
        return notifications, [
            (n.topic, _frame(n) if n.topic == FRAME_TOPIC else to_event(n), n) for n in notifications
        ]

    async def _fold(self, db: aiosqlite.Connection, events: list[tuple[str, Any, dict]]) -> None:
        tenants: list[tuple[str, str]] = []
        frames: list[tuple] = []
        records: list[tuple] = []
        by_table: dict[TableFold, list[Any]] = {}
        keys: dict[UUID, str] = {}  # str() of each stream's id, once per batch (a stream has many events)
        for topic, event, notification in events:
            meta = getattr(event, "meta", None)
            at = event.at if topic == FRAME_TOPIC else iso(event.timestamp)
            if meta and meta.get("tenant_id"):  # the auditors' index: the stored state as it is, decoded on read
                actor = meta.get("actor") or {}
                records.append(
                    (
                        notification.id,
                        meta["tenant_id"],
                        topic.rpartition(":")[2],  # the event class's qualified name
                        keys.get(event.originator_id) or keys.setdefault(event.originator_id, str(event.originator_id)),
                        event.originator_version,
                        at,
                        actor.get("sub"),
                        actor.get("role"),
                        meta.get("request_id") or None,
                        notification.state,
                    )
                )
            if topic == FRAME_TOPIC:
                frames.append(
                    (
                        event.charger_key,
                        event.originator_version,
                        event.meta["tenant_id"],
                        at,
                        event.direction,
                        event.action,
                        event.message_id,
                        event.raw,
                    )
                )
            elif topic == TENANT_TOPIC:
                tenants.append((event.org_id, iso(event.timestamp)))
            elif topic.startswith(FOLDED_PREFIXES):
                table = next(t for t in TABLE_FOLDS if topic.startswith(t.prefix))
                by_table.setdefault(table, []).append(event)
        if records:
            await db.executemany(
                "INSERT OR IGNORE INTO events (position, tenant_id, type, aggregate_id, version, timestamp, "
                "actor_sub, actor_role, request_id, state) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                records,
            )
        if tenants:
            await db.executemany("INSERT OR IGNORE INTO tenants (org_id, registered_at) VALUES (?, ?)", tenants)
        if frames:
            await db.executemany(
                "INSERT OR IGNORE INTO frames (charger_id, seq, tenant_id, at, direction, action, message_id, raw) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                frames,
            )
        for table, table_events in by_table.items():
            await self._fold_rows(db, table, table_events)

    async def _fold_rows(self, db: aiosqlite.Connection, table: TableFold, events: list) -> None:
        """Loads the rows the events touch, folds the events over them, writes them back in two statements."""
        ids = list(dict.fromkeys(str(e.originator_id) for e in events))
        docs: dict[str, dict | None] = {}
        tenant_of: dict[str, str] = {}
        for chunk in _chunks(ids, 500):
            marks = ",".join("?" * len(chunk))
            sql = f"SELECT id, tenant_id, doc FROM {table.table} WHERE id IN ({marks})"  # noqa: S608
            for row_id, tenant_id, doc in await db.execute_fetchall(sql, chunk):
                docs[row_id] = json.loads(doc)
                tenant_of[row_id] = tenant_id
        for event in events:
            key = str(event.originator_id)
            if hasattr(event, "tenant_id"):
                tenant_of[key] = event.tenant_id
            docs[key] = table.fold(docs.get(key), event)
        deletes = [(key,) for key, doc in docs.items() if doc is None]
        if deletes:
            await db.executemany(f"DELETE FROM {table.table} WHERE id = ?", deletes)  # noqa: S608
        upserts = [
            (key, tenant_of[key], *(doc[c] for c in table.columns), json.dumps(doc))
            for key, doc in docs.items()
            if doc is not None
        ]
        if upserts:
            columns = ", ".join(("id", "tenant_id", *table.columns, "doc"))
            marks = ", ".join("?" * (len(table.columns) + 3))
            await db.executemany(f"INSERT OR REPLACE INTO {table.table} ({columns}) VALUES ({marks})", upserts)  # noqa: S608

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
        """Chargers of a tenant (with their runtime state), optionally of one location and/or by ids or identities."""
        where, params = "c.tenant_id = ?", [tenant_id]
        if location_id is not None:
            where += " AND c.location_id = ?"
            params.append(location_id)
        if keys is not None:
            keys = list(keys)
            marks = ",".join("?" * len(keys))
            where += f" AND (c.id IN ({marks}) OR c.identity IN ({marks}))"
            params += keys + keys
        total = (await self._all(f"SELECT count(*) FROM chargers c WHERE {where}", tuple(params)))[0][0]  # noqa: S608
        rows = await self._all(
            f"{CHARGER_SELECT} WHERE {where} ORDER BY c.created_at, c.id LIMIT ? OFFSET ?",
            (*params, limit, (page - 1) * limit),
        )
        return Page([_with_runtime(row) for row in rows], total)

    async def charger(self, tenant_id: str, key: str) -> dict | None:
        """A charger by id, or else by identity (routes accept either), with its runtime state."""
        for column in ("id", "identity"):
            rows = await self._all(f"{CHARGER_SELECT} WHERE c.tenant_id = ? AND c.{column} = ?", (tenant_id, key))
            if rows:
                return _with_runtime(rows[0])
        return None

    async def logs(
        self,
        tenant_id: str,
        charger_id: str,
        start: str | None,
        end: str | None,
        action: str | None,
        limit: int,
        offset: int,
    ) -> Page:
        """A charger's frames, ascending by time, filtered by time range (inclusive) and action."""
        where, params = "charger_id = ? AND tenant_id = ?", [charger_id, tenant_id]
        for clause, value in (("at >= ?", start), ("at <= ?", end), ("action = ?", action)):
            if value is not None:
                where += f" AND {clause}"
                params.append(value)
        total = (await self._all(f"SELECT count(*) FROM frames WHERE {where}", tuple(params)))[0][0]  # noqa: S608
        rows = await self._all(
            f"SELECT direction, action, raw, at, message_id, seq FROM frames WHERE {where} "  # noqa: S608
            "ORDER BY at, seq LIMIT ? OFFSET ?",
            (*params, limit, offset),
        )
        entries = [
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
        return Page(entries, total)

    async def events(
        self,
        tenant_id: str,
        after: int,
        limit: int,
        types: list[str] | None = None,
        aggregate_id: str | None = None,
        since: str | None = None,
        until: str | None = None,
    ) -> list[dict]:
        """A tenant's events in log order after a position, optionally of some types, one aggregate, a time span."""
        where, params = "tenant_id = ? AND position > ?", [tenant_id, after]
        if types:
            where += f" AND type IN ({','.join('?' * len(types))})"
            params += types
        for clause, value in (("aggregate_id = ?", aggregate_id), ("timestamp >= ?", since), ("timestamp <= ?", until)):
            if value is not None:
                where += f" AND {clause}"
                params.append(value)
        sql = f"SELECT * FROM events WHERE {where} ORDER BY position LIMIT ?"  # noqa: S608 - bound values
        rows = await self._all(sql, (*params, limit))
        return [self._record(row) for row in rows]

    def _record(self, row: aiosqlite.Row) -> dict[str, Any]:
        """An index row as auditors read it, its data decoded from the stored state."""
        state = self.gateway.mapper.transcoder.decode(bytes(row["state"]))
        return audit_record(
            row["position"],
            row["type"],
            row["aggregate_id"],
            row["version"],
            row["timestamp"],
            row["tenant_id"],
            row["actor_sub"],
            row["actor_role"],
            row["request_id"],
            state,
        )

    async def command(self, tenant_id: str, command_id: str) -> dict | None:
        return await self._doc("commands", "tenant_id = ? AND id = ?", (tenant_id, command_id))

    async def commands(self, tenant_id: str, charger_id: str, page: int, limit: int) -> Page:
        return await self._page("commands", "tenant_id = ? AND charger_id = ?", (tenant_id, charger_id), page, limit)

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

    async def read(self, sql: str, params: tuple) -> list[aiosqlite.Row]:
        """A read-only statement for the read-side modules beside this one (the live stream's queries)."""
        return await self._all(sql, params)

    async def _all(self, sql: str, params: tuple) -> list[aiosqlite.Row]:
        """Runs and exhausts a statement in one hop to the connection's thread.

        Requests share the reader connection: a statement left open while another runs would pin an old
        snapshot (WAL), and a read right after a write could miss it. One hop per statement prevents that.
        """
        assert self._reader is not None
        return list(await self._reader.execute_fetchall(sql, params))


@dataclass(frozen=True)
class _Frame:
    """A frame event read straight from its stored JSON: frames are most of a log, and decoding them through the
    library's transcoder (a Python hook per object) would dominate replay. Ids and times stay text."""

    originator_id: UUID
    originator_version: int
    at: str  # iso()
    charger_key: str  # str(charger_id)
    direction: str
    action: str | None
    message_id: str | None
    raw: str
    meta: dict


def _frame(notification: Any) -> Any:
    stored = notification.state
    state = json.loads(stored.decode() if isinstance(stored, (bytes, bytearray)) else stored)
    stamp = state["timestamp"]["_data_"]
    at = stamp[:-6] + "Z" if len(stamp) == 32 and stamp.endswith("+00:00") else iso(datetime.fromisoformat(stamp))
    hex_id = state["charger_id"]["_data_"]
    charger_key = (
        f"{hex_id[:8]}-{hex_id[8:12]}-{hex_id[12:16]}-{hex_id[16:20]}-{hex_id[20:]}"
        if len(hex_id) == 32
        else str(UUID(hex_id))
    )
    return _Frame(
        originator_id=notification.originator_id,
        originator_version=notification.originator_version,
        at=at,
        charger_key=charger_key,
        direction=state["direction"],
        action=state["action"],
        message_id=state["message_id"],
        raw=state["raw"],
        meta=state.get("meta") or {},
    )


def _with_runtime(row: aiosqlite.Row) -> dict:
    """A charger's document with what the simulator observed of it."""
    doc = json.loads(row["doc"])
    runtime = json.loads(row["runtime"]) if row["runtime"] else {}
    connectors = sorted(runtime.get("connectors", {}).values(), key=lambda c: (c["evse_id"], c["connector_id"]))
    not_yet = "connecting" if doc.get("desired_state") == "running" else "stopped"  # the simulator has not run it yet
    doc.update(
        runtime_status=runtime.get("runtime_status", not_yet),
        connected_at=runtime.get("connected_at"),
        last_frame_at=row["last_frame_at"],
        heartbeat_interval=runtime.get("heartbeat_interval"),
        connectors=connectors,
        runtime_error=runtime.get("runtime_error"),
    )
    return present_charger(doc)


def _chunks(items: list, size: int) -> Iterable[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
