"""Location provisioning: list, bulk-create, bulk-update and bulk-delete a location's chargers.

Bulk routes succeed per item: each item is validated and applied on its own, and a failing item becomes an
entry of `failed` with the detail its single-charger route would have answered.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from pydantic import ValidationError
from quart import Blueprint

from adapters.http.auth import actor
from adapters.http.context import services
from adapters.http.errors import HttpError
from adapters.http.models.chargers import ChargerListResponse, CreateChargerRequest
from adapters.http.models.provisioning import (
    CreateLocationChargersRequest,
    CreateLocationChargersResponse,
    DeleteLocationChargersRequest,
    DeleteLocationChargersResponse,
    LocationChargersQuery,
    LooseItems,
    UpdateLocationChargerItem,
    UpdateLocationChargersRequest,
    UpdateLocationChargersResponse,
)
from adapters.http.routes import charger_ops
from adapters.http.routes.common import location_uuid, page_body, parse_uuid, served_charger
from adapters.http.validation import body, query, responds
from application.ports import Actor
from domain import values
from domain.errors import InvalidValue

bp = Blueprint("provisioning", __name__)
PREFIX = "/locations/<location_id>/chargers"


async def _location(who: Actor, location_id: str) -> UUID:
    """The path location, which must be a live location of the tenant (404 otherwise)."""
    parsed = location_uuid(location_id)
    if await services().views.location(who.tenant_id, str(parsed)) is None:
        raise HttpError(404, "Location not found")
    return parsed


async def _in_location(who: Actor, location: UUID, key: str) -> str:
    doc = await served_charger(who, key)
    if doc["location_id"] != str(location):
        raise HttpError(400, "charger not in location")
    return doc["id"]


def _invalid_item(error: ValidationError) -> str:
    first = error.errors(include_url=False)[0]
    where = ".".join(str(part) for part in first["loc"])
    return f"{where}: {first['msg']}" if where else first["msg"]


@bp.get(f"{PREFIX}/get-chargers")
@query(LocationChargersQuery)
@responds(ChargerListResponse, errors=(400, 401, 403, 404, 422))
async def list_location_chargers(location_id: str, query: LocationChargersQuery) -> dict:
    who = await actor()
    location = await _location(who, location_id)
    keys = query.charger_ids
    for key in keys or ():
        if parse_uuid(key) is None:
            try:
                values.identity(key)
            except InvalidValue:
                raise HttpError(400, f"'{key}' is neither a charger id nor a charger identity") from None
    found = await services().views.chargers(who.tenant_id, query.page, query.limit, str(location), keys)
    return page_body(found, query.page, query.limit)


@bp.post(f"{PREFIX}/create-chargers")
@body(LooseItems, documented_as=CreateLocationChargersRequest)
@responds(CreateLocationChargersResponse, errors=(401, 403, 404, 422))
async def create_location_chargers(location_id: str, data: LooseItems) -> dict:
    """Each item's own location_id is ignored: the path location wins."""
    who = await actor()
    location = await _location(who, location_id)
    created: list[dict] = []
    failed: list[dict[str, Any]] = []
    for raw in data.chargers:
        identity = raw.get("identity") if isinstance(raw.get("identity"), str) else None
        try:
            item = CreateChargerRequest.model_validate(raw)
            doc, _ = await charger_ops.create_charger(who, item, path_location=location)
            created.append(doc)
        except ValidationError as error:
            failed.append({"identity": identity, "error": _invalid_item(error)})
        except Exception as error:  # noqa: BLE001 - failure_text re-raises what is not a per-item failure
            failed.append({"identity": identity, "error": charger_ops.failure_text(error)})
    return {"created_count": len(created), "failed_count": len(failed), "created": created, "failed": failed}


@bp.put(f"{PREFIX}/update-chargers")
@body(LooseItems, documented_as=UpdateLocationChargersRequest)
@responds(UpdateLocationChargersResponse, errors=(401, 403, 404, 422))
async def update_location_chargers(location_id: str, data: LooseItems) -> dict:
    who = await actor()
    location = await _location(who, location_id)
    updated: list[dict] = []
    failed: list[dict[str, Any]] = []
    for raw in data.chargers:
        key = raw.get("charger_id") if isinstance(raw.get("charger_id"), str) else None
        try:
            item = UpdateLocationChargerItem.model_validate(raw)
            charger_id = await _in_location(who, location, item.charger_id)
            updated.append(await charger_ops.update_charger(who, charger_id, item))
        except ValidationError as error:
            failed.append({"charger_id": key, "error": _invalid_item(error)})
        except Exception as error:  # noqa: BLE001 - failure_text re-raises what is not a per-item failure
            failed.append({"charger_id": key, "error": charger_ops.failure_text(error)})
    return {"updated_count": len(updated), "failed_count": len(failed), "updated": updated, "failed": failed}


@bp.post(f"{PREFIX}/delete-chargers")
@body(DeleteLocationChargersRequest)
@responds(DeleteLocationChargersResponse, errors=(401, 403, 404, 422))
async def delete_location_chargers(location_id: str, data: DeleteLocationChargersRequest) -> dict:
    who = await actor()
    location = await _location(who, location_id)
    deleted: list[str] = []
    failed: list[dict[str, Any]] = []
    for key in dict.fromkeys(data.charger_ids):
        try:
            charger_id = await _in_location(who, location, key)
            deleted.append(await charger_ops.delete_charger(who, charger_id))
        except Exception as error:  # noqa: BLE001 - failure_text re-raises what is not a per-item failure
            failed.append({"charger_id": key, "error": charger_ops.failure_text(error)})
    return {"deleted_count": len(deleted), "failed_count": len(failed), "deleted": deleted, "failed": failed}
