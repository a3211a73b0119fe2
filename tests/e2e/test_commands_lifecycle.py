"""Commands as records, end to end: queued -> sent -> completed | failed | expired, what a stopped or an offline
charger does with them, and proxy-message (one charge-point message, validated before it goes on the wire).

Binding: simulation.md ("Commands as records", the proxy-message row), api.md 6.5 and 3, commands-contract.md
("Command records", "Validation").
"""

from __future__ import annotations

import asyncio
import time
from typing import Any
from uuid import UUID

import pytest

from adapters.csms.server import CsmsServer
from tests.e2e.conftest import AC, Api, Charger, CsmsFactory, boot, never
from tests.e2e.state_helpers import (
    HEARTBEAT,
    START_FIRST,
    calls_after,
    command_event_types,
    command_ids,
    command_version,
    connector,
    detail,
    ok,
    requested_commands,
    validation_items,
)
from tests.support import free_port

EXPIRY = 60.0
"""commands-contract.md: a command to a running charger that does not come online expires after 60 s."""


@pytest.fixture
async def csms(csms_factory: CsmsFactory) -> CsmsServer:
    return await csms_factory(heartbeat_interval=HEARTBEAT)


@pytest.fixture
async def cp(api: Api, csms: CsmsServer, version: str) -> Charger:
    return await boot(api, csms, version, AC)


def proxy(version: str, action: str, ocpp_version: str | None = None) -> dict[str, str]:
    return {"action": action, "ocpp_version": ocpp_version or command_version(version)}


def authorize_payload(version: str, tag: str) -> dict[str, Any]:
    """proxy-message's Authorize payload in the ocpp library's snake_case fields."""
    if version == "OCPP1.6":
        return {"id_tag": tag}
    return {"id_token": {"id_token": tag, "type": "ISO14443"}}


def authorized_tag(payload: dict[str, Any]) -> str:
    """The id tag of an Authorize CALL as the CSMS received it (camelCase, either version)."""
    return payload["idTag"] if "idTag" in payload else payload["idToken"]["idToken"]


async def stays_queued(api: Api, command_id: str, duration: float) -> None:
    deadline = time.monotonic() + duration
    while time.monotonic() < deadline:
        assert (await api.command(command_id))["status"] == "queued"
        await asyncio.sleep(0.2)


# -- the record and its lifecycle -------------------------------------------------------------------------------


async def test_a_command_is_answered_queued_and_its_record_goes_sent_then_completed(
    api: Api, csms: CsmsServer, cp: Charger, version: str
) -> None:
    queued = ok(await api.http.post(f"/chargers/{cp.id}/authorize-id-tag", json={"id_tag": "TAG-LIFE"}))
    UUID(queued["id"])
    assert queued["event_type"] == "authorize_id_tag"
    assert queued["ocpp_version"] == command_version(version)
    assert queued["payload"] == {"id_tag": "TAG-LIFE"}
    assert queued["status"] == "queued"
    assert queued["charger_id"] == cp.id

    assert (await api.command(queued["id"]))["status"] in ("queued", "sent", "completed")
    record = await api.wait_command(queued["id"])
    assert record["status"] == "completed", record
    assert isinstance(record["result"], dict)
    assert (record["id"], record["event_type"], record["charger_id"]) == (queued["id"], "authorize_id_tag", cp.id)
    assert [authorized_tag(p) for _, p in csms.received(cp.identity, "Authorize")] == ["TAG-LIFE"]
    assert await command_event_types(api, queued["id"]) == ["Command.Requested", "Command.Sent", "Command.Completed"]


async def test_a_commands_payload_is_its_body_with_the_connector_defaults_filled_in(
    api: Api, cp: Charger, version: str
) -> None:
    plugged = ok(await api.http.post(f"/chargers/{cp.id}/plug-connector", json={}))
    assert plugged["event_type"] == "plug_connector"
    assert plugged["payload"] == connector(version)  # 1.6: connector 1; 2.0.1: EVSE 1, connector 1

    power = ok(await api.http.post(f"/chargers/{cp.id}/power-update", json={"power_w": 3700}))
    assert power["event_type"] == "power_update"
    assert power["payload"] == {**connector(version), "power_w": 3700}


