"""A charger (its desired state, as the API sets it) and the index that keeps identities unique per tenant."""

from __future__ import annotations

from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain import values
from domain.catalog import ChargerModel
from domain.errors import Conflict, Deleted, InvalidValue, NotFound
from domain.location import Location
from domain.security import check_profile, effective_profile

TLS_FIELDS = ("security_profile", "csms_ca_certificate", "client_certificate", "client_private_key")


class IdentityIndex(Aggregate):
    """Which charger holds an identity in a tenant: uniqueness becomes an optimistic-concurrency check."""

    @staticmethod
    def create_id(tenant_id: str, identity: str) -> UUID:
        return identity_index_id(tenant_id, identity)

    @event("Claimed")
    def __init__(self, tenant_id: str, identity: str, charger_id: UUID) -> None:
        self.tenant_id = tenant_id
        self.identity = identity
        self.charger_id: UUID | None = charger_id

    def claim(self, charger_id: UUID) -> None:
        if self.charger_id is not None and self.charger_id != charger_id:
            raise Conflict(f"a charger with identity '{self.identity}' already exists")
        if self.charger_id is None:
            self._reclaimed(charger_id=charger_id)

    @event("Reclaimed")
    def _reclaimed(self, charger_id: UUID) -> None:
        self.charger_id = charger_id

    def release(self) -> None:
        if self.charger_id is not None:
            self._released()

    @event("Released")
    def _released(self) -> None:
        self.charger_id = None


def identity_index_id(tenant_id: str, identity: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"/tenants/{tenant_id}/charger-identities/{identity}")


class Charger(Aggregate):
    """What the user wants of one simulated charge point: model, protocol, CSMS, location, running or not."""

    # Added with security profiles 2 and 3: class defaults, so chargers recorded before them still load.
    security_profile: int | None = None  # None: 2 for wss://, 1 for ws://
    csms_ca_certificate: str | None = None  # PEM bundle verifying the CSMS (None: the system CAs)
    client_certificate: str | None = None  # PEM chain presented with profile 3
    client_private_key: str | None = None  # sealed by the application: never clear text in an event

    @event("Registered")
    def __init__(
        self,
        tenant_id: str,
        location_id: UUID,
        identity: str,
        model: dict[str, Any],
        connector_type: str,
        ocpp_version: str,
        ws_url: str,
        name: str,
        authorization_key: str | None = None,
        security_profile: int | None = None,
        csms_ca_certificate: str | None = None,
        client_certificate: str | None = None,
        client_private_key: str | None = None,
    ) -> None:
        self.tenant_id = tenant_id
        self.location_id = location_id
        self.identity = identity
        self.model = model
        self.connector_type = connector_type
        self.ocpp_version = ocpp_version
        self.ws_url = ws_url
        self.name = name
        self.authorization_key = authorization_key  # sealed by the application: never clear text in an event
        self.security_profile = security_profile
        self.csms_ca_certificate = csms_ca_certificate
        self.client_certificate = client_certificate
        self.client_private_key = client_private_key
        self.running = True
        self.deleted = False

    @property
    def effective_security_profile(self) -> int:
        return effective_profile(self.security_profile, self.ws_url)

    def update(self, changes: dict[str, Any]) -> None:
        """Changes name, connector type, OCPP version, CSMS URL, credentials or TLS settings (absent or null
        fields stay as they are; "" removes a credential or certificate)."""
        self._check_live()
        normalized: dict[str, Any] = {}
        for field, value in changes.items():
            if value is None:
                continue
            if field == "name":
                normalized[field] = values.text("name", value)
            elif field == "connector_type":
                normalized[field] = _fit_connector(self.model, value)
            elif field == "ocpp_version":
                normalized[field] = values.OcppVersion.parse(value).value
            elif field == "ws_url":
                normalized[field] = values.csms_url(value)
            elif field == "authorization_key":
                normalized[field] = value or None  # sealed text; "" removes the key
            elif field == "security_profile":
                normalized[field] = value
            elif field in ("csms_ca_certificate", "client_certificate", "client_private_key"):
                normalized[field] = value or None  # PEM (the key sealed); "" removes it
            else:
                raise InvalidValue(field, "is not a charger field that can be updated here")
        normalized = {k: v for k, v in normalized.items() if getattr(self, k) != v}
        if normalized.keys() & {"ws_url", *TLS_FIELDS}:
            after = {k: normalized.get(k, getattr(self, k)) for k in ("ws_url", *TLS_FIELDS)}
            _check_tls(
                after["security_profile"], after["ws_url"], after["client_certificate"], after["client_private_key"]
            )
        if normalized:
            self._updated(changes=normalized)

    @event("Updated")
    def _updated(self, changes: dict[str, Any]) -> None:
        for field, value in changes.items():
            setattr(self, field, value)

    def want_running(self, running: bool) -> None:
        """Starts or stops the simulated charge point (desired state; the simulator makes it so)."""
        self._check_live()
        if running != self.running:
            self._runtime_wanted(running=running)

    @event("RuntimeWanted")
    def _runtime_wanted(self, running: bool) -> None:
        self.running = running

    def require_running(self) -> None:
        """Commands need a running charge point: a stopped one refuses them."""
        self._check_live()
        if not self.running:
            raise Conflict("the charger is stopped: start the charger first")

    def move_to(self, location_id: UUID) -> None:
        self._check_live()
        if location_id != self.location_id:
            self._moved(location_id=location_id)

    @event("Moved")
    def _moved(self, location_id: UUID) -> None:
        self.location_id = location_id

    def delete(self) -> None:
        self._check_live()
        self._deleted()

    @event("Deleted")
    def _deleted(self) -> None:
        self.deleted = True
        self.running = False

    def _check_live(self) -> None:
        if self.deleted:
            raise Deleted("charger")


