"""The eventsourcing Application the use cases share: its ports, and saving and loading with tenant checks.

Each use-case module defines a mixin that subclasses `GatewayBase`; `application/gateway.py` composes them.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, JSONTranscoder, Transcoding

from application.ports import Actor, Catalog, SecretBox
from domain.errors import Contended, NotFound

A = TypeVar("A", bound=Aggregate)
R = TypeVar("R")
SAVE_ATTEMPTS = 12


class SetAsList(Transcoding):
    """Lets snapshots carry sets (a location's charger ids)."""

    type = set
    name = "set"

    def encode(self, obj: set) -> list:
        return sorted(obj, key=str)

    def decode(self, data: list) -> set:
        return set(data)


class GatewayBase(Application[UUID]):
    """What every use case reaches for: the ports, loading with tenant checks, saving with causes and retries."""

    def __init__(self, catalog: Catalog, env: dict[str, str] | None = None, secrets: SecretBox | None = None) -> None:
        super().__init__(env=env)
        self.catalog = catalog
        self.secrets = secrets
        self._known_tenants: set[str] = set()
        self.saved_listeners: list[Callable[[int], None]] = []

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(SetAsList())

    def position(self) -> int:
        """The position of the newest event in the log (0 when the log is empty)."""
        return self.recorder.max_notification_id() or 0

    def _owned(self, cls: type[A], actor: Actor, aggregate_id: UUID, kind: str) -> A:
        """The live aggregate of the actor's tenant; other tenants' and deleted ones do not exist."""
        aggregate = self._get_or_none(cls, aggregate_id)
        if aggregate is None or aggregate.tenant_id != actor.tenant_id or aggregate.deleted:
            raise NotFound(kind, aggregate_id)
        return aggregate

    def _get_or_none(self, cls: type[A], aggregate_id: UUID) -> A | None:
        try:
            aggregate = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None
        return aggregate if isinstance(aggregate, cls) else None

    def _save(self, actor: Actor, *aggregates: Aggregate) -> int:
        """Saves the aggregates atomically; every event records its cause. Returns the last position."""
        metadata = actor.metadata()
        for aggregate in aggregates:
            for pending in aggregate.pending_events:
                object.__setattr__(pending, "meta", metadata)
        recordings = self.save(*aggregates)
        position = recordings[-1].notification.id if recordings else self.position()
        self.notify_saved(position)
        return position

    def notify_saved(self, position: int) -> None:
        """Tells in-process followers (simulator, views) that the log grew, so they need not wait for a poll."""
        for listener in self.saved_listeners:
            listener(position)

    @staticmethod
    def _retrying(decide: Callable[[], R]) -> R:
        """Runs load-decide-save again when another writer got there first (optimistic concurrency)."""
        for attempt in range(SAVE_ATTEMPTS):
            try:
                return decide()
            except IntegrityError:
                time.sleep(random.uniform(0, min(0.05, 0.002 * 2**attempt)))  # writers in step: spread them out
        raise Contended("too many concurrent changes to the same resource: retry")
