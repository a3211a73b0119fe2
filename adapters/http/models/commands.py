"""OCPP commands to one charger or a location's chargers, and the command records they queue."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field

from adapters.http.models.common import MAX_BULK, Request, Response
from simulator.proxy import PROXY_ACTIONS

ConnectorNumber = Annotated[int, Field(ge=0, le=1000)]
IdTag = Annotated[str, Field(min_length=1, max_length=36, description="OCPP 1.6 idTag: at most 20 characters")]
ChargerIds = Annotated[
    list[Annotated[str, Field(min_length=1, max_length=100)]] | None,
    Field(default=None, max_length=MAX_BULK, description="omitted or null: every charger of the location"),
]
ProxyActionName = Literal[PROXY_ACTIONS]  # type: ignore[valid-type]


class ConnectorSelectionRequest(Request):
    evse_id: ConnectorNumber | None = None
    connector_id: ConnectorNumber | None = None


class StartSessionRequest(Request):
    id_tag: IdTag
    connector_id: ConnectorNumber | None = None


class StopSessionRequest(Request):
    connector_id: ConnectorNumber | None = None


class StartTransactionRequest(ConnectorSelectionRequest):
    id_tag: IdTag


class StopTransactionRequest(Request):
    transaction_id: Annotated[str, Field(min_length=1, max_length=36)] | None = None


class AuthorizeIdTagRequest(Request):
    id_tag: IdTag


class ReserveNowRequest(ConnectorSelectionRequest):
    """Our addition: the charger holds a connector (connector / EVSE 0: any one of it) for an id tag."""

    id_tag: IdTag
    expiry_date: datetime | None = Field(default=None, description="when the reservation ends; default 30 min")
    reservation_id: int | None = Field(default=None, ge=0, le=2**31 - 1, description="default: the next free id")
    parent_id_tag: IdTag | None = Field(default=None, description="tags of this parent may use it too")


class CancelReservationRequest(Request):
    reservation_id: int = Field(ge=0, le=2**31 - 1)


class PowerUpdateRequest(ConnectorSelectionRequest):
    power_w: int = Field(ge=0, le=10_000_000, description="W; capped at the model's maximum power")


class ProxyMessageRequest(Request):
    payload: dict[str, Any]


class ProxyMessageQuery(Request):
    action: ProxyActionName
    ocpp_version: Literal["ocpp1.6", "ocpp2.0.1"]


class LocationConnectorRequest(ConnectorSelectionRequest):
    charger_ids: ChargerIds


class LocationStartSessionRequest(StartSessionRequest):
    charger_ids: ChargerIds


class LocationStopSessionRequest(StopSessionRequest):
    charger_ids: ChargerIds


class LocationStartTransactionRequest(StartTransactionRequest):
    charger_ids: ChargerIds


class LocationStopTransactionRequest(StopTransactionRequest):
    charger_ids: ChargerIds


class LocationAuthorizeIdTagRequest(AuthorizeIdTagRequest):
    charger_ids: ChargerIds


class LocationPowerUpdateRequest(PowerUpdateRequest):
    charger_ids: ChargerIds


class LocationReserveNowRequest(ReserveNowRequest):
    charger_ids: ChargerIds


class LocationCancelReservationRequest(CancelReservationRequest):
    charger_ids: ChargerIds


class QueuedCommandResponse(Response):
    id: str
    event_type: str
    ocpp_version: str
    payload: dict[str, Any]
    status: str | None = Field(default=None, description="extension: queued | sent | completed | failed | expired")


class CommandResponse(QueuedCommandResponse):
    """Extension: a command record with its outcome."""

    charger_id: str
    result: dict[str, Any] | None = None
    reason: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


class CommandListResponse(Response):
    data: list[CommandResponse]
    total: int
    page: int
    limit: int


class LocationQueuedCommandResult(Response):
    charger_id: str
    identity: str
    command: QueuedCommandResponse


class LocationCommandFailure(Response):
    identity: str | None = None
    error: str


class LocationCommandResponse(Response):
    targeted_count: int
    queued_count: int
    failed_count: int
    results: list[LocationQueuedCommandResult]
    failed: list[LocationCommandFailure]
