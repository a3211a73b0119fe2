"""Use cases of chargers: register, update, move and delete them; their identities and authorization keys."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from application.base import GatewayBase
from application.ports import Actor
from application.results import Written
from domain import values
from domain.charger import Charger, IdentityIndex, delete_charger, identity_index_id, move_charger, register_charger
from domain.errors import Conflict
from domain.location import Location


class ChargerUseCases(GatewayBase):
    """A charger is saved with its location and the index that claims its identity in the tenant."""

    def create_charger(
        self,
        actor: Actor,
        location_id: UUID,
        identity: str,
        brand_slug: str,
        model_slug: str,
        connector_type: str,
        ws_url: str,
        ocpp_version: str | None = None,
        name: str | None = None,
        authorization_key: str | None = None,
        tls: dict[str, Any] | None = None,
    ) -> Written:
        """Registers a charger. Replaying the same create (the SDK retries after a 5xx) answers the same charger.

        `tls`: security_profile, csms_ca_certificate, client_certificate, client_private_key (PEM, clear text
        here: sealed before it is recorded), each optional; the adapter checked that the PEM parses."""
        model = self.catalog.model(brand_slug, model_slug)
        tls = {k: v for k, v in (tls or {}).items() if v not in (None, "")}

        def decide() -> Written:
            index = self._get_or_none(IdentityIndex, identity_index_id(actor.tenant_id, identity))
            if index is not None and index.charger_id is not None:
                existing = self.repository.get(index.charger_id)
                if _same_registration(
                    existing, location_id, brand_slug, model_slug, connector_type, ws_url, ocpp_version, name
                ) and (
                    (authorization_key is None or self.unsealed_key(existing) == authorization_key)
                    and self._same_tls(existing, tls)
                ):
                    return Written(existing.id, self.recorder.max_notification_id() or 0, created=False)
                raise Conflict(f"a charger with identity '{identity}' already exists")
            location = self._owned(Location, actor, location_id, "location")
            charger, index = register_charger(
                actor.tenant_id,
                location,
                index,
                identity,
                model,
                connector_type,
                ocpp_version,
                ws_url,
                name,
                self._sealed(authorization_key),
                self._sealed_tls(tls),
            )
            return Written(charger.id, self._save(actor, charger, index, location))

        return self._retrying(decide)

    def update_charger(
        self, actor: Actor, charger_id: UUID, changes: dict[str, Any], location_id: UUID | None = None
    ) -> Written:
        def decide() -> Written:
            charger = self._owned(Charger, actor, charger_id, "charger")
            charger.update(self._sealed_client_key_change(charger, self._sealed_key_change(charger, changes)))
            changed: list[Aggregate] = [charger]
            if location_id is not None and location_id != charger.location_id:
                source = self.repository.get(charger.location_id)
                target = self._owned(Location, actor, location_id, "location")
                move_charger(charger, source, target)
                changed += [source, target]
            return Written(charger.id, self._save(actor, *changed))

        return self._retrying(decide)

    def delete_charger(self, actor: Actor, charger_id: UUID) -> Written:
        def decide() -> Written:
            charger = self._owned(Charger, actor, charger_id, "charger")
            location = self.repository.get(charger.location_id)
            index = self.repository.get(identity_index_id(charger.tenant_id, charger.identity))
            delete_charger(charger, location, index)
            return Written(charger.id, self._save(actor, charger, location, index))

        return self._retrying(decide)

    def charger_id_for_identity(self, actor: Actor, identity: str) -> UUID | None:
        """Resolves a charger identity of the actor's tenant (routes accept either the id or the identity)."""
        index = self._get_or_none(IdentityIndex, identity_index_id(actor.tenant_id, identity))
        return index.charger_id if index is not None else None

    # -- the authorization key -------------------------------------------------------------------------

    def _sealed_key_change(self, charger: Charger, changes: dict[str, Any]) -> dict[str, Any]:
        """Seals a new authorization key; the same key again is no change (sealing is randomized)."""
        key = changes.get("authorization_key")
        if key is None:
            return changes
        if key == (self.unsealed_key(charger) or ""):
            return {k: v for k, v in changes.items() if k != "authorization_key"}
        return {**changes, "authorization_key": self._sealed(key) or ""}

    def _sealed_client_key_change(self, charger: Charger, changes: dict[str, Any]) -> dict[str, Any]:
        """Seals a new client private key; the same key again is no change."""
        key = changes.get("client_private_key")
        if key is None:
            return changes
        if key == (self.unsealed_client_key(charger) or ""):
            return {k: v for k, v in changes.items() if k != "client_private_key"}
        return {**changes, "client_private_key": self._sealed(key) or ""}

    def _sealed_tls(self, tls: dict[str, Any]) -> dict[str, Any]:
        if "client_private_key" not in tls:
            return tls
        return {**tls, "client_private_key": self._sealed(tls["client_private_key"])}

    def _same_tls(self, charger: Charger, tls: dict[str, Any]) -> bool:
        """Whether a replayed create names the TLS settings the charger has (the key compared unsealed)."""
        for field, value in tls.items():
            held = self.unsealed_client_key(charger) if field == "client_private_key" else getattr(charger, field)
            if held != value:
                return False
        return True

    def unsealed_client_key(self, charger: Charger) -> str | None:
        """The charger's TLS client private key (PEM) in clear text, for the simulator's TLS context only."""
        if not charger.client_private_key or self.secrets is None:
            return None
        return self.secrets.unseal(charger.client_private_key)

    def _sealed(self, secret: str | None) -> str | None:
        if not secret:
            return None
        if self.secrets is None:
            raise RuntimeError("no secret box configured: cannot keep a secret (authorization or private key)")
        return self.secrets.seal(secret)

    def unsealed_key(self, charger: Charger) -> str | None:
        """The charger's authorization key in clear text, for the simulator's HTTP Basic auth only."""
        if not charger.authorization_key or self.secrets is None:
            return None
        return self.secrets.unseal(charger.authorization_key)


def _same_registration(
    charger: Charger,
    location_id: UUID,
    brand_slug: str,
    model_slug: str,
    connector_type: str,
    ws_url: str,
    ocpp_version: str | None,
    name: str | None,
) -> bool:
    """Whether a create request repeats the one that registered this charger."""
    try:
        version = values.OcppVersion.parse(ocpp_version or values.OcppVersion.V16.value).value
    except Exception:  # noqa: BLE001 - an invalid version is simply not the same request
        return False
    return (
        not charger.deleted
        and charger.location_id == location_id
        and charger.model["brand_slug"] == brand_slug
        and charger.model["model_slug"] == model_slug
        and charger.connector_type == connector_type
        and charger.ws_url == ws_url.strip()
        and charger.ocpp_version == version
        and (name is None or charger.name == name.strip())
    )
