"""Use cases of the auditors: every event of one of the tenant's aggregates."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from application.base import GatewayBase
from application.ports import Actor
from domain.errors import NotFound


class HistoryUseCases(GatewayBase):
    """Reads an aggregate's whole stream, deleted or not; other tenants' aggregates do not exist."""

    def history(self, actor: Actor, aggregate_id: UUID, kind: type[Aggregate]) -> list[Any]:
        """Every event of one of the tenant's aggregates, deleted or not, in order (for auditors and `as_of`)."""
        events = list(self.events.get(aggregate_id))
        created = events[0] if events else None
        if created is None or getattr(created, "tenant_id", None) != actor.tenant_id:
            raise NotFound(kind.__name__.lower(), aggregate_id)
        if not created.originator_topic.endswith(f":{kind.__name__}"):
            raise NotFound(kind.__name__.lower(), aggregate_id)
        return events
