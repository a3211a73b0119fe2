"""The gateway application: tenants, locations and chargers as event-sourced aggregates."""

from __future__ import annotations

import random
import secrets
import time
from collections.abc import Callable
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, JSONTranscoder, Transcoding

from application.commands import CommandUseCases
from application.ports import Actor, Catalog, SecretBox
from application.simulation import LifecycleUseCases, SimulatorUseCases
from domain import values
from domain.charger import Charger, IdentityIndex, delete_charger, identity_index_id, move_charger, register_charger
from domain.errors import Conflict, Contended, NotFound
from domain.location import Location
from domain.runtime import ChargerRuntime
from domain.tenant import Tenant, tenant_uuid

A = TypeVar("A", bound=Aggregate)
R = TypeVar("R")
SAVE_ATTEMPTS = 12


class SetAsList(Transcoding):
    """Lets snapshots carry sets (a location's charger ids)."""

    type = set
    name = "set"

    def encode(self, obj: set) -> list:
        return sorted(obj, key=str)

    def decode(self, data: list) -> set:
        return set(data)


class Written:
    """What a write use case returns: the aggregate id and the log position that makes it visible."""

    __slots__ = ("created", "id", "position")

    def __init__(self, id: UUID, position: int, created: bool = True) -> None:
        self.id = id
        self.position = position
        self.created = created


