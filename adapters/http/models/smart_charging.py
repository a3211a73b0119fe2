"""A charger's charging profiles and the limits they impose (our addition to the contract)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from adapters.http.models.common import Response


class InstalledChargingProfile(Response):
    id: int
    connector_id: int = Field(
        description="1.6 connectorId or 2.0.1 evseId the profile was set on; 0: the whole charger"
    )
    purpose: str = Field(
        description="ChargingStationMaxProfile (1.6: ChargePointMaxProfile), TxDefaultProfile, TxProfile"
    )
    stack_level: int
    kind: str = Field(description="Absolute, Recurring or Relative")
    charging_rate_unit: str = Field(description="W or A")
    transaction_id: str | None = None
    installed_at: str
    profile: dict[str, Any] = Field(description="the profile as the CSMS sent it")


class ConnectorLimit(Response):
    connector_id: int
    limit_w: float = Field(description="the composite limit in force now: hardware, station and transaction limits")
    transaction_id: str | None = None


class ChargingProfilesResponse(Response):
    profiles: list[InstalledChargingProfile]
    connectors: list[ConnectorLimit]
