"""Injected and cleared faults, on one charger or a location's chargers."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from adapters.http.models.commands import (
    ChargerIds,
    ConnectorSelectionRequest,
    LocationCommandFailure,
    LocationConnectorRequest,
)
from adapters.http.models.common import Response
from domain.command import FAULT_ERROR_CODES

FaultType = Literal[tuple(FAULT_ERROR_CODES)]  # type: ignore[valid-type]


class InjectFaultQuery(ConnectorSelectionRequest):
    fault_type: FaultType


class LocationInjectFaultRequest(InjectFaultQuery):
    charger_ids: ChargerIds


class LocationClearFaultRequest(LocationConnectorRequest):
    pass


class FaultOperationResponse(Response):
    msg: str
    fault_type: str | None = None
    evse_id: int | None = None
    connector_id: int | None = None
    status: str | None = None
    command_id: str | None = Field(default=None, description="extension: the command record")


class LocationFaultResult(Response):
    charger_id: str
    identity: str
    fault: FaultOperationResponse


class LocationFaultResponse(Response):
    targeted_count: int
    succeeded_count: int
    failed_count: int
    results: list[LocationFaultResult]
    failed: list[LocationCommandFailure]
