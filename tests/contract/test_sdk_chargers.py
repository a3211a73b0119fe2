"""Charger deployments through the SDK: the five CRUD routes, identity rules, and tenant isolation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from ocpplab import OcpplabApi
from ocpplab.errors import BadRequestError, NotFoundError, UnprocessableEntityError
from ocpplab.types import ChargerResponse, LocationResponse

from tests.contract.sdk import NO_RETRY, PULSAR_PLUS, TERRA_184, desired

UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"


@pytest.fixture
def site(new_location: Callable[..., LocationResponse]) -> LocationResponse:
    """A location of this test's tenant to put chargers in."""
    return new_location()


def test_created_charger_echoes_the_request_and_the_catalog_model(client: OcpplabApi, site: LocationResponse) -> None:
    charger = client.charger_deployments.create_charger(
        identity="CP-TEST-001",
        brand_slug="wallbox",
        model_slug="wallbox-pulsar-plus",
        connector_type="Type2",
        ws_url="ws://csms.example.test/ocpp",
        ocpp_version="OCPP2.0.1",
        charge_point_name="Bay A01",
        location_id=site.id,
    )

    assert charger.id
    assert (charger.identity, charger.name, charger.location_id) == ("CP-TEST-001", "Bay A01", site.id)
    assert (charger.vendor_name, charger.model, charger.connector_type) == ("Wallbox", "Pulsar Plus", "Type2")
    assert (charger.number_of_connectors, charger.max_charging_power) == (1, 22000)
    assert charger.ocpp_version == "OCPP2.0.1"
    assert charger.created_at is not None
    assert charger.updated_at == charger.created_at


def test_charger_defaults_to_ocpp_1_6_and_is_named_after_its_identity(
    new_charger: Callable[..., ChargerResponse], site: LocationResponse
) -> None:
    charger = new_charger(identity="CP-DEFAULTS", location_id=site.id, ocpp_version=None)

    assert charger.ocpp_version == "OCPP1.6"
    assert charger.name == "CP-DEFAULTS"


def test_charger_can_name_its_location_instead_of_giving_its_id(
    new_location: Callable[..., LocationResponse], new_charger: Callable[..., ChargerResponse]
) -> None:
    new_location(name="Elsewhere")
    depot = new_location(name="North Depot")

    charger = new_charger(identity="CP-BY-NAME", location_name="North Depot")

    assert charger.location_id == depot.id


def test_get_charger_returns_what_create_returned(
    client: OcpplabApi, new_charger: Callable[..., ChargerResponse], site: LocationResponse
) -> None:
    created = new_charger(identity="CP-GET", location_id=site.id, charge_point_name="Bay 7")

    assert desired(client.charger_deployments.get_charger(created.id)) == desired(created)


def test_get_charger_also_accepts_the_charger_identity(
    client: OcpplabApi, new_charger: Callable[..., ChargerResponse], site: LocationResponse
) -> None:
    created = new_charger(identity="CP-BY-IDENTITY", location_id=site.id)

    assert client.charger_deployments.get_charger("CP-BY-IDENTITY").id == created.id


def test_charger_list_reports_total_page_and_limit_and_page_two_continues(
    client: OcpplabApi, new_charger: Callable[..., ChargerResponse], site: LocationResponse
) -> None:
    created = [new_charger(identity=f"CP-{n:03d}", location_id=site.id).id for n in range(5)]

    everything = client.charger_deployments.list_chargers()
    first = client.charger_deployments.list_chargers(page=1, limit=3)
    second = client.charger_deployments.list_chargers(page=2, limit=3)

    assert (everything.total, everything.page, everything.limit) == (5, 1, 50)
    assert [charger.id for charger in everything.data] == created
    assert (second.total, second.page, second.limit) == (5, 2, 3)
    assert [charger.id for charger in first.data + second.data] == created


def test_charger_list_filters_by_location(
    client: OcpplabApi,
    new_location: Callable[..., LocationResponse],
    new_charger: Callable[..., ChargerResponse],
) -> None:
    north, south = new_location(name="North"), new_location(name="South")
    in_north = [
        new_charger(identity="N-1", location_id=north.id).id,
        new_charger(identity="N-2", location_id=north.id).id,
    ]
    new_charger(identity="S-1", location_id=south.id)

    listed = client.charger_deployments.list_chargers(location_id=north.id)

    assert [charger.id for charger in listed.data] == in_north
    assert listed.total == 2
    assert client.charger_deployments.list_chargers(location_id=UNKNOWN_ID).total == 0


