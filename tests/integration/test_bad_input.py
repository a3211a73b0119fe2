"""Bad input over HTTP: every rejection has the contract's shape (api.md sections 3, 4, 6.3, 6.4, 6.12, 7),
and a rejected request changes nothing — neither the event log nor what the list endpoints answer.

422 bodies are FastAPI's: {"detail": [{"loc": ["body" | "query", ...], "msg": str, "type": str}, ...]}.
Every other error is {"detail": "<string>"}.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import pytest

from tests.support import token

ONE_MIB = 1024 * 1024
JSON = {"Content-Type": "application/json"}
MALFORMED = b'{"name":'

LOCATION = {
    "name": "Hub",
    "address": "1 Main Street",
    "city": "Paris",
    "country": "FR",
    "coordinates": {"latitude": 48.8, "longitude": 2.3},
}
CHARGER = {
    "brand_slug": "abb",
    "model_slug": "terra-184",
    "connector_type": "CCS2",
    "ws_url": "ws://csms.example:9000/ocpp",
}


# -- helpers ---------------------------------------------------------------------------------------------


def without(document: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in document.items() if k not in keys}


def location_body(**overrides: Any) -> dict[str, Any]:
    return {**LOCATION, **overrides}


def charger_body(identity: str, location_id: str | None, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {**CHARGER, "identity": identity, **overrides}
    if location_id is not None:
        body["location_id"] = location_id
    return body


async def create_location(client: Any, headers: dict[str, str], **overrides: Any) -> dict[str, Any]:
    response = await client.post("/locations", json=location_body(**overrides), headers=headers)
    assert response.status_code == 201, await response.get_data(as_text=True)
    return await response.get_json()


async def create_charger(client: Any, headers: dict[str, str], identity: str, location_id: str) -> dict[str, Any]:
    response = await client.post("/chargers", json=charger_body(identity, location_id), headers=headers)
    assert response.status_code == 201, await response.get_data(as_text=True)
    return await response.get_json()


async def snapshot(client: Any, headers: dict[str, str]) -> dict[str, Any]:
    """Everything a rejected request must leave alone: the event log's head and the tenant's lists."""
    gateway = client.app.extensions["ocpplab"].gateway
    locations = await client.get("/locations?limit=100", headers=headers)
    chargers = await client.get("/chargers?limit=100", headers=headers)
    assert locations.status_code == chargers.status_code == 200
    return {
        "position": await asyncio.to_thread(gateway.position),
        "locations": await locations.get_json(),
        "chargers": await chargers.get_json(),
    }


async def expect_422(response: Any, where: str, *path: str | int) -> list[dict[str, Any]]:
    """FastAPI's validation shape; `path` (if given) is the loc after `where` of at least one item."""
    text = await response.get_data(as_text=True)
    assert response.status_code == 422, text
    body = await response.get_json()
    detail = body["detail"]
    assert isinstance(detail, list) and detail, text
    for item in detail:
        assert isinstance(item["loc"], list) and item["loc"], item
        assert item["loc"][0] == where, item
        assert all(isinstance(part, (str, int)) for part in item["loc"]), item
        assert isinstance(item["msg"], str) and item["msg"], item
        assert isinstance(item["type"], str) and item["type"], item
        assert item.get("ctx") is None or isinstance(item["ctx"], dict), item
    if path:
        assert any(item["loc"][1 : 1 + len(path)] == list(path) for item in detail), detail
    return detail


async def expect_detail(response: Any, status: int) -> str:
    text = await response.get_data(as_text=True)
    assert response.status_code == status, text
    body = await response.get_json()
    assert isinstance(body, dict) and isinstance(body.get("detail"), str) and body["detail"], text
    return body["detail"]


@pytest.fixture
async def fleet(client, auth) -> dict[str, Any]:
    """Location 'Hub' with charger cp-001, and an empty location 'Depot'."""
    hub = await create_location(client, auth)
    depot = await create_location(client, auth, name="Depot")
    charger = await create_charger(client, auth, "cp-001", hub["id"])
    return {"hub": hub, "depot": depot, "charger": charger}


@pytest.fixture
async def unchanged(client, auth, fleet):
    """`await unchanged()` asserts that nothing changed since the fleet was set up."""
    before = await snapshot(client, auth)

    async def check() -> None:
        assert await snapshot(client, auth) == before

    return check


# -- malformed JSON: 422 json_invalid at the body ------------------------------------------------------


def malformed_targets(fleet: dict[str, Any]) -> list[tuple[str, str]]:
    hub, charger = fleet["hub"]["id"], fleet["charger"]["id"]
    return [
        ("POST", "/locations"),
        ("PUT", f"/locations/{hub}"),
        ("POST", "/chargers"),
        ("PUT", f"/chargers/{charger}"),
        ("POST", f"/locations/{hub}/chargers/create-chargers"),
        ("PUT", f"/locations/{hub}/chargers/update-chargers"),
        ("POST", f"/locations/{hub}/chargers/delete-chargers"),
    ]


@pytest.mark.parametrize("raw", [MALFORMED, b"{", b"{'name': 'single quotes'}", b'{"a": 1,}', b"nul", b"\xff\xfe{"])
async def test_malformed_json_is_422_json_invalid_at_the_body_on_every_write_route(client, auth, fleet, unchanged, raw):
    for method, path in malformed_targets(fleet):
        response = await client.open(path, method=method, data=raw, headers={**auth, **JSON})
        detail = await expect_422(response, "body")
        assert detail[0]["type"] == "json_invalid", (method, path, detail)
        await unchanged()


