"""A charger's OCPP frame log."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field

from adapters.http.models.common import Request, Response, UtcDateTime


class LogQuery(Request):
    start_date: UtcDateTime | None = None
    end_date: UtcDateTime | None = None
    event: Annotated[str, Field(max_length=100)] | None = None
    limit: int = Field(default=100, ge=1, le=1000)
    offset: int = Field(default=0, ge=0, le=10**12)


class ChargerLogEntry(Response):
    direction: str
    action: str
    message: str | None = None
    timestamp: datetime | None = None


class ChargerLogListResponse(Response):
    data: list[ChargerLogEntry]
    total: int
    limit: int
    offset: int
