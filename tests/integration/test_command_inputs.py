"""Bad input to the command routes (api.md 6.5-6.11): every rejection has the contract's shape (api.md 3) and
writes nothing — no command record, no event.

422 bodies are FastAPI's: {"detail": [{"loc": ["body" | "query", ...], "msg": str, "type": str}, ...]}; 400 and
404 bodies are {"detail": "<string>"}. The decisions (which input is 400, which 422) are commands-contract.md's
"Validation" section. No simulator and no CSMS here: the chargers are running (desired state) and never connect.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.support import token

HUB = {
    "name": "Command Hub",
    "address": "1 Main Street",
    "city": "Paris",
    "country": "FR",
    "coordinates": {"latitude": 48.8, "longitude": 2.3},
}
TERRA = {
    "brand_slug": "abb",
    "model_slug": "terra-184",
    "connector_type": "CCS2",
    "ws_url": "ws://csms.example:9000/ocpp",
}
"""Two connectors (1.6) / two EVSEs of one connector each (2.0.1)."""
PULSAR = {
    "brand_slug": "wallbox",
    "model_slug": "wallbox-pulsar-plus",
    "connector_type": "Type2",
    "ws_url": "ws://csms.example:9000/ocpp",
}
"""One connector."""

CONNECTOR_ROUTES = (
    "plug-connector",
    "unplug-connector",
    "unlock-connector",
    "ev-requests-energy",
    "ev-stops-energy",
)
"""Single-charger routes whose body is only a connector selection."""

ID_TAG_ROUTES = ("start-session", "start-transaction", "authorize-id-tag")

LOCATION_COMMANDS: dict[str, dict[str, Any]] = {
    "start-transaction": {"id_tag": "TAG-1"},
    "stop-transaction": {},
    "unlock-connector": {},
    "power-update": {"power_w": 1000},
    "plug-connector": {},
    "unplug-connector": {},
    "start-session": {"id_tag": "TAG-1"},
    "stop-session": {},
    "authorize-id-tag": {"id_tag": "TAG-1"},
    "ev-requests-energy": {},
    "ev-stops-energy": {},
    "inject-fault": {"fault_type": "OverCurrent"},
    "clear-fault": {},
}
"""Every location-scoped command route (api.md 6.10, 6.11) with a valid body."""


# -- helpers ---------------------------------------------------------------------------------------------------


async def expect_422(response: Any, where: str, field: str) -> list[dict[str, Any]]:
    text = await response.get_data(as_text=True)
    assert response.status_code == 422, text
    detail = (await response.get_json())["detail"]
    assert isinstance(detail, list) and detail, text
    for item in detail:
        assert isinstance(item["loc"], list) and item["loc"][0] == where, item
        assert isinstance(item["msg"], str) and item["msg"], item
        assert isinstance(item["type"], str) and item["type"], item
    assert any(item["loc"][1:2] == [field] for item in detail), detail
    return detail


INTRUDER = {"Authorization": f"Bearer {token('intruder-org')}"}
"""Another tenant."""

ROUTE_NOT_FOUND = "Not Found"
"""The detail of a 404 for a route that does not exist (test_bad_input): a missing charger or location must say
more, or a 404 would not tell a refused request from a route that is not there."""


async def expect_detail(response: Any, status: int) -> str:
    text = await response.get_data(as_text=True)
    assert response.status_code == status, text
    body = await response.get_json()
    assert isinstance(body, dict) and isinstance(body.get("detail"), str) and body["detail"], text
    return body["detail"]


async def created(response: Any, status: int = 201) -> dict[str, Any]:
    assert response.status_code == status, await response.get_data(as_text=True)
    return await response.get_json()


@pytest.fixture
async def fleet(client, auth) -> dict[str, Any]:
    """A location with a 1.6 and a 2.0.1 Terra 184 and a 1.6 Pulsar Plus, all running (desired state); the
    intruding tenant is known."""
    hub = await created(await client.post("/locations", json=HUB, headers=auth))
    chargers = {}
    for name, model, version in (("cp16", TERRA, "OCPP1.6"), ("cp201", TERRA, "OCPP2.0.1"), ("ac", PULSAR, "OCPP1.6")):
        body = {**model, "identity": f"cmd-{name}", "ocpp_version": version, "location_id": hub["id"]}
        chargers[name] = await created(await client.post("/chargers", json=body, headers=auth))
    # the other tenant's first request registers it (an event): before any snapshot is taken
    assert (await client.get("/locations", headers=INTRUDER)).status_code == 200
    return {"hub": hub["id"], **{name: doc["id"] for name, doc in chargers.items()}}


async def snapshot(client, auth, fleet) -> dict[str, Any]:
    """What a refused command must leave alone: the log's head, the tenant's events, every command list."""
    gateway = client.app.extensions["ocpplab"].gateway
    events = await client.get("/events", query_string={"limit": 1000}, headers=auth)
    assert events.status_code == 200, await events.get_data(as_text=True)
    lists = {}
    for name in ("cp16", "cp201", "ac"):
        response = await client.get(f"/chargers/{fleet[name]}/commands", query_string={"limit": 100}, headers=auth)
        assert response.status_code == 200, await response.get_data(as_text=True)
        lists[name] = await response.get_json()
    return {
        "position": await asyncio.to_thread(gateway.position),
        "events": len((await events.get_json())["data"]),
        "commands": lists,
    }


@pytest.fixture
async def unchanged(client, auth, fleet):
    """`await unchanged()` asserts that no command and no event was written since the fleet was set up."""
    before = await snapshot(client, auth, fleet)

    async def check() -> None:
        assert await snapshot(client, auth, fleet) == before

    return check


# -- id tags -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("route", ID_TAG_ROUTES)
async def test_a_command_without_an_id_tag_is_422_missing_at_the_body(client, auth, fleet, unchanged, route):
    for charger in ("cp16", "cp201"):
        response = await client.post(f"/chargers/{fleet[charger]}/{route}", json={}, headers=auth)
        detail = await expect_422(response, "body", "id_tag")
        assert any(item["type"] == "missing" for item in detail)
    response = await client.post(f"/locations/{fleet['hub']}/chargers/{route}", json={}, headers=auth)
    await expect_422(response, "body", "id_tag")
    await unchanged()


@pytest.mark.parametrize("route", ID_TAG_ROUTES)
@pytest.mark.parametrize(
    "id_tag", ["", None, 123, ["TAG"], "T" * 37], ids=["empty", "null", "number", "list", "37 characters"]
)
async def test_an_id_tag_that_is_not_1_to_36_characters_of_text_is_422(client, auth, fleet, unchanged, route, id_tag):
    for charger in ("cp16", "cp201"):
        response = await client.post(f"/chargers/{fleet[charger]}/{route}", json={"id_tag": id_tag}, headers=auth)
        await expect_422(response, "body", "id_tag")
    response = await client.post(f"/locations/{fleet['hub']}/chargers/{route}", json={"id_tag": id_tag}, headers=auth)
    await expect_422(response, "body", "id_tag")
    await unchanged()


@pytest.mark.parametrize("route", ID_TAG_ROUTES)
@pytest.mark.parametrize("length", [21, 36])
async def test_an_id_tag_over_20_characters_is_400_for_an_ocpp_1_6_charger(
    client, auth, fleet, unchanged, route, length
):
    response = await client.post(f"/chargers/{fleet['cp16']}/{route}", json={"id_tag": "T" * length}, headers=auth)
    assert "20" in await expect_detail(response, 400)
    await unchanged()


@pytest.mark.parametrize("route", ID_TAG_ROUTES)
async def test_an_id_tag_of_36_characters_is_queued_for_an_ocpp_2_0_1_charger(client, auth, fleet, route):
    response = await client.post(f"/chargers/{fleet['cp201']}/{route}", json={"id_tag": "T" * 36}, headers=auth)
    assert response.status_code == 200, await response.get_data(as_text=True)
    body = await response.get_json()
    assert body["payload"]["id_tag"] == "T" * 36
    assert body["status"] == "queued"


# -- power --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [{}, {"power_w": None}, {"power_w": -1}, {"power_w": "fast"}, {"power_w": 1.5}],
    ids=["missing", "null", "negative", "text", "fraction"],
)
async def test_power_update_without_a_whole_non_negative_power_is_422_at_power_w(client, auth, fleet, unchanged, body):
    for charger in ("cp16", "cp201"):
        response = await client.post(f"/chargers/{fleet[charger]}/power-update", json=body, headers=auth)
        await expect_422(response, "body", "power_w")
    response = await client.post(f"/locations/{fleet['hub']}/chargers/power-update", json=body, headers=auth)
    await expect_422(response, "body", "power_w")
    await unchanged()


# -- connector selection --------------------------------------------------------------------------------------


def connector_bodies(route: str) -> dict[str, Any]:
    """A valid body of a connector-selecting route, before the selection."""
    return {
        "power-update": {"power_w": 1000},
        "start-session": {"id_tag": "TAG"},
        "start-transaction": {"id_tag": "TAG"},
    }.get(route, {})


@pytest.mark.parametrize("route", [*CONNECTOR_ROUTES, "power-update", "start-transaction"])
@pytest.mark.parametrize("field", ["evse_id", "connector_id"])
@pytest.mark.parametrize("value", [-1, "one", 1.5, [1]], ids=["negative", "text", "fraction", "list"])
async def test_a_connector_selection_that_is_not_a_non_negative_integer_is_422_at_that_field(
    client, auth, fleet, unchanged, route, field, value
):
    body = {**connector_bodies(route), field: value}
    for charger in ("cp16", "cp201"):
        response = await client.post(f"/chargers/{fleet[charger]}/{route}", json=body, headers=auth)
        await expect_422(response, "body", field)
    response = await client.post(f"/locations/{fleet['hub']}/chargers/{route}", json=body, headers=auth)
    await expect_422(response, "body", field)
    await unchanged()


@pytest.mark.parametrize("route", ["start-session", "stop-session"])
async def test_a_negative_connector_id_of_a_session_command_is_422(client, auth, fleet, unchanged, route):
    body = {**connector_bodies(route), "connector_id": -1}
    for charger in ("cp16", "cp201"):
        response = await client.post(f"/chargers/{fleet[charger]}/{route}", json=body, headers=auth)
        await expect_422(response, "body", "connector_id")
    await unchanged()


MISSING_CONNECTORS = {
    "1.6 Terra connector 3": ("cp16", {"connector_id": 3}),
    "1.6 Pulsar connector 2": ("ac", {"connector_id": 2}),
    "2.0.1 Terra EVSE 3": ("cp201", {"evse_id": 3, "connector_id": 1}),
    "2.0.1 Terra EVSE 1 connector 2": ("cp201", {"evse_id": 1, "connector_id": 2}),
}


def missing_connector_cases() -> list[Any]:
    """(route, charger, selection); start-session / stop-session select by connector_id only (api.md 6.5)."""
    cases = []
    for route in (*CONNECTOR_ROUTES, "power-update", "start-transaction", "start-session", "stop-session"):
        for name, (charger, selection) in MISSING_CONNECTORS.items():
            if route not in ("start-session", "stop-session") or "evse_id" not in selection:
                cases.append(pytest.param(route, charger, selection, id=f"{route}-{name}"))
    return cases


@pytest.mark.parametrize(("route", "charger", "selection"), missing_connector_cases())
async def test_a_connector_the_charger_does_not_have_is_400(client, auth, fleet, unchanged, route, charger, selection):
    body = {**connector_bodies(route), **selection}
    response = await client.post(f"/chargers/{fleet[charger]}/{route}", json=body, headers=auth)
    await expect_detail(response, 400)
    await unchanged()


@pytest.mark.parametrize("route", ["inject-fault", "clear-fault"])
@pytest.mark.parametrize("case", list(MISSING_CONNECTORS.values()), ids=list(MISSING_CONNECTORS))
async def test_a_fault_on_a_connector_the_charger_does_not_have_is_400(client, auth, fleet, unchanged, route, case):
    charger, selection = case
    params = {**selection, "fault_type": "OverCurrent"} if route == "inject-fault" else selection
    response = await client.post(f"/chargers/{fleet[charger]}/{route}", query_string=params, headers=auth)
    await expect_detail(response, 400)
    await unchanged()


# -- faults ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [{}, {"fault_type": "Lightning"}, {"fault_type": "overcurrent"}, {"fault_type": ""}],
    ids=["missing", "unknown", "wrong case", "empty"],
)
async def test_inject_fault_without_a_known_fault_type_is_422_at_the_query(client, auth, fleet, unchanged, params):
    for charger in ("cp16", "cp201"):
        response = await client.post(f"/chargers/{fleet[charger]}/inject-fault", query_string=params, headers=auth)
        await expect_422(response, "query", "fault_type")
    await unchanged()


@pytest.mark.parametrize("route", ["inject-fault", "clear-fault"])
@pytest.mark.parametrize("field", ["evse_id", "connector_id"])
@pytest.mark.parametrize("value", ["-1", "one", "1.5"])
async def test_a_fault_connector_that_is_not_a_non_negative_integer_is_422_at_the_query(
    client, auth, fleet, unchanged, route, field, value
):
    params = {"fault_type": "OverCurrent", field: value} if route == "inject-fault" else {field: value}
    response = await client.post(f"/chargers/{fleet['cp201']}/{route}", query_string=params, headers=auth)
    await expect_422(response, "query", field)
    await unchanged()


@pytest.mark.parametrize(
    "body",
    [{}, {"fault_type": "Lightning"}, {"fault_type": None}, {"fault_type": "OverCurrent", "connector_id": -1}],
    ids=["missing", "unknown", "null", "negative connector"],
)
async def test_a_location_fault_with_a_bad_body_is_422_at_the_body(client, auth, fleet, unchanged, body):
    field = "connector_id" if "connector_id" in body else "fault_type"
    response = await client.post(f"/locations/{fleet['hub']}/chargers/inject-fault", json=body, headers=auth)
    await expect_422(response, "body", field)
    await unchanged()


# -- location routes ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("route", list(LOCATION_COMMANDS))
async def test_an_empty_charger_ids_list_on_a_location_route_is_400(client, auth, fleet, unchanged, route):
    body = {**LOCATION_COMMANDS[route], "charger_ids": []}
    response = await client.post(f"/locations/{fleet['hub']}/chargers/{route}", json=body, headers=auth)
    await expect_detail(response, 400)
    await unchanged()


# -- proxy-message ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"ocpp_version": "ocpp1.6"}, "action"),
        ({"action": "reboot", "ocpp_version": "ocpp1.6"}, "action"),
        ({"action": "heartbeat"}, "ocpp_version"),
        ({"action": "heartbeat", "ocpp_version": "OCPP1.6"}, "ocpp_version"),
        ({"action": "heartbeat", "ocpp_version": "ocpp2.1"}, "ocpp_version"),
    ],
    ids=["no action", "unknown action", "no version", "upper-case version", "unknown version"],
)
async def test_a_proxy_message_with_a_missing_or_unknown_query_value_is_422(
    client, auth, fleet, unchanged, params, field
):
    response = await client.post(
        f"/chargers/{fleet['cp16']}/proxy-message", query_string=params, json={"payload": {}}, headers=auth
    )
    await expect_422(response, "query", field)
    await unchanged()


@pytest.mark.parametrize("body", [{}, {"payload": None}, {"payload": "{}"}, {"payload": []}])
async def test_a_proxy_message_without_a_payload_object_is_422_at_the_body(client, auth, fleet, unchanged, body):
    params = {"action": "heartbeat", "ocpp_version": "ocpp1.6"}
    response = await client.post(
        f"/chargers/{fleet['cp16']}/proxy-message", query_string=params, json=body, headers=auth
    )
    await expect_422(response, "body", "payload")
    await unchanged()


@pytest.mark.parametrize(
    ("charger", "params", "payload"),
    [
        ("cp16", {"action": "transaction_event", "ocpp_version": "ocpp1.6"}, {}),
        ("cp201", {"action": "stop_transaction", "ocpp_version": "ocpp2.0.1"}, {}),
        ("cp16", {"action": "heartbeat", "ocpp_version": "ocpp2.0.1"}, {}),
        ("cp16", {"action": "authorize", "ocpp_version": "ocpp1.6"}, {}),
        ("cp16", {"action": "authorize", "ocpp_version": "ocpp1.6"}, {"id_tag": 5}),
        ("cp201", {"action": "authorize", "ocpp_version": "ocpp2.0.1"}, {"id_token": {"id_token": "X"}}),
    ],
    ids=[
        "2.0.1 action on 1.6",
        "1.6 action on 2.0.1",
        "version not the chargers",
        "missing field",
        "wrong type",
        "2.0.1 missing nested field",
    ],
)
async def test_a_proxy_message_that_does_not_fit_the_charger_or_the_schema_is_400(
    client, auth, fleet, unchanged, charger, params, payload
):
    response = await client.post(
        f"/chargers/{fleet[charger]}/proxy-message", query_string=params, json={"payload": payload}, headers=auth
    )
    await expect_detail(response, 400)
    await unchanged()


# -- local authorization list -----------------------------------------------------------------------------------


LOCAL_LIST_SHAPES = {
    "no version": ({"entries": []}, "list_version"),
    "version 0": ({"list_version": 0, "entries": []}, "list_version"),
    "negative version": ({"list_version": -1, "entries": []}, "list_version"),
    "text version": ({"list_version": "two", "entries": []}, "list_version"),
    "no entries": ({"list_version": 1}, "entries"),
    "entries is text": ({"list_version": 1, "entries": "TAG"}, "entries"),
    "an entry without id_tag": ({"list_version": 1, "entries": [{"expiry_date": "2030-01-01T00:00:00Z"}]}, "entries"),
}


@pytest.mark.parametrize(("body", "field"), list(LOCAL_LIST_SHAPES.values()), ids=list(LOCAL_LIST_SHAPES))
async def test_a_local_list_of_the_wrong_shape_is_422_at_that_field(client, auth, fleet, unchanged, body, field):
    response = await client.post(f"/chargers/{fleet['cp16']}/local-auth-list", json=body, headers=auth)
    await expect_422(response, "body", field)
    await unchanged()


async def test_a_local_list_with_duplicate_id_tags_is_400(client, auth, fleet, unchanged):
    body = {"list_version": 1, "entries": [{"id_tag": "A"}, {"id_tag": "B"}, {"id_tag": "A"}]}
    for charger in ("cp16", "cp201"):
        response = await client.post(f"/chargers/{fleet[charger]}/local-auth-list", json=body, headers=auth)
        await expect_detail(response, 400)
    await unchanged()


# -- tenancy ------------------------------------------------------------------------------------------------------


def charger_routes(charger_id: str) -> list[tuple[str, str, dict[str, Any]]]:
    """(method, path, request kwargs) of every charger-scoped command route, each with a valid request."""
    base = f"/chargers/{charger_id}"
    return [
        ("POST", f"{base}/plug-connector", {"json": {}}),
        ("POST", f"{base}/unplug-connector", {"json": {}}),
        ("POST", f"{base}/unlock-connector", {"json": {}}),
        ("POST", f"{base}/start-session", {"json": {"id_tag": "TAG"}}),
        ("POST", f"{base}/stop-session", {"json": {}}),
        ("POST", f"{base}/start-transaction", {"json": {"id_tag": "TAG"}}),
        ("POST", f"{base}/stop-transaction", {"json": {}}),
        ("POST", f"{base}/authorize-id-tag", {"json": {"id_tag": "TAG"}}),
        ("POST", f"{base}/ev-requests-energy", {"json": {}}),
        ("POST", f"{base}/ev-stops-energy", {"json": {}}),
        ("POST", f"{base}/power-update", {"json": {"power_w": 1000}}),
        (
            "POST",
            f"{base}/proxy-message",
            {"json": {"payload": {}}, "query_string": {"action": "heartbeat", "ocpp_version": "ocpp1.6"}},
        ),
        ("GET", f"{base}/configuration", {}),
        ("POST", f"{base}/configuration", {"json": {"HeartbeatInterval": "30"}}),
        ("POST", f"{base}/cache/reset", {}),
        ("POST", f"{base}/inject-fault", {"query_string": {"fault_type": "OverCurrent"}}),
        ("POST", f"{base}/clear-fault", {}),
        ("GET", f"{base}/local-auth-list", {}),
        ("POST", f"{base}/local-auth-list", {"json": {"list_version": 1, "entries": [{"id_tag": "TAG"}]}}),
        ("DELETE", f"{base}/local-auth-list", {}),
        ("GET", f"{base}/commands", {}),
    ]


async def test_every_command_route_of_another_tenants_charger_is_404(client, auth, fleet, unchanged):
    for key in (fleet["cp16"], "cmd-cp16"):  # by id and by identity
        for method, path, kwargs in charger_routes(key):
            response = await client.open(path, method=method, headers=INTRUDER, **kwargs)
            assert await expect_detail(response, 404) != ROUTE_NOT_FOUND, (method, path)
    await unchanged()


async def test_every_command_route_of_an_unknown_charger_is_404(client, auth, fleet, unchanged):
    for key in ("00000000-0000-0000-0000-000000000000", "no-such-charger"):
        for method, path, kwargs in charger_routes(key):
            response = await client.open(path, method=method, headers=auth, **kwargs)
            assert await expect_detail(response, 404) != ROUTE_NOT_FOUND, (method, path)
    await unchanged()


async def test_every_location_command_route_of_another_tenants_location_is_404(client, auth, fleet, unchanged):
    for route, body in LOCATION_COMMANDS.items():
        response = await client.post(f"/locations/{fleet['hub']}/chargers/{route}", json=body, headers=INTRUDER)
        assert await expect_detail(response, 404) != ROUTE_NOT_FOUND, route
        with_ids = {**body, "charger_ids": [fleet["cp16"]]}
        response = await client.post(f"/locations/{fleet['hub']}/chargers/{route}", json=with_ids, headers=INTRUDER)
        assert await expect_detail(response, 404) != ROUTE_NOT_FOUND, route
    await unchanged()


async def test_another_tenants_charger_named_in_my_location_is_a_per_charger_failure(client, auth, fleet):
    theirs = await created(await client.post("/locations", json=HUB, headers=INTRUDER))
    body = {**PULSAR, "identity": "their-cp", "location_id": theirs["id"]}
    their_charger = await created(await client.post("/chargers", json=body, headers=INTRUDER))
    before = await snapshot(client, auth, fleet)

    response = await client.post(
        f"/locations/{fleet['hub']}/chargers/plug-connector",
        json={"charger_ids": [their_charger["id"]]},
        headers=auth,
    )
    assert response.status_code == 200, await response.get_data(as_text=True)
    answer = await response.get_json()
    assert (answer["queued_count"], answer["failed_count"], answer["results"]) == (0, 1, [])
    assert answer["failed"] == [{"identity": None, "error": "charger not in location"}]
    assert await snapshot(client, auth, fleet) == before