def test_charger_list_rejects_a_limit_of_1000_as_a_query_error(client: OcpplabApi) -> None:
    with pytest.raises(UnprocessableEntityError) as raised:
        client.charger_deployments.list_chargers(limit=1000, request_options=NO_RETRY)

    assert raised.value.body.detail[0].loc == ["query", "limit"]


def test_repeating_an_identical_create_returns_the_same_charger(
    client: OcpplabApi, new_charger: Callable[..., ChargerResponse], site: LocationResponse
) -> None:
    """The SDK replays a POST after a 5xx: the replay must not fail nor make a second charger."""
    request = {**PULSAR_PLUS, "identity": "CP-RETRY", "location_id": site.id, "charge_point_name": "Bay 1"}

    first = new_charger(**request)
    again = new_charger(**request)

    assert again.id == first.id
    assert client.charger_deployments.list_chargers().total == 1


def test_a_different_charger_with_an_existing_identity_is_a_bad_request(
    client: OcpplabApi, new_charger: Callable[..., ChargerResponse], site: LocationResponse
) -> None:
    original = new_charger(identity="CP-TAKEN", location_id=site.id)

    with pytest.raises(BadRequestError) as raised:
        client.charger_deployments.create_charger(
            **{**PULSAR_PLUS, "ws_url": "ws://another-csms.example.test/ocpp"},
            identity="CP-TAKEN",
            location_id=site.id,
            request_options=NO_RETRY,
        )

    assert "CP-TAKEN" in raised.value.body.detail
    assert desired(client.charger_deployments.get_charger(original.id)) == desired(original)
    assert client.charger_deployments.list_chargers().total == 1


def test_the_same_identity_is_allowed_in_two_tenants(
    connect: Callable[..., OcpplabApi],
    new_location: Callable[..., LocationResponse],
    new_charger: Callable[..., ChargerResponse],
    site: LocationResponse,
    org: str,
) -> None:
    other = connect(f"{org}-b")
    their_site = new_location(other)

    mine = new_charger(identity="CP-SHARED", location_id=site.id)
    theirs = new_charger(other, identity="CP-SHARED", location_id=their_site.id)

    assert mine.id != theirs.id
    assert connect(org).charger_deployments.get_charger("CP-SHARED").id == mine.id
    assert other.charger_deployments.get_charger("CP-SHARED").id == theirs.id


def test_a_deleted_chargers_identity_can_be_registered_again(
    client: OcpplabApi, new_charger: Callable[..., ChargerResponse], site: LocationResponse
) -> None:
    old = new_charger(identity="CP-REUSED", location_id=site.id)
    client.charger_deployments.delete_charger(old.id)

    new = new_charger(**TERRA_184, identity="CP-REUSED", location_id=site.id)

    assert new.id != old.id
    assert (new.identity, new.model, new.connector_type) == ("CP-REUSED", "Terra 184", "CCS2")
    with pytest.raises(NotFoundError):
        client.charger_deployments.get_charger(old.id, request_options=NO_RETRY)
    assert client.charger_deployments.get_charger("CP-REUSED").id == new.id


@pytest.mark.parametrize(
    ("override", "needle"),
    [
        ({"connector_type": "CCS2"}, "CCS2"),
        ({"brand_slug": "no-such-brand"}, "no-such-brand"),
        ({"model_slug": "abb-terra-360"}, "abb-terra-360"),
        ({"location_id": UNKNOWN_ID}, UNKNOWN_ID),
        ({"location_id": None, "location_name": "Nowhere"}, "Nowhere"),
        ({"location_id": None}, "location"),
    ],
    ids=[
        "connector type the model lacks",
        "unknown brand",
        "model of another brand",
        "unknown location id",
        "unknown location name",
        "no location at all",
    ],
)
def test_create_charger_rejects_a_business_rule_violation_as_a_bad_request(
    client: OcpplabApi, site: LocationResponse, override: dict[str, Any], needle: str
) -> None:
    request = {**PULSAR_PLUS, "identity": "CP-REJECTED", "location_id": site.id, **override}

    with pytest.raises(BadRequestError) as raised:
        client.charger_deployments.create_charger(**request, request_options=NO_RETRY)

    assert needle in raised.value.body.detail
    assert client.charger_deployments.list_chargers().total == 0


