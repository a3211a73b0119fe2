"""A location: a site with an address and coordinates, to which chargers are bound."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain import values
from domain.errors import Conflict, Deleted, InvalidValue


def _normalize(field: str, value: Any) -> Any:
    """Validates one location field and returns it in its stored form."""
    if field in ("name", "address", "city"):
        return values.text(field, value)
    if field == "country":
        return values.country(value)
    if field == "slug":
        return values.slug(value)
    if field == "coordinates":
        if isinstance(value, values.Coordinates):
            return value.as_dict()
        if not isinstance(value, dict):
            raise InvalidValue("coordinates", "must be an object with latitude and longitude")
        return values.Coordinates(value.get("latitude"), value.get("longitude")).as_dict()  # type: ignore[arg-type]
    if field in ("timezone", "owner_name", "status"):
        return values.text(field, value, max_length=100)
    if field == "public":
        if not isinstance(value, bool):
            raise InvalidValue("public", "must be true or false")
        return value
    raise InvalidValue(field, "is not a location field")


class Location(Aggregate):
    """A site of one tenant. It knows its chargers, so it cannot be deleted from under them."""

    @classmethod
    def open(
        cls,
        tenant_id: str,
        slug: str,
        name: str,
        address: str,
        city: str,
        country: str,
        coordinates: values.Coordinates,
        timezone: str | None = None,
        owner_name: str | None = None,
        public: bool | None = None,
    ) -> Location:
        """Opens a new location after checking every field."""
        fields = {
            "slug": slug,
            "name": name,
            "address": address,
            "city": city,
            "country": country,
            "coordinates": coordinates,
            "timezone": timezone,
            "owner_name": owner_name,
            "public": public,
        }
        site = {k: _normalize(k, v) for k, v in fields.items() if v is not None}
        return cls(tenant_id=values.org_id(tenant_id), site=site)

    @event("Created")
    def __init__(self, tenant_id: str, site: dict[str, Any]) -> None:
        self.tenant_id = tenant_id
        self.site: dict[str, Any] = {"status": "active", "public": False, **site}
        self.charger_ids: set[UUID] = set()
        self.deleted = False

    def update(self, changes: dict[str, Any]) -> None:
        """Changes the given fields (absent or null fields stay as they are)."""
        self._check_live()
        normalized = {k: _normalize(k, v) for k, v in changes.items() if v is not None}
        normalized = {k: v for k, v in normalized.items() if self.site.get(k) != v}
        if normalized:
            self._updated(changes=normalized)

    @event("Updated")
    def _updated(self, changes: dict[str, Any]) -> None:
        self.site.update(changes)

    def attach(self, charger_id: UUID) -> None:
        """Binds a charger to this location."""
        self._check_live()
        if charger_id not in self.charger_ids:
            self._charger_attached(charger_id=charger_id)

    @event("ChargerAttached")
    def _charger_attached(self, charger_id: UUID) -> None:
        self.charger_ids.add(charger_id)

    def detach(self, charger_id: UUID) -> None:
        """Unbinds a charger (it was deleted or moved elsewhere)."""
        if charger_id in self.charger_ids:
            self._charger_detached(charger_id=charger_id)

    @event("ChargerDetached")
    def _charger_detached(self, charger_id: UUID) -> None:
        self.charger_ids.discard(charger_id)

    def delete(self) -> None:
        """Deletes the location. Refused while chargers are still bound to it: delete or move them first."""
        self._check_live()
        if self.charger_ids:
            raise Conflict(f"location still has {len(self.charger_ids)} charger(s): delete or move them first")
        self._deleted()

    @event("Deleted")
    def _deleted(self) -> None:
        self.deleted = True

    def _check_live(self) -> None:
        if self.deleted:
            raise Deleted("location")
