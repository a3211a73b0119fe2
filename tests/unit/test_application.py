"""Use cases against the in-memory store: load, decide, save, with who caused each event."""

import pytest

from adapters.catalog.loader import default_catalog
from application.gateway import Gateway
from application.ports import Actor
from domain.errors import Conflict, NotFound

SITE = {
    "name": "Hub",
    "address": "1 Main",
    "city": "Paris",
    "country": "FR",
    "coordinates": {"latitude": 48.85, "longitude": 2.35},
}


@pytest.fixture
def app():
    return Gateway(default_catalog(), env={"PERSISTENCE_MODULE": "eventsourcing.popo"})


def actor(tenant="acme", request_id="req-1"):
    return Actor(sub="alice", role="user", tenant_id=tenant, request_id=request_id)


def add_charger(app, who, location_id, identity="CP-1", **overrides):
    args = {
        "brand_slug": "wallbox",
        "model_slug": "wallbox-pulsar-plus",
        "connector_type": "Type2",
        "ws_url": "ws://csms/ocpp",
        **overrides,
    }
    return app.create_charger(who, location_id, identity, **args)


def stored_events(app):
    return [app.mapper.to_domain_event(n) for n in app.recorder.select_notifications(1, 1000)]


def test_every_event_records_tenant_actor_and_request(app):
    who = actor(request_id="req-42")
    app.ensure_tenant(who)
    location = app.create_location(who, SITE)
    add_charger(app, who, location.id)
    events = stored_events(app)
    assert len(events) == 5
    for event in events:
        assert event.meta == {"tenant_id": "acme", "actor": {"sub": "alice", "role": "user"}, "request_id": "req-42"}


def test_tenant_is_recorded_once(app):
    assert app.ensure_tenant(actor()) == 1
    assert app.ensure_tenant(actor()) is None
    fresh = Gateway(default_catalog(), env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    assert fresh.tenant_exists("acme") is False
    assert app.tenant_exists("acme") is True


def test_positions_grow_with_each_write(app):
    first = app.create_location(actor(), SITE)
    second = app.update_location(actor(), first.id, {"name": "Renamed"})
    assert second.position > first.position == 1
    assert app.position() == second.position


def test_repeated_identical_create_answers_the_same_charger(app):
    location = app.create_location(actor(), SITE)
    first = add_charger(app, actor(), location.id)
    again = add_charger(app, actor(), location.id)
    assert (again.id, again.created) == (first.id, False)
    with pytest.raises(Conflict):
        add_charger(app, actor(), location.id, ws_url="ws://elsewhere/ocpp")


def test_identity_is_unique_per_tenant_not_across_tenants(app):
    mine = app.create_location(actor("acme"), SITE)
    theirs = app.create_location(actor("globex"), SITE)
    a = add_charger(app, actor("acme"), mine.id)
    b = add_charger(app, actor("globex"), theirs.id)
    assert a.id != b.id


def test_other_tenants_resources_do_not_exist(app):
    location = app.create_location(actor("acme"), SITE)
    charger = add_charger(app, actor("acme"), location.id)
    with pytest.raises(NotFound):
        app.update_location(actor("globex"), location.id, {"name": "Mine now"})
    with pytest.raises(NotFound):
        app.delete_charger(actor("globex"), charger.id)
    with pytest.raises(NotFound):
        add_charger(app, actor("globex"), location.id, identity="CP-9")
    assert app.charger_id_for_identity(actor("globex"), "CP-1") is None
    assert app.charger_id_for_identity(actor("acme"), "CP-1") == charger.id


def test_unknown_catalog_model_is_not_found(app):
    location = app.create_location(actor(), SITE)
    with pytest.raises(NotFound) as error:
        add_charger(app, actor(), location.id, model_slug="no-such-model")
    assert error.value.kind == "model"


def test_moving_a_charger_to_another_tenants_location_is_refused(app):
    mine = app.create_location(actor("acme"), SITE)
    theirs = app.create_location(actor("globex"), SITE)
    charger = add_charger(app, actor("acme"), mine.id)
    with pytest.raises(NotFound):
        app.update_charger(actor("acme"), charger.id, {}, location_id=theirs.id)
    moved_to = app.create_location(actor("acme"), {**SITE, "name": "Depot"})
    app.update_charger(actor("acme"), charger.id, {}, location_id=moved_to.id)
    app.delete_location(actor("acme"), mine.id)  # no charger left there
    with pytest.raises(Conflict):
        app.delete_location(actor("acme"), moved_to.id)


def test_nothing_is_recorded_when_a_command_is_refused(app):
    location = app.create_location(actor(), SITE)
    add_charger(app, actor(), location.id)
    before = app.position()
    for refused in (
        lambda: app.delete_location(actor(), location.id),
        lambda: add_charger(app, actor(), location.id, identity="CP-2", connector_type="CCS2"),
        lambda: app.update_location(actor(), location.id, {"country": "France"}),
    ):
        with pytest.raises(Exception):  # noqa: B017 - each is a domain error of its own kind
            refused()
    assert app.position() == before