async def test_the_chargers_command_list_holds_its_commands_and_no_other_chargers(
    api: Api, csms: CsmsServer, cp: Charger, version: str
) -> None:
    other = await boot(api, csms, version, AC)
    mine = [
        ok(await api.http.post(f"/chargers/{cp.id}/authorize-id-tag", json={"id_tag": "TAG-A"}))["id"],
        ok(await api.http.post(f"/chargers/{cp.id}/plug-connector", json={}))["id"],
    ]
    theirs = ok(await api.http.post(f"/chargers/{other.id}/authorize-id-tag", json={"id_tag": "TAG-B"}))["id"]
    for command_id in [*mine, theirs]:
        await api.wait_command(command_id)

    listed = await api.commands(cp.id)
    ids = [doc["id"] for doc in listed["data"]]
    assert set(mine) <= set(ids)
    assert theirs not in ids
    assert listed["total"] == len(ids)
    for doc in listed["data"]:
        assert doc["charger_id"] == cp.id
        if doc["id"] in mine:
            assert doc == await api.command(doc["id"])


async def test_another_tenant_cannot_read_a_command(api: Api, cp: Charger) -> None:
    queued = ok(await api.http.post(f"/chargers/{cp.id}/plug-connector", json={}))
    stranger = Api(str(api.http.base_url))
    try:
        detail(await stranger.http.get(f"/commands/{queued['id']}"), 404)
        detail(await stranger.http.get(f"/chargers/{cp.id}/commands"), 404)
    finally:
        await stranger.aclose()
    detail(await api.http.get("/commands/00000000-0000-0000-0000-000000000000"), 404)


# -- a stopped charger ------------------------------------------------------------------------------------------


def wire_commands(version: str) -> list[tuple[str, dict[str, Any] | None, dict[str, Any] | None]]:
    """(path, JSON body, query) of every command that goes on the wire, and both fault routes."""
    return [
        ("plug-connector", {}, None),
        ("unplug-connector", {}, None),
        ("unlock-connector", {}, None),
        ("start-session", {"id_tag": "TAG-STOPPED"}, None),
        ("stop-session", {}, None),
        ("start-transaction", {"id_tag": "TAG-STOPPED"}, None),
        ("stop-transaction", {}, None),
        ("authorize-id-tag", {"id_tag": "TAG-STOPPED"}, None),
        ("ev-requests-energy", {}, None),
        ("ev-stops-energy", {}, None),
        ("power-update", {"power_w": 1000}, None),
        ("proxy-message", {"payload": {}}, proxy(version, "heartbeat")),
        ("inject-fault", None, {"fault_type": "OverCurrent", **connector(version)}),
        ("clear-fault", None, connector(version)),
    ]


async def test_a_stopped_charger_refuses_every_wire_command_with_400_and_records_none(
    api: Api, csms: CsmsServer, cp: Charger, version: str
) -> None:
    await api.lifecycle(cp.id, "stop-charger")
    await api.wait_runtime(cp.id, "stopped")
    commands = await command_ids(api, cp.id)
    requested = await requested_commands(api)

    for path, body, params in wire_commands(version):
        response = await api.http.post(f"/chargers/{cp.id}/{path}", json=body, params=params)
        assert START_FIRST in detail(response, 400), path

    assert await command_ids(api, cp.id) == commands
    assert await requested_commands(api) == requested
    assert csms.connection_count(cp.identity) == 1


# -- a running charger that is not connected --------------------------------------------------------------------


async def test_a_command_waits_queued_while_the_csms_is_down_and_is_sent_after_the_next_boot(
    api: Api, csms_factory: CsmsFactory, version: str
) -> None:
    port = free_port()
    charger = await api.create_charger(f"ws://127.0.0.1:{port}/ocpp", version, AC)
    await api.wait_runtime(charger.id, "connecting")

    queued = ok(await api.http.post(f"/chargers/{charger.id}/authorize-id-tag", json={"id_tag": "TAG-LATER"}))
    assert queued["status"] == "queued"
    await stays_queued(api, queued["id"], duration=1.5)

    csms = await csms_factory(heartbeat_interval=HEARTBEAT, port=port)
    await csms.wait_connected(charger.identity, timeout=8)
    record = await api.wait_command(queued["id"])
    assert record["status"] == "completed", record

    actions = [action for action, _ in csms.received(charger.identity)]
    assert "Authorize" in actions
    assert actions.index("BootNotification") < actions.index("Authorize")  # sent after the boot, not before
    assert [authorized_tag(p) for _, p in csms.received(charger.identity, "Authorize")] == ["TAG-LATER"]


