"""Chargers: create, update, list, read, and the lifecycle (start / stop / reset) bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, RootModel, ValidationInfo, field_validator

from adapters import certificates
from adapters.http.models.common import MAX_BULK, PageQuery, Request, Response, Text, domain_check
from domain import values

WsUrl = Annotated[str, domain_check(values.csms_url)]
OcppVersionText = Annotated[str, domain_check(lambda v: values.OcppVersion.parse(v).value)]
Identity = Annotated[str, domain_check(values.identity)]
AuthorizationKey = Annotated[str, Field(min_length=8, max_length=64, description="extension: HTTP Basic password")]
SecurityProfile = Annotated[
    Literal[1, 2, 3],
    Field(
        description="extension: OCPP security profile (1: Basic auth, 2: TLS + Basic auth, 3: TLS client "
        "certificate); default 2 for wss://, 1 for ws://"
    ),
]


def _unless_empty(check: Any) -> Any:
    """A PEM check that lets "" through (an update's way to remove the value)."""
    return AfterValidator(lambda value: value and check(value))


CaBundle = Annotated[
    str,
    Field(max_length=certificates.MAX_BUNDLE, description="extension: PEM CA bundle that verifies the CSMS (wss://)"),
    _unless_empty(certificates.check_ca_bundle),
]
ClientCertificate = Annotated[
    str,
    Field(max_length=certificates.MAX_PEM, description="extension: PEM client certificate (chain), profile 3"),
    _unless_empty(certificates.check_client_certificate),
]
ClientPrivateKey = Annotated[
    str,
    Field(
        max_length=certificates.MAX_PEM, description="extension: PEM private key of client_certificate (never shown)"
    ),
    _unless_empty(certificates.check_private_key),
]


class TlsFields(Request):
    """Security profile and TLS material; a client certificate and its key are given (or removed) together."""

    security_profile: SecurityProfile | None = None
    csms_ca_certificate: CaBundle | None = None
    client_certificate: ClientCertificate | None = None
    client_private_key: ClientPrivateKey | None = Field(default=None, validate_default=True)

    @field_validator("client_private_key")
    @classmethod
    def _key_fits(cls, key: str | None, info: ValidationInfo) -> str | None:
        if "client_certificate" not in info.data:
            return key  # the certificate itself failed: reported there
        certificate = info.data["client_certificate"]
        if (key is None) != (certificate is None) or (key == "") != (certificate == ""):
            raise ValueError("client_certificate and client_private_key must be given (or removed) together")
        if key and certificate and not certificates.key_fits_certificate(key, certificate):
            raise ValueError("client_private_key does not match the public key of client_certificate")
        return key

    def tls(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in TlsFields.model_fields}


class CreateChargerRequest(TlsFields):
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


class UpdateChargerRequest(TlsFields):
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
    security_profile: int | None = Field(default=None, description="extension: OCPP security profile 1 | 2 | 3")
    has_csms_ca_certificate: bool | None = Field(default=None, description="extension: a CA bundle verifies the CSMS")
    has_client_certificate: bool | None = Field(
        default=None, description="extension: a client certificate and key (the key is never shown)"
    )
    client_certificate_subject: str | None = Field(default=None, description="extension: RFC 4514 subject")
    client_certificate_serial: str | None = Field(default=None, description="extension: serial number, hex")
    client_certificate_expiry: datetime | None = Field(default=None, description="extension: notAfter (UTC)")
    current_type: str | None = Field(default=None, description="extension: ac | dc")
    runtime_status: str | None = Field(
        default=None, description="extension: stopped | connecting | connected | booted | rejected"
    )
    runtime_error: str | None = Field(
        default=None, description="extension: why the last connection attempt failed (TLS, HTTP, network)"
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
