"""The audit trail: the event log, a resource's history, and its state as of a moment."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import Field

from adapters.http.models.common import Request, Response, UtcDateTime


class EventQuery(Request):
    after: int = Field(default=0, ge=0, le=2**62, description="position, exclusive")
    limit: int = Field(default=100, ge=1, le=1000)
    type: list[Annotated[str, Field(max_length=100)]] | None = Field(default=None, max_length=50)
    aggregate_id: Annotated[str, Field(max_length=100)] | None = None
    since: UtcDateTime | None = None
    until: UtcDateTime | None = None


class AsOfQuery(Request):
    as_of: UtcDateTime | None = Field(default=None, description="extension: the state at that moment (ISO-8601)")


class EventActor(Response):
    sub: str | None = None
    role: str | None = None


class EventRecord(Response):
    position: int
    id: str
    type: str
    aggregate_type: str
    aggregate_id: str
    version: int
    timestamp: datetime
    tenant_id: str
    actor: EventActor
    request_id: str | None = None
    data: dict[str, Any]


class EventPage(Response):
    data: list[EventRecord]
    next_after: int | None = None