async def test_a_command_to_a_charger_that_stays_offline_expires_after_60_s(api: Api) -> None:
    """The one slow test: it waits out the 60 s expiry (once: expiry does not depend on the OCPP version). A command
    that needs the CSMS's answer waits; what a driver does at the charge point is carried out offline (test_offline)."""
    charger = await api.create_charger(f"ws://127.0.0.1:{free_port()}/ocpp", "OCPP1.6", AC)
    await api.wait_runtime(charger.id, "connecting")
    queued = ok(await api.http.post(f"/chargers/{charger.id}/authorize-id-tag", json={"id_tag": "TAG-NEVER"}))
    asked_at = time.monotonic()

    while True:
        record = await api.command(queued["id"])
        if record["status"] != "queued":
            break
        assert time.monotonic() - asked_at < EXPIRY + 15, "the command never expired"
        await asyncio.sleep(0.5)
    waited = time.monotonic() - asked_at

    assert record["status"] == "expired", record
    assert record["reason"].startswith("expired: the charger did not come online in time"), record
    assert waited >= EXPIRY - 5, f"expired after {waited:.1f} s"
    assert await command_event_types(api, queued["id"]) == ["Command.Requested", "Command.Expired"]


# -- proxy-message ----------------------------------------------------------------------------------------------


async def test_a_proxied_heartbeat_reaches_the_csms_as_a_heartbeat(
    api: Api, csms: CsmsServer, cp: Charger, version: str
) -> None:
    assert csms.received(cp.identity, "Heartbeat") == []  # the CSMS's interval is 5 s: none of its own yet
    response = await api.http.post(
        f"/chargers/{cp.id}/proxy-message", params=proxy(version, "heartbeat"), json={"payload": {}}
    )
    queued = ok(response)
    assert queued["event_type"] == "proxy_message"
    assert queued["ocpp_version"] == command_version(version)
    assert queued["payload"] == {"action": "heartbeat", "payload": {}}

    await csms.wait_for(cp.identity, "Heartbeat", timeout=3)
    assert (await api.wait_command(queued["id"]))["status"] == "completed"


async def test_a_proxied_data_transfer_reaches_the_csms_with_its_vendor_id(
    api: Api, csms: CsmsServer, cp: Charger, version: str
) -> None:
    payload = {"vendor_id": "com.example.lab", "message_id": "ping", "data": "hello"}
    queued = ok(
        await api.http.post(
            f"/chargers/{cp.id}/proxy-message", params=proxy(version, "data_transfer"), json={"payload": payload}
        )
    )
    assert queued["payload"] == {"action": "data_transfer", "payload": payload}

    [received] = await csms.wait_for(cp.identity, "DataTransfer")
    assert received == {"vendorId": "com.example.lab", "messageId": "ping", "data": "hello"}
    record = await api.wait_command(queued["id"])
    assert record["status"] == "completed", record
    assert "Accepted" in str(record["result"])  # the CSMS's answer


async def test_a_proxied_authorize_reaches_the_csms_in_its_versions_shape(
    api: Api, csms: CsmsServer, cp: Charger, version: str
) -> None:
    queued = ok(
        await api.http.post(
            f"/chargers/{cp.id}/proxy-message",
            params=proxy(version, "authorize"),
            json={"payload": authorize_payload(version, "TAG-PROXY")},
        )
    )
    [received] = await csms.wait_for(cp.identity, "Authorize")
    if version == "OCPP1.6":
        assert received == {"idTag": "TAG-PROXY"}
    else:
        assert received["idToken"] == {"idToken": "TAG-PROXY", "type": "ISO14443"}
    assert (await api.wait_command(queued["id"]))["status"] == "completed"


