"""Running chargers: start / stop / reset (one charger or a location), frame logs, command records."""

from __future__ import annotations

from typing import Any

from quart import Blueprint

from adapters.http.auth import actor
from adapters.http.context import run, services
from adapters.http.errors import HttpError
from adapters.http.models.chargers import ChargerLifecycleRequest, LocationLifecycleRequest
from adapters.http.models.commands import (
    CommandListResponse,
    CommandResponse,
    LocationCommandResponse,
    QueuedCommandResponse,
)
from adapters.http.models.common import PageQuery
from adapters.http.models.logs import ChargerLogListResponse, LogQuery
from adapters.http.routes.audit import utc
from adapters.http.routes.common import charger_uuid, page_body, parse_uuid, queued_body, served_charger
from adapters.http.routes.fanout import charger_uuid_of, fan_out
from adapters.http.validation import body, query, responds
from application.ports import Actor

bp = Blueprint("runtime", __name__)
LIFECYCLE = {"start-charger": "start_charger", "stop-charger": "stop_charger", "reset-charger": "reset_charger"}


async def lifecycle(who: Actor, kind: str, charger_key: Any, payload: dict[str, Any]) -> dict[str, Any]:
    charger_id = charger_key if not isinstance(charger_key, str) else await charger_uuid(who, charger_key)
    use_case = getattr(services().gateway, kind)
    queued = await run(use_case, who, charger_id, payload)
    await services().views.catch_up(queued.position)
    return queued_body(queued)


def lifecycle_route(path: str, kind: str) -> None:
    @bp.post(f"/chargers/<charger_id>/{path}")
    @body(ChargerLifecycleRequest)
    @responds(QueuedCommandResponse, errors=(400, 401, 403, 404, 422))
    async def single(charger_id: str, data: ChargerLifecycleRequest) -> dict:
        return await lifecycle(await actor(), kind, charger_id, data.root)

    single.__name__ = f"{kind}_single"

    @bp.post(f"/locations/<location_id>/chargers/{path}s")
    @body(LocationLifecycleRequest)
    @responds(LocationCommandResponse, errors=(400, 401, 403, 404, 422))
    async def location(location_id: str, data: LocationLifecycleRequest) -> dict:
        who = await actor()
        return await fan_out(
            who, location_id, data.charger_ids, lambda doc: lifecycle(who, kind, charger_uuid_of(doc), {})
        )

    location.__name__ = f"{kind}_location"


for route_path, command_kind in LIFECYCLE.items():
    lifecycle_route(route_path, command_kind)


@bp.get("/chargers/<charger_id>/logs")
@query(LogQuery)
@responds(ChargerLogListResponse, errors=(401, 403, 404, 422))
async def charger_logs(charger_id: str, query: LogQuery) -> dict:
    """Every frame the charger exchanged, ascending by time; `total` counts all matching frames."""
    who = await actor()
    doc = await served_charger(who, charger_id)
    found = await services().views.logs(
        who.tenant_id, doc["id"], utc(query.start_date), utc(query.end_date), query.event, query.limit, query.offset
    )
    return {"data": found.rows, "total": found.total, "limit": query.limit, "offset": query.offset}


@bp.get("/commands/<command_id>")
@responds(CommandResponse, errors=(401, 403, 404))
async def get_command(command_id: str) -> dict:
    who = await actor()
    doc = await services().views.command(who.tenant_id, command_id) if parse_uuid(command_id) else None
    if doc is None:
        raise HttpError(404, "Command not found")
    return doc


@bp.get("/chargers/<charger_id>/commands")
@query(PageQuery)
@responds(CommandListResponse, errors=(401, 403, 404, 422))
async def charger_commands(charger_id: str, query: PageQuery) -> dict:
    who = await actor()
    doc = await served_charger(who, charger_id)
    found = await services().views.commands(who.tenant_id, doc["id"], query.page, query.limit)
    return page_body(found, query.page, query.limit)
