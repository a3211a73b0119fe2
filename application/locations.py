"""Use cases of locations: open, update and delete a tenant's sites."""

from __future__ import annotations

import secrets
from typing import Any
from uuid import UUID

from application.base import GatewayBase
from application.ports import Actor
from application.results import Written
from domain import values
from domain.location import Location


class LocationUseCases(GatewayBase):
    """A location's slug is its name's stem plus a random suffix; updates and deletes retry on contention."""

    def create_location(self, actor: Actor, fields: dict[str, Any]) -> Written:
        stem = values.slugify(values.text("name", fields.get("name")))
        location = Location.open(
            tenant_id=actor.tenant_id,
            slug=f"{stem}-{secrets.token_hex(4)}",
            **{k: v for k, v in fields.items() if k != "slug"},
        )
        return Written(location.id, self._save(actor, location))

    def update_location(self, actor: Actor, location_id: UUID, changes: dict[str, Any]) -> Written:
        def decide() -> Written:
            location = self._owned(Location, actor, location_id, "location")
            location.update(changes)
            return Written(location.id, self._save(actor, location))

        return self._retrying(decide)

    def delete_location(self, actor: Actor, location_id: UUID) -> Written:
        def decide() -> Written:
            location = self._owned(Location, actor, location_id, "location")
            location.delete()
            return Written(location.id, self._save(actor, location))

        return self._retrying(decide)