async def test_deeply_nested_json_is_422_json_invalid_not_a_server_error(client, auth, fleet, unchanged):
    response = await client.post("/locations", data=b"[" * 100_000, headers={**auth, **JSON})
    detail = await expect_422(response, "body")
    assert detail[0]["type"] == "json_invalid"
    await unchanged()


@pytest.mark.parametrize("raw", [b"[]", b'"a string"', b"42", b"null", b"true"])
async def test_a_json_body_that_is_not_an_object_is_422_at_the_body(client, auth, fleet, unchanged, raw):
    for method, path in malformed_targets(fleet):
        response = await client.open(path, method=method, data=raw, headers={**auth, **JSON})
        await expect_422(response, "body")
        await unchanged()


@pytest.mark.parametrize("path", ["/locations", "/chargers"])
async def test_a_create_without_any_body_is_422_missing_body(client, auth, unchanged, path):
    response = await client.post(path, headers={**auth, **JSON})
    detail = await expect_422(response, "body")
    assert detail[0]["type"] == "missing"
    await unchanged()


# -- POST /locations -------------------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["name", "address", "city", "country", "coordinates"])
async def test_creating_a_location_without_a_required_field_is_422_missing(client, auth, unchanged, field):
    response = await client.post("/locations", json=without(LOCATION, field), headers=auth)
    detail = await expect_422(response, "body", field)
    assert any(item["type"] == "missing" for item in detail)
    await unchanged()


@pytest.mark.parametrize("field", ["name", "address", "city", "country", "coordinates"])
async def test_creating_a_location_with_a_required_field_null_is_422(client, auth, unchanged, field):
    response = await client.post("/locations", json=location_body(**{field: None}), headers=auth)
    await expect_422(response, "body", field)
    await unchanged()


@pytest.mark.parametrize("axis", ["latitude", "longitude"])
async def test_creating_a_location_with_partial_coordinates_is_422_at_the_missing_axis(client, auth, unchanged, axis):
    other = "longitude" if axis == "latitude" else "latitude"
    response = await client.post("/locations", json=location_body(coordinates={other: 1.0}), headers=auth)
    await expect_422(response, "body", "coordinates", axis)
    await unchanged()


LOCATION_WRONG_TYPES = {
    "name is a number": ({"name": 123}, ("name",)),
    "address is a list": ({"address": ["1 Main"]}, ("address",)),
    "city is an object": ({"city": {"x": 1}}, ("city",)),
    "country is a number": ({"country": 33}, ("country",)),
    "coordinates is a string": ({"coordinates": "48.8,2.3"}, ("coordinates",)),
    "coordinates is a list": ({"coordinates": [48.8, 2.3]}, ("coordinates",)),
    "latitude is a word": ({"coordinates": {"latitude": "north", "longitude": 2.3}}, ("coordinates", "latitude")),
    "longitude is null": ({"coordinates": {"latitude": 48.8, "longitude": None}}, ("coordinates", "longitude")),
    "public is not a boolean": ({"public": "maybe"}, ("public",)),
    "owner_name is a number": ({"owner_name": 7}, ("owner_name",)),
    "timezone is a number": ({"timezone": 1}, ("timezone",)),
}


@pytest.mark.parametrize("change,where", list(LOCATION_WRONG_TYPES.values()), ids=list(LOCATION_WRONG_TYPES))
async def test_creating_a_location_with_a_wrongly_typed_field_is_422_at_that_field(
    client, auth, unchanged, change, where
):
    response = await client.post("/locations", json=location_body(**change), headers=auth)
    await expect_422(response, "body", *where)
    await unchanged()


LOCATION_BAD_VALUES = {
    "latitude 91": ({"coordinates": {"latitude": 91, "longitude": 2.3}}, ("coordinates", "latitude")),
    "latitude -90.0001": ({"coordinates": {"latitude": -90.0001, "longitude": 2.3}}, ("coordinates", "latitude")),
    "longitude -181": ({"coordinates": {"latitude": 48.8, "longitude": -181}}, ("coordinates", "longitude")),
    "longitude 180.5": ({"coordinates": {"latitude": 48.8, "longitude": 180.5}}, ("coordinates", "longitude")),
    "country FRA": ({"country": "FRA"}, ("country",)),
    "country F": ({"country": "F"}, ("country",)),
    "country 12": ({"country": "12"}, ("country",)),
    "timezone Mars/Base": ({"timezone": "Mars/Base"}, ("timezone",)),
    "timezone with a path escape": ({"timezone": "../../etc/passwd"}, ("timezone",)),
    "empty name": ({"name": ""}, ("name",)),
    "name of 201 characters": ({"name": "n" * 201}, ("name",)),
    "empty city": ({"city": ""}, ("city",)),
    "owner_name of 101 characters": ({"owner_name": "o" * 101}, ("owner_name",)),
}


@pytest.mark.parametrize("change,where", list(LOCATION_BAD_VALUES.values()), ids=list(LOCATION_BAD_VALUES))
async def test_creating_a_location_with_an_out_of_range_value_is_422_at_that_field(
    client, auth, unchanged, change, where
):
    response = await client.post("/locations", json=location_body(**change), headers=auth)
    await expect_422(response, "body", *where)
    await unchanged()


