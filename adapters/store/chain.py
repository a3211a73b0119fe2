"""Tamper evidence: every stored event is linked into a keyed hash chain in the same transaction that stores it.

The recorders below extend eventsourcing's SQLite and PostgreSQL application recorders: right after the
events of a transaction get their positions in the notification log (under the store's write lock, so
positions and links follow one order), each event's link is HMAC-SHA256(key, previous link | position |
aggregate id | version | topic | state) and goes into a `<events table>_chain` table. Changing, deleting
or reordering any stored event, or any link, breaks the chain for `verify`; without the key nobody can
forge new links.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder
from psycopg.sql import SQL, Identifier

GENESIS = "0" * 64


def link(key: bytes, previous: str, position: int, aggregate: str, version: int, topic: str, state: bytes) -> str:
    """The chain link of one stored event. The fields before the state are a JSON array (self-delimiting), so
    no bytes can move from one field to another without changing the link. `aggregate` is the stored id's text
    (32 hex digits)."""
    digest = hmac.new(key, digestmod=hashlib.sha256)
    digest.update(json.dumps([previous, position, aggregate, version, topic]).encode())
    digest.update(state)
    return digest.hexdigest()


def stored_id(originator_id: UUID | str) -> str:
    return originator_id.hex if isinstance(originator_id, UUID) else str(originator_id)


class ChainedSQLiteRecorder(SQLiteApplicationRecorder):
    chain_key: bytes = b""

    @property
    def chain_table(self) -> str:
        return f"{self.events_table_name}_chain"

    def construct_create_table_statements(self) -> list[str]:
        return [
            *super().construct_create_table_statements(),
            f"CREATE TABLE IF NOT EXISTS {self.chain_table} (position INTEGER PRIMARY KEY, link TEXT NOT NULL)",
        ]

    def _insert_events(self, c: Any, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        positions = super()._insert_events(c, stored_events, **kwargs)
        if positions:
            c.execute(f"SELECT link FROM {self.chain_table} ORDER BY position DESC LIMIT 1")  # noqa: S608
            row = c.fetchone()
            rows = _links(self.chain_key, row[0] if row else GENESIS, positions, stored_events)
            c.executemany(f"INSERT INTO {self.chain_table} (position, link) VALUES (?, ?)", rows)  # noqa: S608
        return positions

    def raw_events(self, after: int, limit: int) -> list[tuple]:
        """(position, stored id text, version, topic, state) exactly as stored, for `verify`."""
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                f"SELECT rowid, originator_id, originator_version, topic, state FROM {self.events_table_name} "  # noqa: S608
                "WHERE rowid > ? ORDER BY rowid LIMIT ?",
                (after, limit),
            )
            return [tuple(row) for row in c.fetchall()]

    def chain_links(self, start: int, stop: int) -> dict[int, str]:
        """The links of positions start..stop (inclusive)."""
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                f"SELECT position, link FROM {self.chain_table} WHERE position >= ? AND position <= ?",  # noqa: S608
                (start, stop),
            )
            return {row[0]: row[1] for row in c.fetchall()}

    def chain_end(self) -> tuple[int, int]:
        """(number of links, highest linked position)."""
        with self.datastore.transaction(commit=False) as c:
            c.execute(f"SELECT count(*), coalesce(max(position), 0) FROM {self.chain_table}")  # noqa: S608
            row = c.fetchone()
            return row[0], row[1]


class ChainedPostgresRecorder(PostgresApplicationRecorder):
    chain_key: bytes = b""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.chain_table = f"{self.events_table_name}_chain"
        table = (Identifier(self.datastore.schema), Identifier(self.chain_table))
        self.sql_create_statements.append(
            SQL("CREATE TABLE IF NOT EXISTS {}.{} (position bigint PRIMARY KEY, link text NOT NULL)").format(*table)
        )
        self._last_link = SQL("SELECT link FROM {}.{} ORDER BY position DESC LIMIT 1").format(*table)
        self._insert_link = SQL("INSERT INTO {}.{} (position, link) VALUES (%s, %s)").format(*table)
        self._select_links = SQL("SELECT position, link FROM {}.{} WHERE position >= %s AND position <= %s").format(
            *table
        )
        self._chain_end = SQL("SELECT count(*) AS n, coalesce(max(position), 0) AS top FROM {}.{}").format(*table)
        self._raw_events = SQL(
            "SELECT notification_id, originator_id, originator_version, topic, state FROM {}.{} "
            "WHERE notification_id > %s ORDER BY notification_id LIMIT %s"
        ).format(Identifier(self.datastore.schema), Identifier(self.events_table_name))

    def _fetch_ids_after_insert_events(
        self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        positions = super()._fetch_ids_after_insert_events(curs, stored_events, **kwargs)
        if positions:  # the events table is locked (EXCLUSIVE) by this transaction: one order for all writers
            curs.execute(self._last_link)
            row = curs.fetchone()
            rows = _links(self.chain_key, row["link"] if row else GENESIS, positions, stored_events)
            curs.executemany(self._insert_link, rows)
        return positions

    def raw_events(self, after: int, limit: int) -> list[tuple]:
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(self._raw_events, (after, limit))
            return [
                (r["notification_id"], stored_id(r["originator_id"]), r["originator_version"], r["topic"], r["state"])
                for r in curs.fetchall()
            ]

    def chain_links(self, start: int, stop: int) -> dict[int, str]:
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(self._select_links, (start, stop))
            return {row["position"]: row["link"] for row in curs.fetchall()}

    def chain_end(self) -> tuple[int, int]:
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(self._chain_end)
            row = curs.fetchone()
            return row["n"], row["top"]


def _links(key: bytes, previous: str, positions: Sequence[int], events: Sequence[StoredEvent]) -> list[tuple]:
    rows = []
    for position, event in zip(positions, events, strict=True):
        previous = link(
            key,
            previous,
            position,
            stored_id(event.originator_id),
            event.originator_version,
            event.topic,
            bytes(event.state),
        )
        rows.append((position, previous))
    return rows
