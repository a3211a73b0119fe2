"""Location provisioning through the SDK: a location's chargers listed, and created, updated and deleted in
bulk with partial success (each item succeeds or lands in `failed` on its own)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from ocpplab import OcpplabApi
from ocpplab.errors import BadRequestError, NotFoundError, UnprocessableEntityError
from ocpplab.types import ChargerResponse, CreateChargerRequest, LocationResponse, UpdateLocationChargerItem

from tests.contract.sdk import NO_RETRY, PULSAR_PLUS, TERRA_184, desired

UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"


@pytest.fixture
def site(new_location: Callable[..., LocationResponse]) -> LocationResponse:
    return new_location(name="Provisioned Site")


@pytest.fixture
def elsewhere(new_location: Callable[..., LocationResponse]) -> LocationResponse:
    """A second location of the same tenant."""
    return new_location(name="Elsewhere")


def item(identity: str, **fields: str | None) -> CreateChargerRequest:
    return CreateChargerRequest(**{**PULSAR_PLUS, "identity": identity, **fields})


# -- list_location_chargers ----------------------------------------------------------------------------


def test_location_chargers_are_only_those_of_the_location_paged(
    client: OcpplabApi,
    new_charger: Callable[..., ChargerResponse],
    site: LocationResponse,
    elsewhere: LocationResponse,
) -> None:
    here = [new_charger(identity=f"HERE-{n}", location_id=site.id).id for n in range(3)]
    new_charger(identity="THERE-1", location_id=elsewhere.id)
    provisioning = client.location_charger_provisioning

    everything = provisioning.list_location_chargers(site.id)
    first = provisioning.list_location_chargers(site.id, page=1, limit=2)
    second = provisioning.list_location_chargers(site.id, page=2, limit=2)

    assert (everything.total, everything.page, everything.limit) == (3, 1, 50)
    assert [charger.id for charger in everything.data] == here
    assert (second.total, second.page, second.limit) == (3, 2, 2)
    assert [charger.id for charger in first.data + second.data] == here


def test_location_chargers_filter_by_ids_and_identities_sent_as_repeated_keys(
    client: OcpplabApi,
    new_charger: Callable[..., ChargerResponse],
    site: LocationResponse,
    elsewhere: LocationResponse,
) -> None:
    wanted_by_id = new_charger(identity="WANTED-1", location_id=site.id)
    wanted_by_identity = new_charger(identity="WANTED-2", location_id=site.id)
    new_charger(identity="UNWANTED", location_id=site.id)
    other_location = new_charger(identity="ELSEWHERE", location_id=elsewhere.id)

    listed = client.location_charger_provisioning.list_location_chargers(
        site.id, charger_ids=[wanted_by_id.id, "WANTED-2", other_location.id]
    )

    assert [charger.id for charger in listed.data] == [wanted_by_id.id, wanted_by_identity.id]
    assert listed.total == 2


def test_location_chargers_reject_a_malformed_charger_id_as_a_bad_request(
    client: OcpplabApi, site: LocationResponse
) -> None:
    with pytest.raises(BadRequestError):
        client.location_charger_provisioning.list_location_chargers(
            site.id, charger_ids=["not a charger!"], request_options=NO_RETRY
        )


def test_location_chargers_reject_a_limit_over_100_as_a_query_error(client: OcpplabApi, site: LocationResponse) -> None:
    with pytest.raises(UnprocessableEntityError) as raised:
        client.location_charger_provisioning.list_location_chargers(site.id, limit=101, request_options=NO_RETRY)

    assert raised.value.body.detail[0].loc == ["query", "limit"]


# -- create_location_chargers --------------------------------------------------------------------------


def test_bulk_create_makes_every_valid_charger_in_the_path_location(
    client: OcpplabApi, site: LocationResponse, elsewhere: LocationResponse
) -> None:
    result = client.location_charger_provisioning.create_location_chargers(
        site.id,
        chargers=[
            item("BULK-1", charge_point_name="Bay 1"),
            CreateChargerRequest(**TERRA_184, identity="BULK-2", ocpp_version="OCPP2.0.1", location_id=elsewhere.id),
        ],
    )

    assert (result.created_count, result.failed_count, result.failed) == (2, 0, [])
    first, second = result.created
    assert (first.identity, first.name, first.model, first.location_id) == ("BULK-1", "Bay 1", "Pulsar Plus", site.id)
    assert (second.identity, second.model, second.ocpp_version) == ("BULK-2", "Terra 184", "OCPP2.0.1")
    assert second.location_id == site.id, "the path location wins over an item's own location_id"
    listed = client.location_charger_provisioning.list_location_chargers(site.id)
    assert [charger.id for charger in listed.data] == [first.id, second.id]
    assert desired(client.charger_deployments.get_charger(second.id)) == desired(second)


def test_bulk_create_succeeds_per_item_and_reports_each_failure_with_its_identity(
    client: OcpplabApi, new_charger: Callable[..., ChargerResponse], site: LocationResponse
) -> None:
    new_charger(identity="TAKEN", location_id=site.id, ws_url="ws://first.example.test/ocpp")

    result = client.location_charger_provisioning.create_location_chargers(
        site.id,
        chargers=[
            item("GOOD-1"),
            item("TAKEN", ws_url="ws://second.example.test/ocpp"),
            item("MISFIT", connector_type="CHAdeMO"),
            item("NO-BRAND", brand_slug="no-such-brand"),
            item("HTTP-URL", ws_url="http://x"),
            item("GOOD-2"),
        ],
    )

    assert (result.created_count, result.failed_count) == (2, 4)
    assert [charger.identity for charger in result.created] == ["GOOD-1", "GOOD-2"]
    failures = {failure.identity: failure.error for failure in result.failed}
    assert list(failures) == ["TAKEN", "MISFIT", "NO-BRAND", "HTTP-URL"]
    assert "already exists" in failures["TAKEN"]
    assert "CHAdeMO" in failures["MISFIT"]
    assert "no-such-brand" in failures["NO-BRAND"]
    assert "ws_url" in failures["HTTP-URL"]
    identities = [c.identity for c in client.location_charger_provisioning.list_location_chargers(site.id).data]
    assert identities == ["TAKEN", "GOOD-1", "GOOD-2"]


def test_bulk_create_repeated_identically_returns_the_same_chargers(client: OcpplabApi, site: LocationResponse) -> None:
    chargers = [item("REPLAY-1"), item("REPLAY-2")]

    first = client.location_charger_provisioning.create_location_chargers(site.id, chargers=chargers)
    again = client.location_charger_provisioning.create_location_chargers(site.id, chargers=chargers)

    assert [c.id for c in again.created] == [c.id for c in first.created]
    assert client.location_charger_provisioning.list_location_chargers(site.id).total == 2


# -- update_location_chargers --------------------------------------------------------------------------


def test_bulk_update_succeeds_per_item_and_reports_each_failure_with_its_charger_id(
    client: OcpplabApi,
    new_charger: Callable[..., ChargerResponse],
    site: LocationResponse,
    elsewhere: LocationResponse,
) -> None:
    by_id = new_charger(identity="UPD-1", location_id=site.id)
    by_identity = new_charger(**TERRA_184, identity="UPD-2", location_id=site.id)
    misfit = new_charger(identity="UPD-3", location_id=site.id)
    outsider = new_charger(identity="UPD-OUT", location_id=elsewhere.id)

    result = client.location_charger_provisioning.update_location_chargers(
        site.id,
        chargers=[
            UpdateLocationChargerItem(charger_id=by_id.id, name="Renamed", ws_url="wss://new.example.test/ocpp"),
            UpdateLocationChargerItem(charger_id="UPD-2", connector_type="CHAdeMO", ocpp_version="OCPP2.0.1"),
            UpdateLocationChargerItem(charger_id=misfit.id, connector_type="CCS2"),
            UpdateLocationChargerItem(charger_id=outsider.id, name="Not Here"),
            UpdateLocationChargerItem(charger_id=UNKNOWN_ID, name="Ghost"),
            UpdateLocationChargerItem(charger_id=by_id.id, ws_url="http://x"),
        ],
    )

    assert (result.updated_count, result.failed_count) == (2, 4)
    renamed, refitted = result.updated
    assert (renamed.id, renamed.name) == (by_id.id, "Renamed")
    assert (refitted.id, refitted.connector_type, refitted.ocpp_version) == (by_identity.id, "CHAdeMO", "OCPP2.0.1")
    assert [failure.charger_id for failure in result.failed] == [misfit.id, outsider.id, UNKNOWN_ID, by_id.id]
    misfit_error, outsider_error, unknown_error, http_error = (failure.error for failure in result.failed)
    assert "CCS2" in misfit_error
    assert "not in location" in outsider_error
    assert "not found" in unknown_error.lower()
    assert "ws_url" in http_error
    assert desired(client.charger_deployments.get_charger(by_id.id)) == desired(renamed)
    assert client.charger_deployments.get_charger(misfit.id).connector_type == "Type2"
    assert client.charger_deployments.get_charger(outsider.id).name == outsider.name


# -- delete_location_chargers --------------------------------------------------------------------------


def test_bulk_delete_succeeds_per_item_and_reports_each_failure_with_its_charger_id(
    client: OcpplabApi,
    new_charger: Callable[..., ChargerResponse],
    site: LocationResponse,
    elsewhere: LocationResponse,
) -> None:
    by_id = new_charger(identity="DEL-1", location_id=site.id)
    by_identity = new_charger(identity="DEL-2", location_id=site.id)
    kept = new_charger(identity="DEL-KEPT", location_id=site.id)
    outsider = new_charger(identity="DEL-OUT", location_id=elsewhere.id)

    result = client.location_charger_provisioning.delete_location_chargers(
        site.id, charger_ids=[by_id.id, "DEL-2", outsider.id, UNKNOWN_ID]
    )

    assert (result.deleted_count, result.failed_count) == (2, 2)
    assert result.deleted == [by_id.id, by_identity.id]
    assert [failure.charger_id for failure in result.failed] == [outsider.id, UNKNOWN_ID]
    assert "not in location" in result.failed[0].error
    assert [c.id for c in client.location_charger_provisioning.list_location_chargers(site.id).data] == [kept.id]
    assert desired(client.charger_deployments.get_charger(outsider.id)) == desired(outsider)
    with pytest.raises(NotFoundError):
        client.charger_deployments.get_charger(by_id.id, request_options=NO_RETRY)


def test_bulk_delete_frees_the_identities_and_lets_the_location_be_deleted(
    client: OcpplabApi, new_charger: Callable[..., ChargerResponse], site: LocationResponse
) -> None:
    ids = [new_charger(identity=f"GONE-{n}", location_id=site.id).id for n in range(2)]

    client.location_charger_provisioning.delete_location_chargers(site.id, charger_ids=ids)

    assert new_charger(identity="GONE-0", location_id=site.id).id not in ids
    client.location_charger_provisioning.delete_location_chargers(site.id, charger_ids=["GONE-0"])
    client.locations.delete_location(site.id)
    with pytest.raises(NotFoundError):
        client.locations.get_location(site.id, request_options=NO_RETRY)


# -- the location itself -------------------------------------------------------------------------------


@pytest.mark.parametrize("location_id", [UNKNOWN_ID, "not-a-location"])
def test_every_provisioning_route_on_an_unknown_location_is_not_found(client: OcpplabApi, location_id: str) -> None:
    provisioning = client.location_charger_provisioning

    with pytest.raises(NotFoundError):
        provisioning.list_location_chargers(location_id, request_options=NO_RETRY)
    with pytest.raises(NotFoundError):
        provisioning.create_location_chargers(location_id, chargers=[item("X-1")], request_options=NO_RETRY)
    with pytest.raises(NotFoundError):
        provisioning.update_location_chargers(
            location_id, chargers=[UpdateLocationChargerItem(charger_id="X-1", name="x")], request_options=NO_RETRY
        )
    with pytest.raises(NotFoundError):
        provisioning.delete_location_chargers(location_id, charger_ids=["X-1"], request_options=NO_RETRY)


def test_another_tenants_location_is_not_found_on_every_provisioning_route(
    connect: Callable[..., OcpplabApi],
    client: OcpplabApi,
    new_charger: Callable[..., ChargerResponse],
    site: LocationResponse,
    org: str,
) -> None:
    mine = new_charger(identity="MINE-1", location_id=site.id)
    intruder = connect(f"{org}-other").location_charger_provisioning

    with pytest.raises(NotFoundError):
        intruder.list_location_chargers(site.id, request_options=NO_RETRY)
    with pytest.raises(NotFoundError):
        intruder.create_location_chargers(site.id, chargers=[item("PLANTED")], request_options=NO_RETRY)
    with pytest.raises(NotFoundError):
        intruder.update_location_chargers(
            site.id, chargers=[UpdateLocationChargerItem(charger_id=mine.id, name="Hijacked")], request_options=NO_RETRY
        )
    with pytest.raises(NotFoundError):
        intruder.delete_location_chargers(site.id, charger_ids=[mine.id], request_options=NO_RETRY)

    listed = client.location_charger_provisioning.list_location_chargers(site.id)
    assert [charger.id for charger in listed.data] == [mine.id]
    assert desired(listed.data[0]) == desired(mine)  # (its runtime fields move on their own)