def _fit_connector(model: dict[str, Any], connector_type: str) -> str:
    if connector_type not in model["connector_types"]:
        raise InvalidValue(
            "connector_type",
            f"'{connector_type}' does not fit {model['brand_slug']}/{model['model_slug']} "
            f"(it has {', '.join(model['connector_types'])})",
        )
    return connector_type


def _check_tls(profile: int | None, ws_url: str, certificate: str | None, key: str | None) -> None:
    if bool(certificate) != bool(key):
        raise InvalidValue("client_certificate", "a client certificate and its private key go together")
    check_profile(profile, ws_url, bool(certificate and key))


def _check_location(tenant_id: str, location: Location) -> None:
    if location.tenant_id != tenant_id or location.deleted:
        raise NotFound("location", location.id)


def register_charger(
    tenant_id: str,
    location: Location,
    index: IdentityIndex | None,
    identity: str,
    model: ChargerModel,
    connector_type: str,
    ocpp_version: str | None,
    ws_url: str,
    name: str | None,
    authorization_key: str | None = None,
    tls: dict[str, Any] | None = None,
) -> tuple[Charger, IdentityIndex]:
    """Registers a charger in an existing location of its own tenant, under an identity no other charger holds.

    `tls`: security_profile, csms_ca_certificate, client_certificate, client_private_key (sealed), all optional."""
    _check_location(tenant_id, location)
    identity = values.identity(identity)
    ws_url = values.csms_url(ws_url)
    tls = {k: v for k, v in (tls or {}).items() if v not in (None, "")}
    if tls.keys() - set(TLS_FIELDS):
        raise InvalidValue(sorted(tls.keys() - set(TLS_FIELDS))[0], "is not a TLS setting of a charger")
    _check_tls(tls.get("security_profile"), ws_url, tls.get("client_certificate"), tls.get("client_private_key"))
    charger = Charger(
        tenant_id=tenant_id,
        location_id=location.id,
        identity=identity,
        model=model.snapshot(),
        connector_type=model.connector(connector_type),
        ocpp_version=values.OcppVersion.parse(ocpp_version or values.OcppVersion.V16.value).value,
        ws_url=ws_url,
        name=values.text("name", name) if name is not None else identity,
        authorization_key=authorization_key or None,
        **tls,
    )
    if index is None:
        index = IdentityIndex(tenant_id=tenant_id, identity=identity, charger_id=charger.id)
    else:
        index.claim(charger.id)
    location.attach(charger.id)
    return charger, index


def move_charger(charger: Charger, source: Location, target: Location) -> None:
    """Binds the charger to another location of its tenant."""
    _check_location(charger.tenant_id, target)
    charger.move_to(target.id)
    source.detach(charger.id)
    target.attach(charger.id)


def delete_charger(charger: Charger, location: Location, index: IdentityIndex) -> None:
    """Deletes the charger, unbinds it and frees its identity for reuse."""
    charger.delete()
    location.detach(charger.id)
    index.release()
