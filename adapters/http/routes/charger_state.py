"""A charge point's own state through the API: configuration, auth cache, local authorization list, faults.

These routes answer with the outcome: they wait (briefly) for the charge point to apply the command.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from quart import Blueprint

from adapters.http.auth import actor
from adapters.http.context import run, services
from adapters.http.models.commands import ConnectorSelectionRequest
from adapters.http.models.common import PageQuery
from adapters.http.models.configuration import (
    ConfigurationChangeResponse,
    ConfigurationQuery,
    ConfigurationResponse,
    ConfigurationUpdateRequest,
)
from adapters.http.models.faults import (
    FaultOperationResponse,
    InjectFaultQuery,
    LocationClearFaultRequest,
    LocationFaultResponse,
    LocationInjectFaultRequest,
)
from adapters.http.models.local_auth import (
    CacheResetResponse,
    LocalAuthorizationListResponse,
    LocalListMutationResponse,
    SendLocalListRequest,
)
from adapters.http.models.smart_charging import ChargingProfilesResponse
from adapters.http.routes.commands import failed_as_400, outcome, queue_command
from adapters.http.routes.common import served_charger
from adapters.http.routes.fanout import fan_out_commands
from adapters.http.validation import body, query, responds
from application.ports import Actor

bp = Blueprint("charger_state", __name__)
STATE_ERRORS = (400, 401, 403, 404, 422)


async def applied(who: Actor, charger_key: str, kind: str, fields: dict[str, Any]) -> dict[str, Any]:
    """Queues a command and waits for its outcome; a refused one answers 400 with the reason."""
    queued = await queue_command(who, charger_key, kind, fields)
    doc = await outcome(who, queued)
    failed_as_400(doc)
    return doc


def pending(doc: dict[str, Any]) -> str:
    return f"queued: the charge point applies it when it can (command {doc['id']})"


@bp.get("/chargers/<charger_id>/configuration")
@query(ConfigurationQuery)
@responds(ConfigurationResponse, errors=(401, 403, 404, 422))
async def get_configuration(charger_id: str, query: ConfigurationQuery) -> dict:
    """The configuration as the charge point holds it: the keys asked (unknown ones left out), or all keys."""
    who = await actor()
    doc = await served_charger(who, charger_id)
    keys = [key.strip() for key in (query.keys or "").split(",") if key.strip()] or None
    entries = await run(services().gateway.charger_configuration, who, UUID(doc["id"]), keys)
    return {"configuration": entries}


@bp.get("/chargers/<charger_id>/charging-profiles")
@responds(ChargingProfilesResponse, errors=(401, 403, 404))
async def get_charging_profiles(charger_id: str) -> dict:
    """The charging profiles the charge point holds (as recorded) and each connector's composite limit now."""
    who = await actor()
    doc = await served_charger(who, charger_id)
    return await run(services().gateway.charging_profiles, who, UUID(doc["id"]))


@bp.post("/chargers/<charger_id>/configuration")
@body(ConfigurationUpdateRequest)
@responds(ConfigurationChangeResponse, errors=STATE_ERRORS)
async def set_configuration(charger_id: str, data: ConfigurationUpdateRequest) -> dict:
    """Changes keys as the CSMS's ChangeConfiguration / SetVariables would; unknown or read-only keys: 400."""
    doc = await applied(await actor(), charger_id, "set_configuration", {"changes": data.root})
    if doc["status"] != "completed":
        return {"status": "Pending", "configured": [], "msg": pending(doc), "command_id": doc["id"]}
    result = doc["result"]
    return {
        "status": result["status"],
        "configured": result["configured"],
        "msg": "Configuration updated" + (": reboot the charger to apply it" if result["status"] != "Accepted" else ""),
        "command_id": doc["id"],
    }


@bp.post("/chargers/<charger_id>/cache/reset")
@responds(CacheResetResponse, errors=(401, 403, 404, 422))
async def reset_cache(charger_id: str) -> dict:
    doc = await applied(await actor(), charger_id, "reset_cache", {})
    if doc["status"] != "completed":
        return {"msg": pending(doc), "cleared_entries": 0, "command_id": doc["id"]}
    return {
        "msg": "Authorization cache cleared",
        "cleared_entries": doc["result"]["cleared_entries"],
        "command_id": doc["id"],
    }


@bp.get("/chargers/<charger_id>/local-auth-list")
@query(PageQuery)
@responds(LocalAuthorizationListResponse, errors=(401, 403, 404, 422))
async def get_local_auth_list(charger_id: str, query: PageQuery) -> dict:
    who = await actor()
    doc = await served_charger(who, charger_id)
    local_list = await run(services().gateway.local_auth_list, who, UUID(doc["id"]))
    entries = local_list["entries"]
    start = (query.page - 1) * query.limit
    page = [
        {key: entry.get(key) for key in ("id_tag", "expiry_date", "parent_id_tag")}
        for entry in entries[start : start + query.limit]
    ]
    return {
        "data": page,
        "total": len(entries),
        "page": query.page,
        "limit": query.limit,
        "list_version": local_list["version"],
    }


