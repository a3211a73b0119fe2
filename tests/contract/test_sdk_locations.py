"""Locations through the SDK: the five routes, their validation, and tenant isolation."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from ocpplab import OcpplabApi
from ocpplab.core.api_error import ApiError
from ocpplab.errors import NotFoundError, UnprocessableEntityError
from ocpplab.types import Coordinates, LocationResponse

from tests.contract.sdk import NO_RETRY, SITE

UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"


def test_created_location_echoes_every_field_sent(client: OcpplabApi) -> None:
    location = client.locations.create_location(
        **SITE, timezone="Europe/Paris", owner_name="VINCI Autoroutes", public=True
    )

    assert location.id
    assert (location.name, location.address, location.city, location.country) == (
        "La Defense Charging Hub",
        "14 Rue de la Paix",
        "Paris",
        "FR",
    )
    assert (location.coordinates.latitude, location.coordinates.longitude) == (48.8566, 2.3522)
    assert (location.timezone, location.owner_name, location.public) == ("Europe/Paris", "VINCI Autoroutes", True)
    assert location.created_at is not None
    assert location.updated_at == location.created_at


def test_location_slug_is_derived_from_the_name_plus_a_random_hex_suffix(
    new_location: Callable[..., LocationResponse],
) -> None:
    first = new_location(name="Paris Hub")
    second = new_location(name="Paris Hub")

    assert re.fullmatch(r"paris-hub-[0-9a-f]{8}", first.slug)
    assert re.fullmatch(r"paris-hub-[0-9a-f]{8}", second.slug)
    assert first.slug != second.slug
    assert first.id != second.id


def test_location_optional_fields_sent_as_null_are_treated_as_absent(client: OcpplabApi) -> None:
    location = client.locations.create_location(**SITE, timezone=None, owner_name=None, public=None)

    assert location.timezone is None
    assert location.owner_name is None
    assert location.public is False
    assert location.status == "active"


def test_get_location_returns_what_create_returned(
    client: OcpplabApi, new_location: Callable[..., LocationResponse]
) -> None:
    created = new_location(timezone="Europe/Paris")

    assert client.locations.get_location(created.id) == created


def test_location_list_reports_total_page_and_limit_and_pages_in_creation_order(
    client: OcpplabApi, new_location: Callable[..., LocationResponse]
) -> None:
    created = [new_location(name=f"Site {n}").id for n in range(5)]

    everything = client.locations.list_locations()
    first = client.locations.list_locations(page=1, limit=2)
    second = client.locations.list_locations(page=2, limit=2)
    last = client.locations.list_locations(page=3, limit=2)

    assert (everything.total, everything.page, everything.limit) == (5, 1, 50)
    assert [location.id for location in everything.data] == created
    assert (second.total, second.page, second.limit) == (5, 2, 2)
    assert [location.id for location in first.data + second.data + last.data] == created
    assert len(last.data) == 1


@pytest.mark.parametrize(("page", "limit", "field"), [(1, 1000, "limit"), (1, 0, "limit"), (0, 10, "page")])
def test_location_list_rejects_out_of_range_paging_as_a_query_error(
    client: OcpplabApi, page: int, limit: int, field: str
) -> None:
    with pytest.raises(UnprocessableEntityError) as raised:
        client.locations.list_locations(page=page, limit=limit, request_options=NO_RETRY)

    item = raised.value.body.detail[0]
    assert item.loc == ["query", field]
    assert item.msg and item.type


@pytest.mark.parametrize(
    ("override", "loc"),
    [
        ({"coordinates": Coordinates(latitude=91, longitude=2.35)}, ["body", "coordinates", "latitude"]),
        ({"coordinates": Coordinates(latitude=48.8, longitude=-180.5)}, ["body", "coordinates", "longitude"]),
        ({"country": "France"}, ["body", "country"]),
        ({"name": ""}, ["body", "name"]),
        ({"timezone": "Mars/Olympus_Mons"}, ["body", "timezone"]),
    ],
    ids=["latitude 91", "longitude -180.5", "country not alpha-2", "empty name", "unknown timezone"],
)
def test_create_location_rejects_a_bad_shape_with_a_body_validation_error(
    client: OcpplabApi, override: dict[str, Any], loc: list[str]
) -> None:
    with pytest.raises(UnprocessableEntityError) as raised:
        client.locations.create_location(**{**SITE, **override}, request_options=NO_RETRY)

    assert [item.loc for item in raised.value.body.detail] == [loc]
    assert client.locations.list_locations().total == 0


def test_update_location_changes_only_the_fields_sent(
    client: OcpplabApi, new_location: Callable[..., LocationResponse]
) -> None:
    before = new_location(timezone="Europe/Paris", owner_name="Owner")

    after = client.locations.update_location(
        before.id, name="Renamed Hub", status="maintenance", coordinates=Coordinates(latitude=-33.9, longitude=151.2)
    )

    assert (after.name, after.status) == ("Renamed Hub", "maintenance")
    assert (after.coordinates.latitude, after.coordinates.longitude) == (-33.9, 151.2)
    assert (after.id, after.slug, after.address, after.city, after.country) == (
        before.id,
        before.slug,
        before.address,
        before.city,
        before.country,
    )
    assert (after.timezone, after.owner_name, after.public) == ("Europe/Paris", "Owner", before.public)
    assert after.created_at == before.created_at
    assert after.updated_at > before.updated_at
    assert client.locations.get_location(before.id) == after


def test_update_location_can_set_slug_public_and_country(
    client: OcpplabApi, new_location: Callable[..., LocationResponse]
) -> None:
    location = new_location()

    updated = client.locations.update_location(location.id, slug="sydney-harbour", public=True, country="AU")

    assert (updated.slug, updated.public, updated.country) == ("sydney-harbour", True, "AU")


def test_update_location_rejects_latitude_91_and_keeps_the_old_value(
    client: OcpplabApi, new_location: Callable[..., LocationResponse]
) -> None:
    location = new_location()

    with pytest.raises(UnprocessableEntityError) as raised:
        client.locations.update_location(
            location.id, coordinates=Coordinates(latitude=91, longitude=0), request_options=NO_RETRY
        )

    assert raised.value.body.detail[0].loc == ["body", "coordinates", "latitude"]
    assert client.locations.get_location(location.id).coordinates.latitude == 48.8566


def test_deleted_location_is_gone_from_get_list_and_a_second_delete(
    client: OcpplabApi, new_location: Callable[..., LocationResponse]
) -> None:
    kept = new_location(name="Kept")
    doomed = new_location(name="Doomed")

    assert client.locations.delete_location(doomed.id) is None

    with pytest.raises(NotFoundError):
        client.locations.get_location(doomed.id, request_options=NO_RETRY)
    with pytest.raises(NotFoundError):
        client.locations.delete_location(doomed.id, request_options=NO_RETRY)
    with pytest.raises(NotFoundError):
        client.locations.update_location(doomed.id, name="Back", request_options=NO_RETRY)
    remaining = client.locations.list_locations()
    assert [location.id for location in remaining.data] == [kept.id]
    assert remaining.total == 1


def test_deleting_a_location_that_still_has_chargers_is_refused_with_400(
    client: OcpplabApi, new_location: Callable[..., LocationResponse], new_charger: Callable[..., Any]
) -> None:
    """The SDK declares no 400 on delete_location, so the refusal surfaces as a plain ApiError(400)."""
    location = new_location()
    charger = new_charger(identity="CP-001", location_id=location.id)

    with pytest.raises(ApiError) as raised:
        client.locations.delete_location(location.id, request_options=NO_RETRY)

    assert raised.value.status_code == 400
    assert isinstance(raised.value.body["detail"], str)
    assert "charger" in raised.value.body["detail"]
    assert client.locations.get_location(location.id).id == location.id

    client.charger_deployments.delete_charger(charger.id)
    client.locations.delete_location(location.id)
    with pytest.raises(NotFoundError):
        client.locations.get_location(location.id, request_options=NO_RETRY)


@pytest.mark.parametrize("location_id", [UNKNOWN_ID, "not-a-location"])
def test_unknown_location_ids_are_not_found_on_get_update_and_delete(client: OcpplabApi, location_id: str) -> None:
    with pytest.raises(NotFoundError):
        client.locations.get_location(location_id, request_options=NO_RETRY)
    with pytest.raises(NotFoundError):
        client.locations.update_location(location_id, name="x", request_options=NO_RETRY)
    with pytest.raises(NotFoundError):
        client.locations.delete_location(location_id, request_options=NO_RETRY)


def test_another_tenants_location_is_not_found_and_left_untouched(
    connect: Callable[..., OcpplabApi], client: OcpplabApi, new_location: Callable[..., LocationResponse], org: str
) -> None:
    mine = new_location(name="Mine")
    intruder = connect(f"{org}-other")

    with pytest.raises(NotFoundError):
        intruder.locations.get_location(mine.id, request_options=NO_RETRY)
    with pytest.raises(NotFoundError):
        intruder.locations.update_location(mine.id, name="Hijacked", request_options=NO_RETRY)
    with pytest.raises(NotFoundError):
        intruder.locations.delete_location(mine.id, request_options=NO_RETRY)

    assert client.locations.get_location(mine.id) == mine


def test_location_lists_never_show_another_tenants_locations(
    connect: Callable[..., OcpplabApi], new_location: Callable[..., LocationResponse], org: str
) -> None:
    other = connect(f"{org}-b")
    mine = [new_location(name="A1").id, new_location(name="A2").id]
    theirs = [new_location(other, name="B1").id]

    assert [location.id for location in connect(org).locations.list_locations().data] == mine
    listed = other.locations.list_locations()
    assert [location.id for location in listed.data] == theirs
    assert listed.total == 1


def test_update_location_with_a_bad_slug_is_rejected(
    client: OcpplabApi, new_location: Callable[..., LocationResponse]
) -> None:
    location = new_location()

    with pytest.raises(UnprocessableEntityError) as raised:
        client.locations.update_location(location.id, slug="Not A Slug", request_options=NO_RETRY)

    assert raised.value.body.detail[0].loc == ["body", "slug"]

    assert client.locations.get_location(location.id).slug == location.slug
