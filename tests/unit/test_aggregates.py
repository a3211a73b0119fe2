"""The aggregates decide: invariants of locations, chargers and identities."""

import pytest

from adapters.catalog.loader import default_catalog
from domain.charger import Charger, IdentityIndex, delete_charger, move_charger, register_charger
from domain.errors import Conflict, Deleted, InvalidValue, NotFound
from domain.location import Location
from domain.values import Coordinates

PULSAR = default_catalog().model("wallbox", "wallbox-pulsar-plus")
TERRA = default_catalog().model("abb", "terra-184")


def a_location(tenant="acme", name="Hub"):
    return Location.open(tenant, "hub-1a2b3c4d", name, "1 Main St", "Paris", "FR", Coordinates(48.85, 2.35))


def a_charger(location, identity="CP-1", tenant="acme", model=PULSAR, connector="Type2", index=None):
    return register_charger(tenant, location, index, identity, model, connector, None, "ws://csms/ocpp", None)


def test_location_records_its_site_and_starts_active():
    location = a_location()
    assert location.site["status"] == "active"
    assert location.site["coordinates"] == {"latitude": 48.85, "longitude": 2.35}
    assert [type(e).__name__ for e in location.collect_events()] == ["Created"]


def test_location_update_records_only_what_changed():
    location = a_location()
    location.collect_events()
    location.update({"name": "Hub", "city": "Lyon", "timezone": None})
    events = location.collect_events()
    assert len(events) == 1 and events[0].changes == {"city": "Lyon"}


def test_location_update_validates_each_field():
    location = a_location()
    with pytest.raises(InvalidValue):
        location.update({"coordinates": {"latitude": 100, "longitude": 0}})
    assert location.site["coordinates"]["latitude"] == 48.85


def test_location_with_chargers_cannot_be_deleted():
    location = a_location()
    a_charger(location)
    with pytest.raises(Conflict):
        location.delete()
    assert not location.deleted


def test_deleted_location_stays_deleted():
    location = a_location()
    location.delete()
    with pytest.raises(Deleted):
        location.update({"name": "Back"})
    with pytest.raises(Deleted):
        location.delete()
    with pytest.raises(NotFound):
        a_charger(location)


def test_charger_belongs_to_a_location_of_its_own_tenant():
    with pytest.raises(NotFound):
        a_charger(a_location(tenant="other"), tenant="acme")


def test_charger_records_its_catalog_model_and_defaults():
    location = a_location()
    charger, index = a_charger(location)
    assert charger.model["brand_name"] == "Wallbox" and charger.model["max_power_w"] == 22000
    assert charger.ocpp_version == "OCPP1.6" and charger.name == "CP-1" and charger.running
    assert index.charger_id == charger.id and charger.id in location.charger_ids


def test_connector_type_must_fit_the_model():
    with pytest.raises(InvalidValue) as error:
        a_charger(a_location(), connector="CCS2")
    assert error.value.field == "connector_type"
    charger, _ = a_charger(a_location(), model=TERRA, connector="CHAdeMO")
    with pytest.raises(InvalidValue):
        charger.update({"connector_type": "Type2"})


def test_identity_held_by_a_charger_cannot_be_claimed_again():
    location = a_location()
    _, index = a_charger(location)
    with pytest.raises(Conflict):
        a_charger(location, index=index)


def test_deleting_a_charger_frees_its_identity_and_unbinds_it():
    location = a_location()
    charger, index = a_charger(location)
    delete_charger(charger, location, index)
    assert index.charger_id is None and charger.id not in location.charger_ids
    again, _ = a_charger(location, index=index)
    assert index.charger_id == again.id != charger.id


def test_deleted_charger_stays_deleted():
    location = a_location()
    charger, index = a_charger(location)
    delete_charger(charger, location, index)
    with pytest.raises(Deleted):
        charger.update({"name": "x"})
    with pytest.raises(Deleted):
        charger.delete()


def test_moving_a_charger_rebinds_it():
    source, target = a_location(), a_location(name="Depot")
    charger, _ = a_charger(source)
    move_charger(charger, source, target)
    assert charger.location_id == target.id
    assert charger.id not in source.charger_ids and charger.id in target.charger_ids


def test_charger_update_checks_url_and_version():
    charger, _ = a_charger(a_location())
    with pytest.raises(InvalidValue):
        charger.update({"ws_url": "http://x"})
    with pytest.raises(InvalidValue):
        charger.update({"ocpp_version": "OCPP3"})
    charger.update({"ocpp_version": "ocpp2.0.1", "ws_url": "wss://new/ocpp"})
    assert (charger.ocpp_version, charger.ws_url) == ("OCPP2.0.1", "wss://new/ocpp")


def test_aggregates_rebuild_from_their_events():
    location = a_location()
    charger, index = a_charger(location)
    charger.update({"name": "Bay 1"})
    for aggregate in (location, charger, index):
        events = aggregate.collect_events()
        rebuilt = None
        for event in events:
            rebuilt = event.mutate(rebuilt)
        assert vars(rebuilt) == vars(aggregate)
    assert isinstance(rebuilt, IdentityIndex) and isinstance(charger, Charger)


def test_a_runtime_recorded_before_firmware_updates_loads_and_then_keeps_the_installed_firmware():
    from uuid import uuid4

    from domain.runtime import ChargerRuntime

    runtime = ChargerRuntime(tenant_id="t", charger_id=uuid4())
    opened = runtime.collect_events()
    old = opened[0].mutate(None)
    assert "firmware" not in vars(old)  # like a runtime (or a snapshot) recorded before the firmware table
    assert old.firmware == {}
    runtime.firmware_installed("acme-2.0", "http://fw/acme-2.0.bin", 3, True)
    runtime.firmware_reported()
    rebuilt = None
    for event in opened + runtime.collect_events():
        rebuilt = event.mutate(rebuilt)
    assert rebuilt.firmware == {
        "version": "acme-2.0",
        "location": "http://fw/acme-2.0.bin",
        "request_id": 3,
        "report_after_boot": False,
    }
