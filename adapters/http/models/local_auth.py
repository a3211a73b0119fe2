"""A charger's local authorization: the local authorization list and the authorization cache."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from adapters.http.models.commands import IdTag
from adapters.http.models.common import Request, Response, UtcDateTime

MAX_INT = 2**31 - 1


class LocalAuthListEntry(Request):
    id_tag: IdTag
    expiry_date: UtcDateTime | None = None
    parent_id_tag: IdTag | None = None


class SendLocalListRequest(Request):
    list_version: int = Field(ge=1, le=MAX_INT)
    entries: list[LocalAuthListEntry] = Field(max_length=10_000)


class CacheResetResponse(Response):
    msg: str
    cleared_entries: int
    command_id: str | None = Field(default=None, description="extension: the command record")


class LocalAuthListEntryResponse(Response):
    id_tag: str
    expiry_date: datetime | None = None
    parent_id_tag: str | None = None


class LocalAuthorizationListResponse(Response):
    data: list[LocalAuthListEntryResponse]
    total: int
    page: int
    limit: int
    list_version: int | None = Field(default=None, description="extension")


class LocalListMutationResponse(Response):
    status: str | None = None
    list_version: int | None = None
    entries_received: int | None = None
    msg: str | None = None
    entries_deleted: int | None = None
    command_id: str | None = Field(default=None, description="extension: the command record")