@bp.post("/chargers/<charger_id>/local-auth-list")
@body(SendLocalListRequest)
@responds(LocalListMutationResponse, errors=STATE_ERRORS)
async def send_local_list(charger_id: str, data: SendLocalListRequest) -> dict:
    """Replaces the charge point's local list (as SendLocalList Full); the version must grow."""
    entries = [entry.model_dump(mode="json", exclude_none=True) for entry in data.entries]
    fields = {"list_version": data.list_version, "entries": entries}
    doc = await applied(await actor(), charger_id, "send_local_list", fields)
    if doc["status"] != "completed":
        return {"status": "Pending", "msg": pending(doc), "command_id": doc["id"]}
    return {**doc["result"], "msg": "Local authorization list updated", "command_id": doc["id"]}


@bp.delete("/chargers/<charger_id>/local-auth-list")
@responds(LocalListMutationResponse, errors=(401, 403, 404, 422))
async def delete_local_list(charger_id: str) -> dict:
    doc = await applied(await actor(), charger_id, "clear_local_list", {})
    if doc["status"] != "completed":
        return {"status": "Pending", "msg": pending(doc), "command_id": doc["id"]}
    return {"status": "Accepted", **doc["result"], "msg": "Local authorization list cleared", "command_id": doc["id"]}


async def fault(who: Actor, charger_key: str, kind: str, fields: dict[str, Any]) -> dict[str, Any]:
    """Injects or clears a fault; answers with the outcome, or as queued when the charger is not online in 10 s."""
    doc = await applied(who, charger_key, kind, fields)
    answer = {**fault_fields(doc["payload"]), "command_id": doc["id"]}
    if doc["status"] != "completed":
        return {**answer, "msg": pending(doc), "status": "queued"}
    done = "Fault injected" if kind == "inject_fault" else "Fault cleared"
    result = doc["result"]
    return {
        **answer,
        "fault_type": result.get("fault_type", answer["fault_type"]),
        "msg": done,
        "status": result["status"],
    }


def fault_fields(payload: dict[str, Any]) -> dict[str, Any]:
    """FaultOperationResponse's fault and connector fields from a fault command's payload (1.6: EVSE = connector)."""
    return {
        "fault_type": payload.get("fault_type"),
        "evse_id": payload.get("evse_id", payload.get("connector_id")),
        "connector_id": payload.get("connector_id"),
    }


@bp.post("/chargers/<charger_id>/inject-fault")
@query(InjectFaultQuery)
@responds(FaultOperationResponse, errors=STATE_ERRORS)
async def inject_fault(charger_id: str, query: InjectFaultQuery) -> dict:
    return await fault(await actor(), charger_id, "inject_fault", query.model_dump())


@bp.post("/chargers/<charger_id>/clear-fault")
@query(ConnectorSelectionRequest)
@responds(FaultOperationResponse, errors=STATE_ERRORS)
async def clear_fault(charger_id: str, query: ConnectorSelectionRequest) -> dict:
    return await fault(await actor(), charger_id, "clear_fault", query.model_dump())


async def location_fault(who: Actor, location_id: str, charger_ids: list[str] | None, kind: str, fields: dict) -> dict:
    """A fault on many chargers: each one's command is queued (its outcome is on its command record)."""
    fanned = await fan_out_commands(who, location_id, charger_ids, kind, fields)
    results = []
    for item in fanned["results"]:
        command = item["command"]
        results.append(
            {
                "charger_id": item["charger_id"],
                "identity": item["identity"],
                "fault": {
                    "msg": "Fault queued" if kind == "inject_fault" else "Fault clearing queued",
                    **fault_fields(command["payload"]),
                    "status": "queued",
                    "command_id": command["id"],
                },
            }
        )
    return {
        "targeted_count": fanned["targeted_count"],
        "succeeded_count": len(results),
        "failed_count": fanned["failed_count"],
        "results": results,
        "failed": fanned["failed"],
    }


@bp.post("/locations/<location_id>/chargers/inject-fault")
@body(LocationInjectFaultRequest)
@responds(LocationFaultResponse, errors=STATE_ERRORS)
async def inject_location_fault(location_id: str, data: LocationInjectFaultRequest) -> dict:
    fields = data.model_dump(exclude={"charger_ids"})
    return await location_fault(await actor(), location_id, data.charger_ids, "inject_fault", fields)


@bp.post("/locations/<location_id>/chargers/clear-fault")
@body(LocationClearFaultRequest)
@responds(LocationFaultResponse, errors=STATE_ERRORS)
async def clear_location_fault(location_id: str, data: LocationClearFaultRequest) -> dict:
    fields = data.model_dump(exclude={"charger_ids"})
    return await location_fault(await actor(), location_id, data.charger_ids, "clear_fault", fields)