def test_create_charger_in_another_tenants_location_is_a_bad_request(
    connect: Callable[..., OcpplabApi],
    client: OcpplabApi,
    new_location: Callable[..., LocationResponse],
    org: str,
) -> None:
    their_site = new_location(connect(f"{org}-b"))

    with pytest.raises(BadRequestError):
        client.charger_deployments.create_charger(
            **PULSAR_PLUS, identity="CP-TRESPASS", location_id=their_site.id, request_options=NO_RETRY
        )


@pytest.mark.parametrize(
    ("override", "loc"),
    [
        ({"ws_url": "http://x"}, ["body", "ws_url"]),
        ({"identity": "bad identity!"}, ["body", "identity"]),
        ({"ocpp_version": "OCPP3.0"}, ["body", "ocpp_version"]),
    ],
    ids=["http ws_url", "identity with spaces", "unknown ocpp version"],
)
def test_create_charger_rejects_a_bad_shape_with_a_body_validation_error(
    client: OcpplabApi, site: LocationResponse, override: dict[str, Any], loc: list[str]
) -> None:
    request = {**PULSAR_PLUS, "identity": "CP-SHAPE", "location_id": site.id, **override}

    with pytest.raises(UnprocessableEntityError) as raised:
        client.charger_deployments.create_charger(**request, request_options=NO_RETRY)

    assert [item.loc for item in raised.value.body.detail] == [loc]


def test_update_charger_changes_only_the_fields_sent(
    client: OcpplabApi, new_charger: Callable[..., ChargerResponse], site: LocationResponse
) -> None:
    before = new_charger(**TERRA_184, identity="CP-UPDATE", location_id=site.id, charge_point_name="Bay 1")

    after = client.charger_deployments.update_charger(
        before.id, name="Bay 2", connector_type="CHAdeMO", ocpp_version="ocpp2.0.1", ws_url="wss://new.example.test/x"
    )

    assert (after.name, after.connector_type, after.ocpp_version) == ("Bay 2", "CHAdeMO", "OCPP2.0.1")
    assert (after.id, after.identity, after.location_id, after.model) == (
        before.id,
        before.identity,
        before.location_id,
        before.model,
    )
    assert after.created_at == before.created_at
    assert after.updated_at > before.updated_at
    assert desired(client.charger_deployments.get_charger(before.id)) == desired(after)


def test_update_charger_takes_charge_point_name_as_the_display_name(
    client: OcpplabApi, new_charger: Callable[..., ChargerResponse], site: LocationResponse
) -> None:
    charger = new_charger(identity="CP-RENAME", location_id=site.id)

    assert client.charger_deployments.update_charger(charger.id, charge_point_name="Bay 9").name == "Bay 9"


def test_update_charger_moves_it_to_another_location_of_the_tenant(
    client: OcpplabApi,
    new_location: Callable[..., LocationResponse],
    new_charger: Callable[..., ChargerResponse],
) -> None:
    source, target = new_location(name="Source"), new_location(name="Target")
    charger = new_charger(identity="CP-MOVE", location_id=source.id)

    moved = client.charger_deployments.update_charger(charger.id, location_id=target.id)

    assert moved.location_id == target.id
    assert client.charger_deployments.list_chargers(location_id=source.id).total == 0
    assert [c.id for c in client.charger_deployments.list_chargers(location_id=target.id).data] == [charger.id]


def test_update_charger_rejects_a_connector_type_the_model_lacks(
    client: OcpplabApi, new_charger: Callable[..., ChargerResponse], site: LocationResponse
) -> None:
    charger = new_charger(identity="CP-MISFIT", location_id=site.id)

    with pytest.raises(BadRequestError) as raised:
        client.charger_deployments.update_charger(charger.id, connector_type="CCS2", request_options=NO_RETRY)

    assert "CCS2" in raised.value.body.detail
    assert client.charger_deployments.get_charger(charger.id).connector_type == "Type2"


