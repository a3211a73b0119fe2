"""Charger deployments: CRUD per tenant."""

from __future__ import annotations

from quart import Blueprint

from adapters.http.auth import actor
from adapters.http.context import services
from adapters.http.models.audit import AsOfQuery
from adapters.http.models.chargers import (
    ChargerListQuery,
    ChargerListResponse,
    ChargerResponse,
    CreateChargerRequest,
    UpdateChargerRequest,
)
from adapters.http.routes import charger_ops
from adapters.http.routes.audit import state_as_of
from adapters.http.routes.common import charger_uuid, page_body, parse_uuid, served_charger
from adapters.http.validation import body, query, responds
from domain.charger import Charger

bp = Blueprint("chargers", __name__)


@bp.get("/chargers")
@query(ChargerListQuery)
@responds(ChargerListResponse, errors=(401, 403, 422))
async def list_chargers(query: ChargerListQuery) -> dict:
    who = await actor()
    location = query.location_id
    if location is not None and parse_uuid(location) is None:  # not one of ours: no charger is there
        return {"data": [], "total": 0, "page": query.page, "limit": query.limit}
    found = await services().views.chargers(who.tenant_id, query.page, query.limit, location_id=location)
    return page_body(found, query.page, query.limit)


@bp.post("/chargers")
@body(CreateChargerRequest)
@responds(ChargerResponse, 201, errors=(400, 401, 403, 422))
async def create_charger(data: CreateChargerRequest) -> tuple[dict, int]:
    """201 with the new charger; a repeated identical create (an SDK retry) answers 200 with the same one."""
    who = await actor()
    doc, created = await charger_ops.create_charger(who, data)
    return doc, 201 if created else 200


@bp.get("/chargers/<charger_id>")
@query(AsOfQuery)
@responds(ChargerResponse, errors=(401, 403, 404, 422))
async def get_charger(charger_id: str, query: AsOfQuery) -> dict:
    """The charger with its runtime state; with `as_of`, its desired state as it was at that moment (extension)."""
    who = await actor()
    if query.as_of is not None:
        return await state_as_of(who, Charger, await charger_uuid(who, charger_id), query.as_of)
    return await served_charger(who, charger_id)


@bp.put("/chargers/<charger_id>")
@body(UpdateChargerRequest)
@responds(ChargerResponse, errors=(400, 401, 403, 404, 422))
async def update_charger(charger_id: str, data: UpdateChargerRequest) -> dict:
    who = await actor()
    return await charger_ops.update_charger(who, charger_id, data)


@bp.delete("/chargers/<charger_id>")
@responds(None, 204, errors=(401, 403, 404))
async def delete_charger(charger_id: str) -> tuple[str, int]:
    who = await actor()
    await charger_ops.delete_charger(who, charger_id)
    return "", 204
