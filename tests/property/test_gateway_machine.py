"""A stateful hypothesis test: random command sequences against the application and a simple model.

After every step: the outcome matches the model (which commands succeed, which are refused), identities
are unique per tenant, every live charger sits in a live location of its own tenant, views folded from the
event log equal the model, and every aggregate rebuilt from its raw events equals the live one.
"""

from __future__ import annotations

from uuid import UUID

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, consumes, invariant, multiple, rule

from adapters.catalog.loader import default_catalog
from adapters.store.projections import CHARGER_PREFIX, LOCATION_PREFIX, fold_charger, fold_location
from application.gateway import Gateway
from application.ports import Actor
from domain.errors import Conflict, DomainError, InvalidValue, NotFound

TENANTS = st.sampled_from(["acme", "globex"])
IDENTITIES = st.sampled_from(["CP-1", "CP-2", "CP-3"])
SITE = {"address": "1 Main", "city": "Paris", "country": "FR", "coordinates": {"latitude": 1.0, "longitude": 2.0}}


def who(tenant: str) -> Actor:
    return Actor(sub="prop", role="user", tenant_id=tenant, request_id="r")


class GatewayMachine(RuleBasedStateMachine):
    locations = Bundle("locations")
    chargers = Bundle("chargers")

    def __init__(self) -> None:
        super().__init__()
        self.app = Gateway(default_catalog(), env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
        self.model_locations: dict[UUID, dict] = {}
        self.model_chargers: dict[UUID, dict] = {}

    def live_chargers(self, tenant: str) -> dict[UUID, dict]:
        return {k: c for k, c in self.model_chargers.items() if c["tenant"] == tenant and not c["deleted"]}

    def located_in(self, location_id: UUID) -> list[UUID]:
        return [k for k, c in self.model_chargers.items() if c["location"] == location_id and not c["deleted"]]

    def usable(self, tenant: str, location_id: UUID) -> bool:
        location = self.model_locations[location_id]
        return location["tenant"] == tenant and not location["deleted"]

    @rule(target=locations, tenant=TENANTS, name=st.sampled_from(["Hub", "Depot"]))
    def create_location(self, tenant: str, name: str) -> UUID:
        written = self.app.create_location(who(tenant), {"name": name, **SITE})
        self.model_locations[written.id] = {"tenant": tenant, "name": name, "deleted": False}
        return written.id

    @rule(
        target=chargers,
        tenant=TENANTS,
        location=locations,
        identity=IDENTITIES,
        connector=st.sampled_from(["Type2", "Type2", "CCS2"]),
        url=st.sampled_from(["ws://a/ocpp", "ws://b/ocpp"]),
    )
    def create_charger(self, tenant: str, location: UUID, identity: str, connector: str, url: str):
        holder = next((k for k, c in self.live_chargers(tenant).items() if c["identity"] == identity), None)
        try:
            written = self.app.create_charger(
                who(tenant), location, identity, "wallbox", "wallbox-pulsar-plus", connector, url
            )
        except DomainError as error:
            if holder is not None:
                assert isinstance(error, Conflict)
            elif not self.usable(tenant, location):
                assert isinstance(error, NotFound)
            else:
                assert isinstance(error, InvalidValue) and connector == "CCS2"
            return multiple()
        if holder is not None:  # a repeated identical create answers the charger that holds the identity
            same = self.model_chargers[holder]
            assert (same["location"], same["url"], connector) == (location, url, "Type2")
            assert written.id == holder and not written.created
            return multiple()
        assert self.usable(tenant, location) and connector == "Type2"
        self.model_chargers[written.id] = {
            "tenant": tenant,
            "identity": identity,
            "location": location,
            "name": identity,
            "url": url,
            "deleted": False,
        }
        return written.id

    @rule(charger=chargers, tenant=TENANTS, name=st.sampled_from(["Bay 1", "Bay 2"]))
    def rename_charger(self, charger: UUID, tenant: str, name: str) -> None:
        model = self.model_chargers[charger]
        try:
            self.app.update_charger(who(tenant), charger, {"name": name})
        except NotFound:
            assert model["deleted"] or model["tenant"] != tenant
            return
        assert not model["deleted"] and model["tenant"] == tenant
        model["name"] = name

    @rule(charger=chargers, location=locations)
    def move_charger(self, charger: UUID, location: UUID) -> None:
        model = self.model_chargers[charger]
        try:
            self.app.update_charger(who(model["tenant"]), charger, {}, location_id=location)
        except NotFound:
            assert model["deleted"] or not self.usable(model["tenant"], location)
            return
        assert not model["deleted"] and self.usable(model["tenant"], location)
        model["location"] = location

    @rule(charger=consumes(chargers))
    def delete_charger(self, charger: UUID) -> None:
        model = self.model_chargers[charger]
        try:
            self.app.delete_charger(who(model["tenant"]), charger)
        except NotFound:
            assert model["deleted"]
            return
        model["deleted"] = True

    @rule(location=locations, tenant=TENANTS)
    def delete_location(self, location: UUID, tenant: str) -> None:
        model = self.model_locations[location]
        try:
            self.app.delete_location(who(tenant), location)
        except NotFound:
            assert model["deleted"] or model["tenant"] != tenant
            return
        except Conflict:
            assert self.located_in(location)
            return
        assert not self.located_in(location) and model["tenant"] == tenant
        model["deleted"] = True

    @invariant()
    def identities_are_unique_per_tenant(self) -> None:
        for tenant in ("acme", "globex"):
            identities = [c["identity"] for c in self.live_chargers(tenant).values()]
            assert len(identities) == len(set(identities))
            for identity in identities:
                assert self.app.charger_id_for_identity(who(tenant), identity) is not None

    @invariant()
    def live_chargers_sit_in_live_locations_of_their_tenant(self) -> None:
        for charger in self.model_chargers.values():
            if not charger["deleted"]:
                assert self.usable(charger["tenant"], charger["location"])

    @invariant()
    def views_folded_from_the_log_equal_the_model(self) -> None:
        locations: dict[str, dict | None] = {}
        chargers: dict[str, dict | None] = {}
        for notification in self.app.recorder.select_notifications(1, 100_000):
            event = self.app.mapper.to_domain_event(notification)
            key = str(event.originator_id)
            if notification.topic.startswith(LOCATION_PREFIX):
                locations[key] = fold_location(locations.get(key), event)
            elif notification.topic.startswith(CHARGER_PREFIX):
                chargers[key] = fold_charger(chargers.get(key), event)
        expected_locations = {str(k): v for k, v in self.model_locations.items() if not v["deleted"]}
        assert {k for k, v in locations.items() if v} == set(expected_locations)
        for key, model in expected_locations.items():
            assert locations[key]["name"] == model["name"]
            assert locations[key]["charger_count"] == len(self.located_in(UUID(key)))
        expected_chargers = {str(k): v for k, v in self.model_chargers.items() if not v["deleted"]}
        assert {k for k, v in chargers.items() if v} == set(expected_chargers)
        for key, model in expected_chargers.items():
            doc = chargers[key]
            assert (doc["identity"], doc["name"], doc["location_id"], doc["ws_url"]) == (
                model["identity"],
                model["name"],
                str(model["location"]),
                model["url"],
            )

    @invariant()
    def aggregates_rebuilt_from_raw_events_equal_the_live_ones(self) -> None:
        for aggregate_id in [*self.model_locations, *self.model_chargers]:
            rebuilt = None
            for event in self.app.events.get(aggregate_id):
                rebuilt = event.mutate(rebuilt)
            live = self.app.repository.get(aggregate_id)
            assert {k: v for k, v in vars(rebuilt).items() if k != "_pending_events"} == {
                k: v for k, v in vars(live).items() if k != "_pending_events"
            }


GatewayMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=30, deadline=None)
TestGatewayMachine = GatewayMachine.TestCase