def test_update_charger_rejects_an_http_ws_url_with_a_body_validation_error(
    client: OcpplabApi, new_charger: Callable[..., ChargerResponse], site: LocationResponse
) -> None:
    charger = new_charger(identity="CP-HTTP", location_id=site.id)

    with pytest.raises(UnprocessableEntityError) as raised:
        client.charger_deployments.update_charger(charger.id, ws_url="http://x", request_options=NO_RETRY)

    assert [item.loc for item in raised.value.body.detail] == [["body", "ws_url"]]


def test_update_charger_into_an_unknown_location_is_a_bad_request(
    client: OcpplabApi, new_charger: Callable[..., ChargerResponse], site: LocationResponse
) -> None:
    charger = new_charger(identity="CP-LOST", location_id=site.id)

    with pytest.raises(BadRequestError):
        client.charger_deployments.update_charger(charger.id, location_id=UNKNOWN_ID, request_options=NO_RETRY)

    assert client.charger_deployments.get_charger(charger.id).location_id == site.id


def test_deleted_charger_is_gone_from_get_list_update_and_a_second_delete(
    client: OcpplabApi, new_charger: Callable[..., ChargerResponse], site: LocationResponse
) -> None:
    kept = new_charger(identity="CP-KEPT", location_id=site.id)
    doomed = new_charger(identity="CP-DOOMED", location_id=site.id)

    assert client.charger_deployments.delete_charger(doomed.id) is None

    with pytest.raises(NotFoundError):
        client.charger_deployments.get_charger(doomed.id, request_options=NO_RETRY)
    with pytest.raises(NotFoundError):
        client.charger_deployments.update_charger(doomed.id, name="Back", request_options=NO_RETRY)
    with pytest.raises(NotFoundError):
        client.charger_deployments.delete_charger(doomed.id, request_options=NO_RETRY)
    listed = client.charger_deployments.list_chargers()
    assert [charger.id for charger in listed.data] == [kept.id]
    assert listed.total == 1


@pytest.mark.parametrize("charger_id", [UNKNOWN_ID, "CP-NEVER-CREATED"])
def test_unknown_chargers_are_not_found_on_get_update_and_delete(client: OcpplabApi, charger_id: str) -> None:
    with pytest.raises(NotFoundError):
        client.charger_deployments.get_charger(charger_id, request_options=NO_RETRY)
    with pytest.raises(NotFoundError):
        client.charger_deployments.update_charger(charger_id, name="x", request_options=NO_RETRY)
    with pytest.raises(NotFoundError):
        client.charger_deployments.delete_charger(charger_id, request_options=NO_RETRY)


def test_another_tenants_charger_is_not_found_by_id_or_identity_and_left_untouched(
    connect: Callable[..., OcpplabApi],
    client: OcpplabApi,
    new_charger: Callable[..., ChargerResponse],
    site: LocationResponse,
    org: str,
) -> None:
    mine = new_charger(identity="CP-PRIVATE", location_id=site.id)
    intruder = connect(f"{org}-other")

    for key in (mine.id, mine.identity):
        with pytest.raises(NotFoundError):
            intruder.charger_deployments.get_charger(key, request_options=NO_RETRY)
        with pytest.raises(NotFoundError):
            intruder.charger_deployments.update_charger(key, name="Hijacked", request_options=NO_RETRY)
        with pytest.raises(NotFoundError):
            intruder.charger_deployments.delete_charger(key, request_options=NO_RETRY)

    assert desired(client.charger_deployments.get_charger(mine.id)) == desired(mine)


def test_charger_lists_never_show_another_tenants_chargers(
    connect: Callable[..., OcpplabApi],
    client: OcpplabApi,
    new_location: Callable[..., LocationResponse],
    new_charger: Callable[..., ChargerResponse],
    site: LocationResponse,
    org: str,
) -> None:
    other = connect(f"{org}-b")
    their_site = new_location(other)
    mine = new_charger(identity="CP-A", location_id=site.id)
    theirs = new_charger(other, identity="CP-B", location_id=their_site.id)

    assert [charger.id for charger in client.charger_deployments.list_chargers().data] == [mine.id]
    assert [charger.id for charger in other.charger_deployments.list_chargers().data] == [theirs.id]
    assert other.charger_deployments.list_chargers(location_id=site.id).total == 0
