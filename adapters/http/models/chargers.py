"""Chargers: create, update, list, read, and the lifecycle (start / stop / reset) bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import Field, RootModel

from adapters.http.models.common import MAX_BULK, PageQuery, Request, Response, Text, domain_check
from domain import values

WsUrl = Annotated[str, domain_check(values.csms_url)]
OcppVersionText = Annotated[str, domain_check(lambda v: values.OcppVersion.parse(v).value)]
Identity = Annotated[str, domain_check(values.identity)]
AuthorizationKey = Annotated[str, Field(min_length=8, max_length=64, description="extension: HTTP Basic password")]


class CreateChargerRequest(Request):
    identity: Identity
    brand_slug: Annotated[str, Field(min_length=1, max_length=100)]
    model_slug: Annotated[str, Field(min_length=1, max_length=100)]
    connector_type: Annotated[str, Field(min_length=1, max_length=50)]
    ws_url: WsUrl
    ocpp_version: OcppVersionText | None = None
    charge_point_name: Text | None = None
    location_id: Annotated[str, Field(max_length=100)] | None = None
    location_name: Text | None = None
    authorization_key: AuthorizationKey | None = None


class UpdateChargerRequest(Request):
    name: Text | None = None
    charge_point_name: Text | None = None
    connector_type: Annotated[str, Field(min_length=1, max_length=50)] | None = None
    ocpp_version: OcppVersionText | None = None
    ws_url: WsUrl | None = None
    location_id: Annotated[str, Field(max_length=100)] | None = None
    location_name: Text | None = None
    authorization_key: Annotated[str, Field(pattern=r"^(|.{8,64})$")] | None = Field(
        default=None, description='extension: HTTP Basic password (8-64 characters); "" removes it'
    )


class ChargerListQuery(PageQuery):
    location_id: Annotated[str, Field(max_length=100)] | None = None


class ChargerLifecycleRequest(RootModel[dict[str, Any]]):
    """Free-form JSON object (the SDK always sends at least {}); an absent body counts as {}."""


class LocationLifecycleRequest(Request):
    charger_ids: list[Annotated[str, Field(min_length=1, max_length=100)]] | None = Field(
        default=None, max_length=MAX_BULK
    )


class ChargerResponse(Response):
    id: str
    identity: str
    name: str | None = None
    vendor_name: str | None = None
    model: str | None = None
    image_url: str | None = None
    ocpp_version: str | None = None
    number_of_connectors: int | None = None
    max_charging_power: int | None = None
    connector_type: str | None = None
    location_id: str | None = None
    brand_slug: str | None = Field(default=None, description="extension")
    model_slug: str | None = Field(default=None, description="extension")
    ws_url: str | None = Field(default=None, description="extension")
    desired_state: str | None = Field(default=None, description="extension: running | stopped")
    has_authorization_key: bool | None = Field(default=None, description="extension (the key is never shown)")
    current_type: str | None = Field(default=None, description="extension: ac | dc")
    runtime_status: str | None = Field(
        default=None, description="extension: stopped | connecting | connected | booted | rejected"
    )
    connected_at: datetime | None = Field(default=None, description="extension")
    last_frame_at: datetime | None = Field(default=None, description="extension")
    heartbeat_interval: int | None = Field(default=None, description="extension: seconds, from the CSMS")
    connectors: list[dict[str, Any]] | None = Field(
        default=None,
        description="extension: each connector's status (evse_id, connector_id, status, error_code, transaction_id)",
    )
    created_at: datetime | None = None
    updated_at: datetime | None = None


class ChargerListResponse(Response):
    data: list[ChargerResponse]
    total: int
    page: int
    limit: int