@pytest.mark.parametrize("axis", ["latitude", "longitude"])
@pytest.mark.parametrize("number", [b"NaN", b"Infinity", b"-Infinity", b"1e400"])
async def test_creating_a_location_with_a_non_finite_coordinate_is_422(client, auth, unchanged, number, axis):
    coordinates = {"latitude": "@", "longitude": 2.3} if axis == "latitude" else {"latitude": 48.8, "longitude": "@"}
    raw = json.dumps(location_body(coordinates=coordinates)).encode().replace(b'"@"', number)
    response = await client.post("/locations", data=raw, headers={**auth, **JSON})
    await expect_422(response, "body", "coordinates", axis)
    await unchanged()


def whitespace_only_targets(fleet: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    hub, charger = fleet["hub"]["id"], fleet["charger"]["id"]
    return [
        ("POST", "/locations", location_body(name="   ")),
        ("POST", "/locations", location_body(city="\t")),
        ("PUT", f"/locations/{hub}", {"address": "  "}),
        ("PUT", f"/locations/{hub}", {"status": " "}),
        ("POST", "/chargers", {**charger_body("cp-new", hub), "charge_point_name": "  "}),
        ("PUT", f"/chargers/{charger}", {"name": "  "}),
    ]


async def test_whitespace_only_text_is_rejected_as_400_or_422_and_changes_nothing(client, auth, fleet, unchanged):
    for method, path, payload in whitespace_only_targets(fleet):
        response = await client.open(path, method=method, json=payload, headers=auth)
        if response.status_code == 422:
            await expect_422(response, "body")
        else:
            await expect_detail(response, 400)
        await unchanged()


# -- PUT /locations/{id} -----------------------------------------------------------------------------------


LOCATION_BAD_UPDATES = {
    "latitude 91": {"coordinates": {"latitude": 91, "longitude": 2.3}},
    "longitude -181": {"coordinates": {"latitude": 48.8, "longitude": -181}},
    "coordinates without longitude": {"coordinates": {"latitude": 48.8}},
    "country FRA": {"country": "FRA"},
    "timezone Mars/Base": {"timezone": "Mars/Base"},
    "public is not a boolean": {"public": "maybe"},
    "slug with spaces": {"slug": "Not A Slug"},
    "empty name": {"name": ""},
    "name is a number": {"name": 5},
    "empty status": {"status": ""},
    "one good field and one bad": {"name": "Renamed", "country": "FRA"},
}


@pytest.mark.parametrize("change", list(LOCATION_BAD_UPDATES.values()), ids=list(LOCATION_BAD_UPDATES))
async def test_updating_a_location_with_a_bad_field_is_422_and_leaves_it_as_it_was(
    client, auth, fleet, unchanged, change
):
    hub = fleet["hub"]["id"]
    before = await (await client.get(f"/locations/{hub}", headers=auth)).get_json()
    response = await client.put(f"/locations/{hub}", json=change, headers=auth)
    await expect_422(response, "body")
    assert await (await client.get(f"/locations/{hub}", headers=auth)).get_json() == before
    await unchanged()


async def test_updating_a_location_with_a_nan_latitude_is_422(client, auth, fleet, unchanged):
    raw = b'{"coordinates": {"latitude": NaN, "longitude": 2.3}}'
    response = await client.put(f"/locations/{fleet['hub']['id']}", data=raw, headers={**auth, **JSON})
    await expect_422(response, "body", "coordinates", "latitude")
    await unchanged()


# -- POST /chargers --------------------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["identity", "brand_slug", "model_slug", "connector_type", "ws_url"])
async def test_creating_a_charger_without_a_required_field_is_422_missing(client, auth, fleet, unchanged, field):
    body = without(charger_body("cp-new", fleet["hub"]["id"]), field)
    detail = await expect_422(await client.post("/chargers", json=body, headers=auth), "body", field)
    assert any(item["type"] == "missing" for item in detail)
    await unchanged()


CHARGER_BAD_FIELDS = {
    "identity is a number": {"identity": 123},
    "identity with a space": {"identity": "cp 001"},
    "identity of 49 characters": {"identity": "c" * 49},
    "empty identity": {"identity": ""},
    "identity starting with a hyphen": {"identity": "-cp"},
    "identity with a slash": {"identity": "cp/001"},
    "identity with a non-ascii letter": {"identity": "cp-é"},
    "ws_url with http scheme": {"ws_url": "http://host"},
    "ws_url without a host": {"ws_url": "ws://"},
    "ws_url without a scheme": {"ws_url": "csms.example:9000"},
    "ws_url with a bad port": {"ws_url": "ws://host:99999"},
    "ws_url with a fragment": {"ws_url": "ws://host/ocpp#x"},
    "ws_url is a number": {"ws_url": 5},
    "ocpp_version OCPP3": {"ocpp_version": "OCPP3"},
    "ocpp_version 1.6 without prefix": {"ocpp_version": "1.6"},
    "ocpp_version is a number": {"ocpp_version": 1.6},
    "empty brand_slug": {"brand_slug": ""},
    "empty connector_type": {"connector_type": ""},
    "charge_point_name of 201 characters": {"charge_point_name": "n" * 201},
    "location_id is a number": {"location_id": 42},
}


@pytest.mark.parametrize("change", list(CHARGER_BAD_FIELDS.values()), ids=list(CHARGER_BAD_FIELDS))
async def test_creating_a_charger_with_a_bad_field_is_422_at_that_field(client, auth, fleet, unchanged, change):
    (field,) = change
    body = {**charger_body("cp-new", fleet["hub"]["id"]), **change}
    await expect_422(await client.post("/chargers", json=body, headers=auth), "body", field)
    await unchanged()


async def test_an_identity_of_exactly_48_characters_is_accepted(client, auth, fleet):
    response = await client.post("/chargers", json=charger_body("c" * 48, fleet["hub"]["id"]), headers=auth)
    assert response.status_code == 201
    assert (await response.get_json())["identity"] == "c" * 48


CHARGER_BUSINESS_FAILURES = {
    "unknown brand": {"brand_slug": "no-such-brand"},
    "unknown model": {"model_slug": "no-such-model"},
    "model of another brand": {"model_slug": "wallbox-pulsar-plus"},
    "connector type not in the model": {"connector_type": "Type2"},
    "connector type in another case": {"connector_type": "ccs2"},
    "unknown location id": {"location_id": str(uuid.uuid4())},
    "malformed location id": {"location_id": "nowhere"},
    "unknown location name": {"location_name": "Nowhere"},
}


@pytest.mark.parametrize("change", list(CHARGER_BUSINESS_FAILURES.values()), ids=list(CHARGER_BUSINESS_FAILURES))
async def test_creating_a_charger_that_breaks_a_business_rule_is_400_with_a_string_detail(
    client, auth, fleet, unchanged, change
):
    body = {**charger_body("cp-new", fleet["hub"]["id"]), **change}
    if "location_name" in change:
        del body["location_id"]
    await expect_detail(await client.post("/chargers", json=body, headers=auth), 400)
    await expect_detail(await client.get("/chargers/cp-new", headers=auth), 404)
    await unchanged()


async def test_creating_a_charger_without_any_location_is_400(client, auth, unchanged):
    body = charger_body("cp-new", None)
    await expect_detail(await client.post("/chargers", json=body, headers=auth), 400)
    await unchanged()


async def test_creating_a_charger_in_another_organizations_location_is_400(client, auth, unchanged):
    theirs = await create_location(client, {"Authorization": f"Bearer {token('globex')}"})
    before = await snapshot(client, auth)
    body = charger_body("cp-new", theirs["id"])
    await expect_detail(await client.post("/chargers", json=body, headers=auth), 400)
    assert await snapshot(client, auth) == before


async def test_creating_a_charger_in_a_deleted_location_is_400(client, auth, fleet):
    depot = fleet["depot"]["id"]
    assert (await client.delete(f"/locations/{depot}", headers=auth)).status_code in (200, 204)
    before = await snapshot(client, auth)
    await expect_detail(await client.post("/chargers", json=charger_body("cp-new", depot), headers=auth), 400)
    assert await snapshot(client, auth) == before


async def test_a_duplicate_identity_is_400_and_leaves_the_existing_charger_alone(client, auth, fleet, unchanged):
    existing = fleet["charger"]
    for change in ({"connector_type": "CHAdeMO"}, {"ws_url": "wss://other.example/ocpp"}, {}):
        location = fleet["depot"]["id"] if not change else fleet["hub"]["id"]
        body = charger_body("cp-001", location, **change)
        await expect_detail(await client.post("/chargers", json=body, headers=auth), 400)
        assert await (await client.get(f"/chargers/{existing['id']}", headers=auth)).get_json() == existing
        await unchanged()


async def test_replaying_an_identical_create_returns_the_same_charger_and_adds_nothing(client, auth, fleet, unchanged):
    body = charger_body("cp-001", fleet["hub"]["id"])
    response = await client.post("/chargers", json=body, headers=auth)
    assert response.status_code in (200, 201)
    assert (await response.get_json())["id"] == fleet["charger"]["id"]
    await unchanged()


# -- PUT /chargers/{id} -----------------------------------------------------------------------------------


CHARGER_BAD_UPDATES = {
    "ws_url with http scheme": ({"ws_url": "http://host"}, 422),
    "ws_url without a host": ({"ws_url": "ws://"}, 422),
    "ocpp_version OCPP3": ({"ocpp_version": "OCPP3"}, 422),
    "empty name": ({"name": ""}, 422),
    "name is a number": ({"name": 3}, 422),
    "connector type not in the model": ({"connector_type": "Type2"}, 400),
    "unknown location id": ({"location_id": str(uuid.uuid4())}, 400),
    "malformed location id": ({"location_id": "nowhere"}, 400),
    "unknown location name": ({"location_name": "Nowhere"}, 400),
    "good name with a bad connector": ({"name": "Renamed", "connector_type": "Type2"}, 400),
    "good name with a bad ws_url": ({"name": "Renamed", "ws_url": "http://host"}, 422),
}


@pytest.mark.parametrize("change,status", list(CHARGER_BAD_UPDATES.values()), ids=list(CHARGER_BAD_UPDATES))
async def test_a_rejected_charger_update_leaves_the_charger_as_it_was(client, auth, fleet, unchanged, change, status):
    charger = fleet["charger"]
    for key in (charger["id"], charger["identity"]):
        response = await client.put(f"/chargers/{key}", json=change, headers=auth)
        if status == 422:
            await expect_422(response, "body")
        else:
            await expect_detail(response, status)
        assert await (await client.get(f"/chargers/{charger['id']}", headers=auth)).get_json() == charger
        await unchanged()


# -- unknown path ids: 404 -------------------------------------------------------------------------------


def unknown_id_requests(fleet: dict[str, Any]) -> list[tuple[str, str, dict[str, Any] | None]]:
    requests: list[tuple[str, str, dict[str, Any] | None]] = []
    for missing in (str(uuid.uuid4()), "not-a-uuid", fleet["charger"]["id"]):  # a charger id is no location id
        requests += [
            ("GET", f"/locations/{missing}", None),
            ("PUT", f"/locations/{missing}", {"name": "Renamed"}),
            ("DELETE", f"/locations/{missing}", None),
            ("GET", f"/locations/{missing}/chargers/get-chargers", None),
            ("POST", f"/locations/{missing}/chargers/create-chargers", {"chargers": [charger_body("cp-new", None)]}),
            ("PUT", f"/locations/{missing}/chargers/update-chargers", {"chargers": [{"charger_id": "cp-001"}]}),
            ("POST", f"/locations/{missing}/chargers/delete-chargers", {"charger_ids": ["cp-001"]}),
        ]
    for missing in (str(uuid.uuid4()), "no-such-identity", fleet["hub"]["id"]):  # a location id is no charger id
        requests += [
            ("GET", f"/chargers/{missing}", None),
            ("PUT", f"/chargers/{missing}", {"name": "Renamed"}),
            ("DELETE", f"/chargers/{missing}", None),
        ]
    return requests


async def test_unknown_path_ids_are_404_with_a_string_detail(client, auth, fleet, unchanged):
    for method, path, payload in unknown_id_requests(fleet):
        response = await client.open(path, method=method, json=payload, headers=auth)
        detail = await expect_detail(response, 404)
        assert "not found" in detail.lower(), (method, path, detail)
        await unchanged()


async def test_another_organizations_ids_are_404(client, auth, fleet):
    globex = {"Authorization": f"Bearer {token('globex')}"}
    assert (await client.get("/locations", headers=globex)).status_code == 200  # registers 'globex' first
    before = await snapshot(client, auth)
    hub, charger = fleet["hub"]["id"], fleet["charger"]["id"]
    for method, path, payload in [
        ("GET", f"/locations/{hub}", None),
        ("PUT", f"/locations/{hub}", {"name": "Mine now"}),
        ("DELETE", f"/locations/{hub}", None),
        ("GET", f"/chargers/{charger}", None),
        ("GET", "/chargers/cp-001", None),
        ("PUT", f"/chargers/{charger}", {"name": "Mine now"}),
        ("DELETE", f"/chargers/{charger}", None),
        ("POST", f"/locations/{hub}/chargers/delete-chargers", {"charger_ids": [charger]}),
    ]:
        await expect_detail(await client.open(path, method=method, json=payload, headers=globex), 404)
        assert await snapshot(client, auth) == before


async def test_a_deleted_location_is_404_everywhere(client, auth, fleet):
    depot = fleet["depot"]["id"]
    assert (await client.delete(f"/locations/{depot}", headers=auth)).status_code in (200, 204)
    before = await snapshot(client, auth)
    for method, path, payload in [
        ("GET", f"/locations/{depot}", None),
        ("PUT", f"/locations/{depot}", {"name": "Back"}),
        ("DELETE", f"/locations/{depot}", None),
        ("GET", f"/locations/{depot}/chargers/get-chargers", None),
        ("POST", f"/locations/{depot}/chargers/create-chargers", {"chargers": [charger_body("cp-new", None)]}),
    ]:
        await expect_detail(await client.open(path, method=method, json=payload, headers=auth), 404)
        assert await snapshot(client, auth) == before


# -- DELETE /locations/{id} with chargers --------------------------------------------------------------


async def test_deleting_a_location_that_has_chargers_is_400_and_keeps_both(client, auth, fleet, unchanged):
    hub, charger = fleet["hub"], fleet["charger"]
    await expect_detail(await client.delete(f"/locations/{hub['id']}", headers=auth), 400)
    assert (await client.get(f"/locations/{hub['id']}", headers=auth)).status_code == 200
    assert await (await client.get(f"/chargers/{charger['id']}", headers=auth)).get_json() == charger
    await unchanged()


# -- query parameters -------------------------------------------------------------------------------------


BAD_PAGES = {
    "page 0": ("page=0", "page"),
    "page -1": ("page=-1", "page"),
    "page abc": ("page=abc", "page"),
    "page 1.5": ("page=1.5", "page"),
    "empty page": ("page=", "page"),
    "limit 0": ("limit=0", "limit"),
    "limit 101": ("limit=101", "limit"),
    "limit abc": ("limit=abc", "limit"),
    "limit -5": ("limit=-5", "limit"),
}


PAGED_PATHS = {
    "locations": "/locations",
    "chargers": "/chargers",
    "chargers of a location": "/chargers?location_id={hub}",
    "location get-chargers": "/locations/{hub}/chargers/get-chargers",
    "catalog brands": "/catalog/brands",
    "catalog models": "/catalog/brands/abb/models",
}
VIEW_BACKED = ("locations", "chargers", "chargers of a location", "location get-chargers")


def paged(template: str, fleet: dict[str, Any], query: str) -> str:
    path = template.format(hub=fleet["hub"]["id"])
    return f"{path}{'&' if '?' in path else '?'}{query}"


@pytest.mark.parametrize("template", list(PAGED_PATHS.values()), ids=list(PAGED_PATHS))
@pytest.mark.parametrize("param,field", list(BAD_PAGES.values()), ids=list(BAD_PAGES))
async def test_out_of_range_paging_is_422_at_the_query_parameter(
    client, auth, unchanged, fleet, template, param, field
):
    response = await client.get(paged(template, fleet, param), headers=auth)
    await expect_422(response, "query", field)
    await unchanged()


@pytest.mark.parametrize("template", list(PAGED_PATHS.values()), ids=list(PAGED_PATHS))
async def test_the_paging_bounds_themselves_are_accepted_and_echoed(client, auth, fleet, template):
    for page, limit in ((1, 1), (1, 100), (7, 100)):
        response = await client.get(paged(template, fleet, f"page={page}&limit={limit}"), headers=auth)
        assert response.status_code == 200
        body = await response.get_json()
        assert (body["page"], body["limit"]) == (page, limit)


@pytest.mark.parametrize(
    "template,page",
    [
        pytest.param(template, page, id=f"{name} page {page:.0e}")
        for name, template in PAGED_PATHS.items()
        for page in (10**12, 10**17, 10**30)
    ],
)
async def test_a_huge_page_number_answers_an_empty_page_or_422_never_a_server_error(
    client, auth, unchanged, fleet, template, page
):
    response = await client.get(paged(template, fleet, f"page={page}&limit=100"), headers=auth)
    assert response.status_code in (200, 422), await response.get_data(as_text=True)
    if response.status_code == 200:
        assert (await response.get_json())["data"] == []
    else:
        await expect_422(response, "query", "page")
    await unchanged()


@pytest.mark.parametrize("bad", ["has space", "x" * 49, "a/b"])
async def test_listing_a_locations_chargers_by_malformed_ids_is_400(client, auth, fleet, unchanged, bad):
    path = f"/locations/{fleet['hub']['id']}/chargers/get-chargers"
    response = await client.get(path, query_string={"charger_ids": ["cp-001", bad]}, headers=auth)
    await expect_detail(response, 400)
    await unchanged()


async def test_listing_a_locations_chargers_with_an_empty_id_is_422(client, auth, fleet, unchanged):
    path = f"/locations/{fleet['hub']['id']}/chargers/get-chargers"
    await expect_422(await client.get(f"{path}?charger_ids=", headers=auth), "query", "charger_ids")
    await unchanged()


# -- bulk routes: shape errors are 422, item errors are per-item failures --------------------------------


def bulk_shape_errors(fleet: dict[str, Any]) -> list[tuple[str, str, dict[str, Any], str]]:
    base = f"/locations/{fleet['hub']['id']}/chargers"
    return [
        ("POST", f"{base}/create-chargers", {}, "chargers"),
        ("POST", f"{base}/create-chargers", {"chargers": None}, "chargers"),
        ("POST", f"{base}/create-chargers", {"chargers": "cp-1"}, "chargers"),
        ("POST", f"{base}/create-chargers", {"chargers": {"identity": "cp-1"}}, "chargers"),
        ("POST", f"{base}/create-chargers", {"chargers": [{"identity": "x"}] * 1001}, "chargers"),
        ("PUT", f"{base}/update-chargers", {}, "chargers"),
        ("PUT", f"{base}/update-chargers", {"chargers": "cp-001"}, "chargers"),
        ("POST", f"{base}/delete-chargers", {}, "charger_ids"),
        ("POST", f"{base}/delete-chargers", {"charger_ids": None}, "charger_ids"),
        ("POST", f"{base}/delete-chargers", {"charger_ids": "cp-001"}, "charger_ids"),
        ("POST", f"{base}/delete-chargers", {"charger_ids": [1]}, "charger_ids"),
        ("POST", f"{base}/delete-chargers", {"charger_ids": ["x" * 101]}, "charger_ids"),
    ]


async def test_a_bulk_body_of_the_wrong_shape_is_422_at_its_list(client, auth, fleet, unchanged):
    for method, path, payload, field in bulk_shape_errors(fleet):
        response = await client.open(path, method=method, json=payload, headers=auth)
        await expect_422(response, "body", field)
        await unchanged()


async def test_bulk_create_creates_the_good_items_and_reports_each_bad_one(client, auth, fleet):
    hub, depot = fleet["hub"]["id"], fleet["depot"]["id"]
    before = await snapshot(client, auth)
    items = [
        charger_body("bulk-ok-1", None),
        charger_body("bad id", None),
        charger_body("cp-bad-brand", None, brand_slug="no-such-brand"),
        charger_body("cp-bad-connector", None, connector_type="Type2"),
        charger_body("cp-001", None, connector_type="CHAdeMO"),  # duplicate identity, different charger
        without(charger_body("cp-no-url", None), "ws_url"),
        charger_body("cp-bad-version", None, ocpp_version="OCPP3"),
        charger_body("bulk-ok-2", depot),  # the path location wins over the item's own
    ]
    response = await client.post(f"/locations/{hub}/chargers/create-chargers", json={"chargers": items}, headers=auth)
    assert response.status_code == 200, await response.get_data(as_text=True)
    body = await response.get_json()
    assert body["created_count"] == 2
    assert [c["identity"] for c in body["created"]] == ["bulk-ok-1", "bulk-ok-2"]
    assert all(c["location_id"] == hub for c in body["created"])
    assert body["failed_count"] == len(items) - 2 == len(body["failed"])
    assert [f.get("identity") for f in body["failed"]] == [
        "bad id",
        "cp-bad-brand",
        "cp-bad-connector",
        "cp-001",
        "cp-no-url",
        "cp-bad-version",
    ]
    assert all(isinstance(f["error"], str) and f["error"] for f in body["failed"])
    after = await snapshot(client, auth)
    assert after["chargers"]["total"] == before["chargers"]["total"] + 2
    assert [loc["id"] for loc in after["locations"]["data"]] == [loc["id"] for loc in before["locations"]["data"]]
    assert await (await client.get(f"/locations/{depot}", headers=auth)).get_json() == fleet["depot"]
    existing = await (await client.get(f"/chargers/{fleet['charger']['id']}", headers=auth)).get_json()
    assert existing == fleet["charger"]
    for identity in ("cp-bad-brand", "cp-bad-connector", "cp-no-url", "cp-bad-version"):
        await expect_detail(await client.get(f"/chargers/{identity}", headers=auth), 404)


async def test_a_bulk_create_item_that_is_not_an_object_is_422_and_creates_none_of_the_others(
    client, auth, fleet, unchanged
):
    items = [charger_body("bulk-ok-1", None), "not an object", 42]
    path = f"/locations/{fleet['hub']['id']}/chargers/create-chargers"
    response = await client.post(path, json={"chargers": items}, headers=auth)
    await expect_422(response, "body", "chargers", 1)
    await unchanged()


async def test_bulk_create_with_only_bad_items_is_200_and_changes_nothing(client, auth, fleet, unchanged):
    items = [charger_body("bad id", None), charger_body("cp-x", None, brand_slug="nope")]
    path = f"/locations/{fleet['hub']['id']}/chargers/create-chargers"
    response = await client.post(path, json={"chargers": items}, headers=auth)
    assert response.status_code == 200
    body = await response.get_json()
    assert (body["created_count"], body["failed_count"], body["created"]) == (0, 2, [])
    await unchanged()


async def test_bulk_create_of_the_same_new_identity_twice_creates_it_once(client, auth, fleet):
    hub = fleet["hub"]["id"]
    before = await snapshot(client, auth)
    items = [charger_body("cp-twin", None), charger_body("cp-twin", None, connector_type="CHAdeMO")]
    response = await client.post(f"/locations/{hub}/chargers/create-chargers", json={"chargers": items}, headers=auth)
    assert response.status_code == 200
    body = await response.get_json()
    assert (body["created_count"], body["failed_count"]) == (1, 1)
    assert body["created"][0]["connector_type"] == "CCS2"
    assert (await snapshot(client, auth))["chargers"]["total"] == before["chargers"]["total"] + 1


async def test_bulk_update_applies_the_good_items_and_reports_each_bad_one(client, auth, fleet):
    hub, depot = fleet["hub"]["id"], fleet["depot"]["id"]
    second = await create_charger(client, auth, "cp-002", hub)
    elsewhere = await create_charger(client, auth, "cp-depot", depot)
    before = await snapshot(client, auth)
    items = [
        {"charger_id": fleet["charger"]["id"], "name": "Renamed"},
        {"charger_id": second["id"], "ws_url": "http://host"},
        {"charger_id": second["id"], "connector_type": "Type2"},
        {"charger_id": second["id"], "ocpp_version": "OCPP3"},
        {"charger_id": str(uuid.uuid4()), "name": "Ghost"},
        {"charger_id": elsewhere["id"], "name": "Not in this location"},
        {"name": "No id"},
        {"charger_id": 7, "name": "Numeric id"},
    ]
    path = f"/locations/{hub}/chargers/update-chargers"
    response = await client.put(path, json={"chargers": items}, headers=auth)
    assert response.status_code == 200, await response.get_data(as_text=True)
    body = await response.get_json()
    assert body["updated_count"] == 1
    assert [c["id"] for c in body["updated"]] == [fleet["charger"]["id"]]
    assert body["updated"][0]["name"] == "Renamed"
    assert body["failed_count"] == len(items) - 1 == len(body["failed"])
    assert [f.get("charger_id") for f in body["failed"]] == [
        second["id"],
        second["id"],
        second["id"],
        items[4]["charger_id"],
        elsewhere["id"],
        None,
        None,
    ]
    assert all(isinstance(f["error"], str) and f["error"] for f in body["failed"])
    assert await (await client.get(f"/chargers/{second['id']}", headers=auth)).get_json() == second
    assert await (await client.get(f"/chargers/{elsewhere['id']}", headers=auth)).get_json() == elsewhere
    after = await snapshot(client, auth)
    assert after["chargers"]["total"] == before["chargers"]["total"]
    assert after["locations"] == before["locations"]


async def test_bulk_update_with_only_bad_items_changes_nothing(client, auth, fleet, unchanged):
    items = [{"charger_id": fleet["charger"]["id"], "ws_url": "ws://"}, {"charger_id": "ghost", "name": "x"}]
    path = f"/locations/{fleet['hub']['id']}/chargers/update-chargers"
    response = await client.put(path, json={"chargers": items}, headers=auth)
    assert response.status_code == 200
    body = await response.get_json()
    assert (body["updated_count"], body["failed_count"], body["updated"]) == (0, 2, [])
    await unchanged()


async def test_bulk_delete_deletes_the_good_ids_and_reports_each_bad_one(client, auth, fleet):
    hub, depot = fleet["hub"]["id"], fleet["depot"]["id"]
    second = await create_charger(client, auth, "cp-002", hub)
    elsewhere = await create_charger(client, auth, "cp-depot", depot)
    before = await snapshot(client, auth)
    ghost = str(uuid.uuid4())
    ids = [fleet["charger"]["id"], ghost, elsewhere["id"], "no-such-identity", "cp-002", fleet["charger"]["id"]]
    path = f"/locations/{hub}/chargers/delete-chargers"
    response = await client.post(path, json={"charger_ids": ids}, headers=auth)
    assert response.status_code == 200, await response.get_data(as_text=True)
    body = await response.get_json()
    assert sorted(body["deleted"]) == sorted([fleet["charger"]["id"], second["id"]])
    assert body["deleted_count"] == 2
    assert sorted(f["charger_id"] for f in body["failed"]) == sorted([ghost, elsewhere["id"], "no-such-identity"])
    assert body["failed_count"] == 3
    assert all(isinstance(f["error"], str) and f["error"] for f in body["failed"])
    assert await (await client.get(f"/chargers/{elsewhere['id']}", headers=auth)).get_json() == elsewhere
    after = await snapshot(client, auth)
    assert after["chargers"]["total"] == before["chargers"]["total"] - 2


async def test_bulk_delete_of_unknown_ids_only_changes_nothing(client, auth, fleet, unchanged):
    path = f"/locations/{fleet['hub']['id']}/chargers/delete-chargers"
    response = await client.post(path, json={"charger_ids": [str(uuid.uuid4()), "nope", ""]}, headers=auth)
    assert response.status_code == 200
    body = await response.get_json()
    assert (body["deleted_count"], body["failed_count"], body["deleted"]) == (0, 3, [])
    await unchanged()


# -- body size, unknown routes, wrong methods -----------------------------------------------------------


def oversized(fleet: dict[str, Any]) -> list[tuple[str, str, bytes]]:
    padding = b"x" * (ONE_MIB + 1)
    big_location = (
        b'{"name": "' + padding + b'", "address": "a", "city": "c", "country": "FR", '
        b'"coordinates": {"latitude": 1, "longitude": 1}}'
    )
    hub, charger = fleet["hub"]["id"], fleet["charger"]["id"]
    return [
        ("POST", "/locations", big_location),
        ("PUT", f"/locations/{hub}", b'{"owner_name": "' + padding + b'"}'),
        ("POST", "/chargers", b'{"identity": "cp-big", "charge_point_name": "' + padding + b'"}'),
        ("PUT", f"/chargers/{charger}", b'{"name": "' + padding + b'"}'),
        ("POST", f"/locations/{hub}/chargers/create-chargers", b'{"chargers": [' + b"{}, " * (ONE_MIB // 4) + b"{}]}"),
        ("POST", f"/locations/{hub}/chargers/delete-chargers", b'{"charger_ids": ["' + padding + b'"]}'),
    ]


async def test_a_body_over_one_mib_is_413_with_a_string_detail(client, auth, fleet, unchanged):
    for method, path, raw in oversized(fleet):
        assert len(raw) > ONE_MIB
        response = await client.open(path, method=method, data=raw, headers={**auth, **JSON})
        await expect_detail(response, 413)
        await unchanged()


async def test_a_body_just_under_one_mib_is_not_refused_for_its_size(client, auth, fleet, unchanged):
    raw = json.dumps({"charger_ids": ["cp-x"], "pad": "p" * (ONE_MIB - 100)}).encode()
    assert len(raw) <= ONE_MIB
    path = f"/locations/{fleet['hub']['id']}/chargers/delete-chargers"
    response = await client.post(path, data=raw, headers={**auth, **JSON})
    assert response.status_code == 200
    await unchanged()


@pytest.mark.parametrize(
    "method,path",
    [
        ("GET", "/nope"),
        ("POST", "/nope"),
        ("GET", "/locations/{hub}/chargers/unknown-verb"),
        ("POST", "/locations/{hub}/chargers"),
        ("GET", "/chargers/{charger}/no-such-action"),
        ("GET", "/catalog"),
        ("GET", "/ocpp/chargers"),
    ],
)
async def test_an_unknown_route_is_404_not_found(client, auth, fleet, unchanged, method, path):
    path = path.format(hub=fleet["hub"]["id"], charger=fleet["charger"]["id"])
    response = await client.open(path, method=method, json={}, headers=auth)
    assert response.status_code == 404
    assert await response.get_json() == {"detail": "Not Found"}
    await unchanged()


@pytest.mark.parametrize(
    "method,path",
    [
        ("DELETE", "/locations"),
        ("PUT", "/locations"),
        ("PATCH", "/locations/{hub}"),
        ("POST", "/locations/{hub}"),
        ("DELETE", "/chargers"),
        ("PATCH", "/chargers/{charger}"),
        ("POST", "/chargers/{charger}"),
        ("GET", "/locations/{hub}/chargers/create-chargers"),
        ("POST", "/locations/{hub}/chargers/update-chargers"),
        ("DELETE", "/locations/{hub}/chargers/delete-chargers"),
        ("POST", "/locations/{hub}/chargers/get-chargers"),
        ("POST", "/catalog/brands"),
        ("DELETE", "/organizations"),
    ],
)
async def test_a_wrong_method_is_405_with_a_string_detail(client, auth, fleet, unchanged, method, path):
    path = path.format(hub=fleet["hub"]["id"], charger=fleet["charger"]["id"])
    response = await client.open(path, method=method, json={"name": "x"}, headers=auth)
    await expect_detail(response, 405)
    await unchanged()
