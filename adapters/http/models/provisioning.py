"""A location's chargers in bulk: create, update, delete and list many at once (partial success)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from adapters.http.models.chargers import ChargerResponse, CreateChargerRequest, UpdateChargerRequest
from adapters.http.models.common import MAX_BULK, PageQuery, Request, Response


class UpdateLocationChargerItem(UpdateChargerRequest):
    charger_id: Annotated[str, Field(min_length=1, max_length=100)]


class CreateLocationChargersRequest(Request):
    chargers: list[CreateChargerRequest] = Field(max_length=MAX_BULK)


class UpdateLocationChargersRequest(Request):
    chargers: list[UpdateLocationChargerItem] = Field(max_length=MAX_BULK)


class LooseItems(Request):
    """Bulk bodies validate the list shape only; each item is then validated on its own (partial success)."""

    chargers: list[dict[str, Any]] = Field(max_length=MAX_BULK)


class DeleteLocationChargersRequest(Request):
    charger_ids: list[Annotated[str, Field(max_length=100)]] = Field(max_length=MAX_BULK)


class LocationChargersQuery(PageQuery):
    charger_ids: list[Annotated[str, Field(min_length=1, max_length=100)]] | None = Field(
        default=None, max_length=MAX_BULK
    )


class LocationCreateChargerFailure(Response):
    identity: str | None = None
    error: str


class CreateLocationChargersResponse(Response):
    created_count: int
    failed_count: int
    created: list[ChargerResponse]
    failed: list[LocationCreateChargerFailure]


class LocationUpdateChargerFailure(Response):
    charger_id: str | None = None
    error: str


class UpdateLocationChargersResponse(Response):
    updated_count: int
    failed_count: int
    updated: list[ChargerResponse]
    failed: list[LocationUpdateChargerFailure]


class LocationDeleteChargerFailure(Response):
    charger_id: str | None = None
    error: str


class DeleteLocationChargersResponse(Response):
    deleted_count: int
    failed_count: int
    deleted: list[str]
    failed: list[LocationDeleteChargerFailure]
