"""A charger (its desired state, as the API sets it) and the index that keeps identities unique per tenant."""

from __future__ import annotations

from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain import values
from domain.catalog import ChargerModel
from domain.errors import Conflict, Deleted, InvalidValue, NotFound
from domain.location import Location


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
        self.running = True
        self.deleted = False

    def update(self, changes: dict[str, Any]) -> None:
        """Changes name, connector type, OCPP version or CSMS URL (absent or null fields stay as they are)."""
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
            else:
                raise InvalidValue(field, "is not a charger field that can be updated here")
        normalized = {k: v for k, v in normalized.items() if getattr(self, k) != v}
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
) -> tuple[Charger, IdentityIndex]:
    """Registers a charger in an existing location of its own tenant, under an identity no other charger holds."""
    _check_location(tenant_id, location)
    identity = values.identity(identity)
    charger = Charger(
        tenant_id=tenant_id,
        location_id=location.id,
        identity=identity,
        model=model.snapshot(),
        connector_type=model.connector(connector_type),
        ocpp_version=values.OcppVersion.parse(ocpp_version or values.OcppVersion.V16.value).value,
        ws_url=values.csms_url(ws_url),
        name=values.text("name", name) if name is not None else identity,
        authorization_key=authorization_key or None,
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
