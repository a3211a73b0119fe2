"""Commands on one charger or fanned out over a location: sessions, transactions, connectors, raw messages."""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import BaseModel
from quart import Blueprint

from adapters.http.auth import actor
from adapters.http.context import run, services
from adapters.http.errors import HttpError
from adapters.http.models.commands import (
    AuthorizeIdTagRequest,
    CancelReservationRequest,
    ConnectorSelectionRequest,
    LocationAuthorizeIdTagRequest,
    LocationCancelReservationRequest,
    LocationCommandResponse,
    LocationConnectorRequest,
    LocationPowerUpdateRequest,
    LocationReserveNowRequest,
    LocationStartSessionRequest,
    LocationStartTransactionRequest,
    LocationStopSessionRequest,
    LocationStopTransactionRequest,
    PowerUpdateRequest,
    ProxyMessageQuery,
    ProxyMessageRequest,
    QueuedCommandResponse,
    ReserveNowRequest,
    StartSessionRequest,
    StartTransactionRequest,
    StopSessionRequest,
    StopTransactionRequest,
)
from adapters.http.routes.common import charger_uuid, queued_body, served_charger
from adapters.http.routes.fanout import fan_out_commands
from adapters.http.validation import body, query, responds
from application.ports import Actor
from application.results import Queued
from domain.command import TERMINAL
from simulator.proxy import PROXY_VERSIONS, InvalidMessage, build_call

bp = Blueprint("commands", __name__)
OUTCOME_WAIT = 10.0  # seconds a route that answers with an outcome waits for the charge point
OUTCOME_POLL = 0.02

# path -> (command kind, single-charger body, location body)
COMMANDS: dict[str, tuple[str, type[BaseModel], type[BaseModel]]] = {
    "plug-connector": ("plug_connector", ConnectorSelectionRequest, LocationConnectorRequest),
    "unplug-connector": ("unplug_connector", ConnectorSelectionRequest, LocationConnectorRequest),
    "unlock-connector": ("unlock_connector", ConnectorSelectionRequest, LocationConnectorRequest),
    "start-session": ("start_session", StartSessionRequest, LocationStartSessionRequest),
    "stop-session": ("stop_session", StopSessionRequest, LocationStopSessionRequest),
    "start-transaction": ("start_transaction", StartTransactionRequest, LocationStartTransactionRequest),
    "stop-transaction": ("stop_transaction", StopTransactionRequest, LocationStopTransactionRequest),
    "authorize-id-tag": ("authorize_id_tag", AuthorizeIdTagRequest, LocationAuthorizeIdTagRequest),
    "ev-requests-energy": ("ev_requests_energy", ConnectorSelectionRequest, LocationConnectorRequest),
    "ev-stops-energy": ("ev_stops_energy", ConnectorSelectionRequest, LocationConnectorRequest),
    "power-update": ("power_update", PowerUpdateRequest, LocationPowerUpdateRequest),
    "reserve-now": ("reserve_now", ReserveNowRequest, LocationReserveNowRequest),
    "cancel-reservation": ("cancel_reservation", CancelReservationRequest, LocationCancelReservationRequest),
}


async def queue_command(who: Actor, charger_key: str, kind: str, fields: dict[str, Any]) -> Queued:
    """Writes the command record (the simulator follows it); the views reach it before the answer."""
    charger_id = await charger_uuid(who, charger_key)
    queued = await run(services().gateway.request_command, who, charger_id, kind, fields)
    await services().views.catch_up(queued.position)
    return queued


async def outcome(who: Actor, queued: Queued, wait: float = OUTCOME_WAIT) -> dict[str, Any]:
    """The command's record once it finished, or as it stands after `wait` seconds."""
    views = services().views
    deadline = asyncio.get_running_loop().time() + wait
    while True:
        doc = await views.command(who.tenant_id, str(queued.command.id))
        if doc is None or doc["status"] in TERMINAL or asyncio.get_running_loop().time() >= deadline:
            return doc or queued_body(queued)
        await asyncio.sleep(OUTCOME_POLL)


def failed_as_400(doc: dict[str, Any]) -> None:
    if doc["status"] in ("failed", "expired"):
        raise HttpError(400, doc.get("reason") or f"the command {doc['status']}")


def command_route(path: str, kind: str, single_model: type[BaseModel], location_model: type[BaseModel]) -> None:
    @bp.post(f"/chargers/<charger_id>/{path}")
    @body(single_model)
    @responds(QueuedCommandResponse, errors=(400, 401, 403, 404, 422))
    async def single(charger_id: str, data: BaseModel) -> dict:
        return queued_body(await queue_command(await actor(), charger_id, kind, data.model_dump()))

    single.__name__ = f"{kind}_single"

    @bp.post(f"/locations/<location_id>/chargers/{path}")
    @body(location_model)
    @responds(LocationCommandResponse, errors=(400, 401, 403, 404, 422))
    async def location(location_id: str, data: BaseModel) -> dict:
        fields = data.model_dump(exclude={"charger_ids"})
        return await fan_out_commands(await actor(), location_id, data.charger_ids, kind, fields)  # type: ignore[attr-defined]

    location.__name__ = f"{kind}_location"


for route_path, (command_kind, single_body, location_body) in COMMANDS.items():
    command_route(route_path, command_kind, single_body, location_body)


@bp.post("/chargers/<charger_id>/proxy-message")
@query(ProxyMessageQuery)
@body(ProxyMessageRequest)
@responds(QueuedCommandResponse, errors=(400, 401, 403, 404, 422))
async def proxy_message(charger_id: str, query: ProxyMessageQuery, data: ProxyMessageRequest) -> dict:
    """Sends one charge-point message verbatim, once it fits the schema of the charger's OCPP version."""
    who = await actor()
    doc = await served_charger(who, charger_id)
    version = PROXY_VERSIONS[query.ocpp_version]
    if version != doc["ocpp_version"]:
        raise HttpError(400, f"ocpp_version {query.ocpp_version} does not match the charger's {doc['ocpp_version']}")
    try:
        build_call(version, query.action, data.payload)
    except InvalidMessage as error:
        raise HttpError(400, str(error)) from None
    fields = {"action": query.action, "payload": data.payload}
    return queued_body(await queue_command(who, doc["id"], "proxy_message", fields))