class Gateway(LifecycleUseCases, CommandUseCases, SimulatorUseCases, Application[UUID]):
    """Records every change as events that carry who caused them; decisions stay in the aggregates."""

    name = "Gateway"
    is_snapshotting_enabled = True
    snapshotting_intervals = {Location: 200, Charger: 200, ChargerRuntime: 200}  # noqa: RUF012 - library attribute

    def __init__(self, catalog: Catalog, env: dict[str, str] | None = None, secrets: SecretBox | None = None) -> None:
        super().__init__(env=env)
        self.catalog = catalog
        self.secrets = secrets
        self._known_tenants: set[str] = set()
        self.saved_listeners: list[Callable[[int], None]] = []

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(SetAsList())

    # -- tenants ---------------------------------------------------------------------------------------

    def ensure_tenant(self, actor: Actor) -> int | None:
        """Records the tenant the first time a valid token names it; returns the position if it was new."""
        org = actor.tenant_id
        if org in self._known_tenants:
            return None
        try:
            self.repository.get(tenant_uuid(org))
            position = None
        except AggregateNotFoundError:
            try:
                position = self._save(actor, Tenant(org_id=org))
            except IntegrityError:  # registered concurrently by another request or process
                position = None
        self._known_tenants.add(org)
        return position

    def knows_tenant(self, org_id: str) -> bool:
        """Whether this process has already seen the tenant recorded (no store access)."""
        return org_id in self._known_tenants

    def tenant_exists(self, org_id: str) -> bool:
        if org_id in self._known_tenants:
            return True
        try:
            self.repository.get(tenant_uuid(values.org_id(org_id)))
        except AggregateNotFoundError:
            return False
        self._known_tenants.add(org_id)
        return True

    # -- locations -------------------------------------------------------------------------------------

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

    # -- chargers --------------------------------------------------------------------------------------

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
    ) -> Written:
        """Registers a charger. Replaying the same create (the SDK retries after a 5xx) answers the same charger."""
        model = self.catalog.model(brand_slug, model_slug)

        def decide() -> Written:
            index = self._get_or_none(IdentityIndex, identity_index_id(actor.tenant_id, identity))
            if index is not None and index.charger_id is not None:
                existing = self.repository.get(index.charger_id)
                if _same_registration(
                    existing, location_id, brand_slug, model_slug, connector_type, ws_url, ocpp_version, name
                ) and (authorization_key is None or self.unsealed_key(existing) == authorization_key):
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
            )
            return Written(charger.id, self._save(actor, charger, index, location))

        return self._retrying(decide)

    def update_charger(
        self, actor: Actor, charger_id: UUID, changes: dict[str, Any], location_id: UUID | None = None
    ) -> Written:
        def decide() -> Written:
            charger = self._owned(Charger, actor, charger_id, "charger")
            charger.update(self._sealed_key_change(charger, changes))
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

    def history(self, actor: Actor, aggregate_id: UUID, kind: type[Aggregate]) -> list[Any]:
        """Every event of one of the tenant's aggregates, deleted or not, in order (for auditors and `as_of`)."""
        events = list(self.events.get(aggregate_id))
        created = events[0] if events else None
        if created is None or getattr(created, "tenant_id", None) != actor.tenant_id:
            raise NotFound(kind.__name__.lower(), aggregate_id)
        if not created.originator_topic.endswith(f":{kind.__name__}"):
            raise NotFound(kind.__name__.lower(), aggregate_id)
        return events

    def charger_id_for_identity(self, actor: Actor, identity: str) -> UUID | None:
        """Resolves a charger identity of the actor's tenant (routes accept either the id or the identity)."""
        index = self._get_or_none(IdentityIndex, identity_index_id(actor.tenant_id, identity))
        return index.charger_id if index is not None else None

    # -- plumbing --------------------------------------------------------------------------------------

    def position(self) -> int:
        """The position of the newest event in the log (0 when the log is empty)."""
        return self.recorder.max_notification_id() or 0

    def _sealed_key_change(self, charger: Charger, changes: dict[str, Any]) -> dict[str, Any]:
        """Seals a new authorization key; the same key again is no change (sealing is randomized)."""
        key = changes.get("authorization_key")
        if key is None:
            return changes
        if key == (self.unsealed_key(charger) or ""):
            return {k: v for k, v in changes.items() if k != "authorization_key"}
        return {**changes, "authorization_key": self._sealed(key) or ""}

    def _sealed(self, secret: str | None) -> str | None:
        if not secret:
            return None
        if self.secrets is None:
            raise RuntimeError("no secret box configured: cannot keep an authorization key")
        return self.secrets.seal(secret)

    def unsealed_key(self, charger: Charger) -> str | None:
        """The charger's authorization key in clear text, for the simulator's HTTP Basic auth only."""
        if not charger.authorization_key or self.secrets is None:
            return None
        return self.secrets.unseal(charger.authorization_key)

    def _owned(self, cls: type[A], actor: Actor, aggregate_id: UUID, kind: str) -> A:
        """The live aggregate of the actor's tenant; other tenants' and deleted ones do not exist."""
        aggregate = self._get_or_none(cls, aggregate_id)
        if aggregate is None or aggregate.tenant_id != actor.tenant_id or aggregate.deleted:
            raise NotFound(kind, aggregate_id)
        return aggregate

    def _get_or_none(self, cls: type[A], aggregate_id: UUID) -> A | None:
        try:
            aggregate = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None
        return aggregate if isinstance(aggregate, cls) else None

    def _save(self, actor: Actor, *aggregates: Aggregate) -> int:
        """Saves the aggregates atomically; every event records its cause. Returns the last position."""
        metadata = actor.metadata()
        for aggregate in aggregates:
            for pending in aggregate.pending_events:
                object.__setattr__(pending, "meta", metadata)
        recordings = self.save(*aggregates)
        position = recordings[-1].notification.id if recordings else self.position()
        self.notify_saved(position)
        return position

    def notify_saved(self, position: int) -> None:
        """Tells in-process followers (simulator, views) that the log grew, so they need not wait for a poll."""
        for listener in self.saved_listeners:
            listener(position)

    @staticmethod
    def _retrying(decide: Callable[[], R]) -> R:
        """Runs load-decide-save again when another writer got there first (optimistic concurrency)."""
        for attempt in range(SAVE_ATTEMPTS):
            try:
                return decide()
            except IntegrityError:
                time.sleep(random.uniform(0, min(0.05, 0.002 * 2**attempt)))  # writers in step: spread them out
        raise Contended("too many concurrent changes to the same resource: retry")


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
