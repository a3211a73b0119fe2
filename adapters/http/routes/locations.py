"""Locations: sites with an address and coordinates, per tenant."""

from __future__ import annotations

from quart import Blueprint

from adapters.http.auth import actor
from adapters.http.context import run, services
from adapters.http.errors import HttpError
from adapters.http.models.audit import AsOfQuery
from adapters.http.models.common import PageQuery
from adapters.http.models.locations import (
    CreateLocationRequest,
    LocationListResponse,
    LocationResponse,
    UpdateLocationRequest,
)
from adapters.http.routes.audit import state_as_of
from adapters.http.routes.common import location_uuid, page_body, written_doc
from adapters.http.validation import body, query, responds
from domain.location import Location

bp = Blueprint("locations", __name__)


@bp.get("/locations")
@query(PageQuery)
@responds(LocationListResponse, errors=(401, 403, 422))
async def list_locations(query: PageQuery) -> dict:
    who = await actor()
    found = await services().views.locations(who.tenant_id, query.page, query.limit)
    return page_body(found, query.page, query.limit)


@bp.post("/locations")
@body(CreateLocationRequest)
@responds(LocationResponse, 201, errors=(400, 401, 403, 422))
async def create_location(data: CreateLocationRequest) -> tuple[dict, int]:
    who = await actor()
    written = await run(services().gateway.create_location, who, data.model_dump(exclude_none=True))
    return await written_doc("location", who, written), 201


@bp.get("/locations/<location_id>")
@query(AsOfQuery)
@responds(LocationResponse, errors=(401, 403, 404, 422))
async def get_location(location_id: str, query: AsOfQuery) -> dict:
    """The location; with `as_of`, as it was at that moment (extension)."""
    who = await actor()
    if query.as_of is not None:
        return await state_as_of(who, Location, location_uuid(location_id), query.as_of)
    doc = await services().views.location(who.tenant_id, str(location_uuid(location_id)))
    if doc is None:
        raise HttpError(404, "Location not found")
    return doc


@bp.put("/locations/<location_id>")
@body(UpdateLocationRequest)
@responds(LocationResponse, errors=(400, 401, 403, 404, 422))
async def update_location(location_id: str, data: UpdateLocationRequest) -> dict:
    who = await actor()
    changes = data.model_dump(exclude_none=True)
    written = await run(services().gateway.update_location, who, location_uuid(location_id), changes)
    return await written_doc("location", who, written)


@bp.delete("/locations/<location_id>")
@responds(None, 204, errors=(400, 401, 403, 404))
async def delete_location(location_id: str) -> tuple[str, int]:
    """Refused with 400 while chargers are bound to the location: delete or move them first."""
    who = await actor()
    written = await run(services().gateway.delete_location, who, location_uuid(location_id))
    await services().views.catch_up(written.position)
    return "", 204