PROXY_REFUSALS: dict[str, tuple[str, str, str, dict[str, Any], tuple[str, ...]]] = {
    # name: (charger's version, action, ocpp_version, payload, one of these is in the detail)
    "transaction_event on a 1.6 charger": (
        "OCPP1.6",
        "transaction_event",
        "ocpp1.6",
        {"event_type": "Started", "timestamp": "2026-01-01T00:00:00Z"},
        ("transaction_event", "1.6"),
    ),
    "notify_event on a 1.6 charger": ("OCPP1.6", "notify_event", "ocpp1.6", {}, ("notify_event", "1.6")),
    "start_transaction on a 2.0.1 charger": (
        "OCPP2.0.1",
        "start_transaction",
        "ocpp2.0.1",
        {"connector_id": 1, "id_tag": "TAG", "meter_start": 0, "timestamp": "2026-01-01T00:00:00Z"},
        ("start_transaction", "2.0.1"),
    ),
    "ocpp2.0.1 asked of a 1.6 charger": ("OCPP1.6", "heartbeat", "ocpp2.0.1", {}, ("ocpp1.6", "ocpp2.0.1", "version")),
    "ocpp1.6 asked of a 2.0.1 charger": ("OCPP2.0.1", "heartbeat", "ocpp1.6", {}, ("ocpp1.6", "ocpp2.0.1", "version")),
    "1.6 authorize without id_tag": ("OCPP1.6", "authorize", "ocpp1.6", {}, ("id_tag", "idTag")),
    "1.6 authorize with a numeric id_tag": (
        "OCPP1.6",
        "authorize",
        "ocpp1.6",
        {"id_tag": 123},
        ("id_tag", "idTag", "123"),
    ),
    "1.6 authorize with an id_tag over 20 characters": (
        "OCPP1.6",
        "authorize",
        "ocpp1.6",
        {"id_tag": "T" * 21},
        ("id_tag", "idTag", "T" * 21),
    ),
    "1.6 status_notification with an unknown status": (
        "OCPP1.6",
        "status_notification",
        "ocpp1.6",
        {"connector_id": 1, "error_code": "NoError", "status": "Sleeping"},
        ("Sleeping", "status"),
    ),
    "1.6 data_transfer without vendor_id": (
        "OCPP1.6",
        "data_transfer",
        "ocpp1.6",
        {"data": "x"},
        ("vendor_id", "vendorId"),
    ),
    "2.0.1 authorize without the token type": (
        "OCPP2.0.1",
        "authorize",
        "ocpp2.0.1",
        {"id_token": {"id_token": "TAG"}},
        ("type",),
    ),
    "2.0.1 authorize with a string id_token": (
        "OCPP2.0.1",
        "authorize",
        "ocpp2.0.1",
        {"id_token": "TAG"},
        ("id_token", "idToken", "object", "TAG"),
    ),
}


@pytest.mark.parametrize("case", list(PROXY_REFUSALS.values()), ids=list(PROXY_REFUSALS))
async def test_a_proxy_message_that_does_not_fit_the_charger_or_its_schema_is_400_and_nothing_is_sent(
    api: Api, csms: CsmsServer, case: tuple[str, str, str, dict[str, Any], tuple[str, ...]]
) -> None:
    version, action, ocpp_version, payload, hints = case
    cp = await boot(api, csms, version, AC)
    seen = len(csms.received(cp.identity))
    commands = await command_ids(api, cp.id)

    response = await api.http.post(
        f"/chargers/{cp.id}/proxy-message",
        params={"action": action, "ocpp_version": ocpp_version},
        json={"payload": payload},
    )
    text = detail(response, 400)
    assert any(hint in text for hint in hints), text

    await never(lambda: calls_after(csms, cp.identity, seen), duration=1.0, what="a CALL after a refused proxy")
    assert await command_ids(api, cp.id) == commands


@pytest.mark.parametrize(
    ("field", "value"), [("action", "reboot"), ("action", "Heartbeat"), ("ocpp_version", "ocpp3.0")]
)
async def test_a_proxy_message_with_an_unknown_action_or_ocpp_version_is_422_at_that_query_field(
    api: Api, csms: CsmsServer, cp: Charger, version: str, field: str, value: str
) -> None:
    seen = len(csms.received(cp.identity))
    commands = await command_ids(api, cp.id)
    params = {**proxy(version, "heartbeat"), field: value}
    response = await api.http.post(f"/chargers/{cp.id}/proxy-message", params=params, json={"payload": {}})
    validation_items(response, "query", field)
    await never(lambda: calls_after(csms, cp.identity, seen), duration=1.0, what="a CALL after a refused proxy")
    assert await command_ids(api, cp.id) == commands
