"""The contract's pydantic models, named as in api.md (and as the vendor SDK names them)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, RootModel

from domain import values
from domain.command import FAULT_ERROR_CODES
from domain.errors import InvalidValue
from simulator.proxy import PROXY_ACTIONS


def _domain(check: Any) -> Any:
    """Runs a domain value check inside pydantic, so a bad value answers 422 at its field."""

    def validate(value: Any) -> Any:
        try:
            return check(value)
        except InvalidValue as error:
            raise ValueError(error.message) from None

    return AfterValidator(validate)


def _timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidValue("timezone", "must be an IANA time zone name such as 'Europe/Paris'") from None
    return value


def _utc(value: datetime) -> datetime:
    """Query moments in UTC (naive means UTC); a moment that leaves the calendar once in UTC is a 422."""
    try:
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    except (OverflowError, ValueError):
        raise ValueError("is out of range once converted to UTC") from None


UtcDateTime = Annotated[datetime, AfterValidator(_utc)]
Text = Annotated[str, Field(min_length=1, max_length=200)]
ShortText = Annotated[str, Field(min_length=1, max_length=100)]
Country = Annotated[str, _domain(values.country)]
Timezone = Annotated[str, Field(max_length=100), _domain(_timezone)]
WsUrl = Annotated[str, _domain(values.csms_url)]
OcppVersionText = Annotated[str, _domain(lambda v: values.OcppVersion.parse(v).value)]
Identity = Annotated[str, _domain(values.identity)]
Slug = Annotated[str, _domain(values.slug)]


class Request(BaseModel):
    """Request bodies ignore unknown keys (as FastAPI does)."""

    model_config = ConfigDict(extra="ignore")


class Coordinates(Request):
    latitude: float = Field(ge=-90, le=90, allow_inf_nan=False)
    longitude: float = Field(ge=-180, le=180, allow_inf_nan=False)


class CreateLocationRequest(Request):
    name: Text
    address: Text
    city: Text
    country: Country
    coordinates: Coordinates
    timezone: Timezone | None = None
    owner_name: ShortText | None = None
    public: bool | None = None


class UpdateLocationRequest(Request):
    slug: Slug | None = None
    name: Text | None = None
    address: Text | None = None
    city: Text | None = None
    country: Country | None = None
    coordinates: Coordinates | None = None
    timezone: Timezone | None = None
    owner_name: ShortText | None = None
    public: bool | None = None
    status: ShortText | None = None


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


class UpdateLocationChargerItem(UpdateChargerRequest):
    charger_id: Annotated[str, Field(min_length=1, max_length=100)]


MAX_BULK = 1000


class CreateLocationChargersRequest(Request):
    chargers: list[CreateChargerRequest] = Field(max_length=MAX_BULK)


class UpdateLocationChargersRequest(Request):
    chargers: list[UpdateLocationChargerItem] = Field(max_length=MAX_BULK)


class LooseItems(Request):
    """Bulk bodies validate the list shape only; each item is then validated on its own (partial success)."""

    chargers: list[dict[str, Any]] = Field(max_length=MAX_BULK)


class DeleteLocationChargersRequest(Request):
    charger_ids: list[Annotated[str, Field(max_length=100)]] = Field(max_length=MAX_BULK)


MAX_INT = 2**31 - 1
MAX_PAGE = 1_000_000_000  # keeps OFFSET within SQLite's integers


class PageQuery(Request):
    page: int = Field(default=1, ge=1, le=MAX_PAGE)
    limit: int = Field(default=50, ge=1, le=100)


class ChargerListQuery(PageQuery):
    location_id: Annotated[str, Field(max_length=100)] | None = None


class LocationChargersQuery(PageQuery):
    charger_ids: list[Annotated[str, Field(min_length=1, max_length=100)]] | None = Field(
        default=None, max_length=MAX_BULK
    )


class ChargerLifecycleRequest(RootModel[dict[str, Any]]):
    """Free-form JSON object (the SDK always sends at least {}); an absent body counts as {}."""


class LocationLifecycleRequest(Request):
    charger_ids: list[Annotated[str, Field(min_length=1, max_length=100)]] | None = Field(
        default=None, max_length=MAX_BULK
    )


class LogQuery(Request):
    start_date: UtcDateTime | None = None
    end_date: UtcDateTime | None = None
    event: Annotated[str, Field(max_length=100)] | None = None
    limit: int = Field(default=100, ge=1, le=1000)
    offset: int = Field(default=0, ge=0, le=10**12)


class OrganizationRequest(Request):
    id: Annotated[str, _domain(values.org_id)]


# -- commands --------------------------------------------------------------------------------------------

ConnectorNumber = Annotated[int, Field(ge=0, le=1000)]
IdTag = Annotated[str, Field(min_length=1, max_length=36, description="OCPP 1.6 idTag: at most 20 characters")]
ChargerIds = Annotated[
    list[Annotated[str, Field(min_length=1, max_length=100)]] | None,
    Field(default=None, max_length=MAX_BULK, description="omitted or null: every charger of the location"),
]
FaultType = Literal[tuple(FAULT_ERROR_CODES)]  # type: ignore[valid-type]
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


class PowerUpdateRequest(ConnectorSelectionRequest):
    power_w: int = Field(ge=0, le=10_000_000, description="W; capped at the model's maximum power")


class ProxyMessageRequest(Request):
    payload: dict[str, Any]


class ProxyMessageQuery(Request):
    action: ProxyActionName
    ocpp_version: Literal["ocpp1.6", "ocpp2.0.1"]


class ConfigurationQuery(Request):
    keys: Annotated[str, Field(max_length=10_000, description="comma-separated keys; omitted: all")] | None = None


class ConfigurationUpdateRequest(RootModel[dict[Annotated[str, Field(min_length=1, max_length=200)], str]]):
    """A flat JSON object of configuration key -> value (strings)."""


class InjectFaultQuery(ConnectorSelectionRequest):
    fault_type: FaultType


class LocalAuthListEntry(Request):
    id_tag: IdTag
    expiry_date: UtcDateTime | None = None
    parent_id_tag: IdTag | None = None


class SendLocalListRequest(Request):
    list_version: int = Field(ge=1, le=MAX_INT)
    entries: list[LocalAuthListEntry] = Field(max_length=10_000)


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


class LocationInjectFaultRequest(InjectFaultQuery):
    charger_ids: ChargerIds


class LocationClearFaultRequest(LocationConnectorRequest):
    pass


# -- responses ----------------------------------------------------------------------------------------


class Response(BaseModel):
    model_config = ConfigDict(extra="allow")


class BrandResponse(Response):
    id: str
    slug: str
    name: str
    image_url: str | None = None
    created_at: datetime | None = None


class BrandListResponse(Response):
    data: list[BrandResponse]
    total: int
    page: int
    limit: int


class ModelResponse(Response):
    id: str
    slug: str
    name: str
    brand_slug: str | None = None
    brand_id: str | None = None
    image_url: str | None = None
    connector_count: int | None = None
    current_type: str | None = None
    supported_kwh: list[float] | None = None
    connector_types: list[str] | None = None
    created_at: datetime | None = None


class ModelListResponse(Response):
    data: list[ModelResponse]
    total: int
    page: int
    limit: int


class LocationResponse(Response):
    id: str
    slug: str | None = None
    name: str | None = None
    address: str | None = None
    city: str | None = None
    country: str | None = None
    coordinates: Coordinates | None = None
    timezone: str | None = None
    owner_name: str | None = None
    public: bool | None = None
    status: str | None = None
    charger_count: int | None = Field(default=None, description="extension: chargers bound to the location")
    created_at: datetime | None = None
    updated_at: datetime | None = None


class LocationListResponse(Response):
    data: list[LocationResponse]
    total: int
    page: int
    limit: int


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


class LocationCreateChargerFailure(Response):
    identity: str | None = None
    error: str


class CreateLocationChargersResponse(Response):
    created_count: int
    failed_count: int
    created: list[ChargerResponse]
    failed: list[LocationCreateChargerFailure]


class LocationUpdateChargerFailure(Response):
    charger_id: str | None = None
    error: str


class UpdateLocationChargersResponse(Response):
    updated_count: int
    failed_count: int
    updated: list[ChargerResponse]
    failed: list[LocationUpdateChargerFailure]


class LocationDeleteChargerFailure(Response):
    charger_id: str | None = None
    error: str


class DeleteLocationChargersResponse(Response):
    deleted_count: int
    failed_count: int
    deleted: list[str]
    failed: list[LocationDeleteChargerFailure]


class OrganizationResponse(Response):
    id: str
    registered_at: datetime


class OrganizationListResponse(Response):
    data: list[OrganizationResponse]
    total: int


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


class ChargerLogEntry(Response):
    direction: str
    action: str
    message: str | None = None
    timestamp: datetime | None = None


class ChargerLogListResponse(Response):
    data: list[ChargerLogEntry]
    total: int
    limit: int
    offset: int


class EventQuery(Request):
    after: int = Field(default=0, ge=0, le=2**62, description="position, exclusive")
    limit: int = Field(default=100, ge=1, le=1000)
    type: list[Annotated[str, Field(max_length=100)]] | None = Field(default=None, max_length=50)
    aggregate_id: Annotated[str, Field(max_length=100)] | None = None
    since: UtcDateTime | None = None
    until: UtcDateTime | None = None


class AsOfQuery(Request):
    as_of: UtcDateTime | None = Field(default=None, description="extension: the state at that moment (ISO-8601)")


class EventActor(Response):
    sub: str | None = None
    role: str | None = None


class EventRecord(Response):
    position: int
    id: str
    type: str
    aggregate_type: str
    aggregate_id: str
    version: int
    timestamp: datetime
    tenant_id: str
    actor: EventActor
    request_id: str | None = None
    data: dict[str, Any]


class EventPage(Response):
    data: list[EventRecord]
    next_after: int | None = None


class ConfigurationEntry(Response):
    key: str
    value: str | None = None
    readonly: bool | None = Field(default=None, description="extension")


class ConfigurationResponse(Response):
    configuration: list[ConfigurationEntry]


class ConfigurationChangeResponse(Response):
    status: str
    configured: list[str]
    msg: str
    command_id: str | None = Field(default=None, description="extension: the command record")


class CacheResetResponse(Response):
    msg: str
    cleared_entries: int
    command_id: str | None = Field(default=None, description="extension: the command record")


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


class LocalAuthListEntryResponse(Response):
    id_tag: str
    expiry_date: datetime | None = None
    parent_id_tag: str | None = None


class LocalAuthorizationListResponse(Response):
    data: list[LocalAuthListEntryResponse]
    total: int
    page: int
    limit: int
    list_version: int | None = Field(default=None, description="extension")


class LocalListMutationResponse(Response):
    status: str | None = None
    list_version: int | None = None
    entries_received: int | None = None
    msg: str | None = None
    entries_deleted: int | None = None
    command_id: str | None = Field(default=None, description="extension: the command record")
