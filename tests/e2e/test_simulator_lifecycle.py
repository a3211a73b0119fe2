"""Running chargers: start / stop / reset (one charger or a location), reconfiguration, deletion, CSMS outages."""

from __future__ import annotations

import asyncio
import time

from adapters.csms.server import CsmsServer
from tests.e2e.conftest import (
    AC,
    DC,
    RECONNECT,
    VERSIONS,
    Api,
    CsmsFactory,
    boot,
    eventually,
    never,
    reported_connectors,
)
from tests.support import free_port


async def closed_with(csms: CsmsServer, identity: str, session: object, code: int = 1000) -> None:
    await eventually(lambda: session.closed.is_set(), what=f"{identity} disconnected")  # type: ignore[attr-defined]
    assert session.websocket.close_code == code  # type: ignore[attr-defined]


async def test_stop_charger_closes_the_connection_with_1000_and_the_charger_stays_down(
    api: Api, csms: CsmsServer, version: str
) -> None:
    charger = await boot(api, csms, version, AC)
    session = csms.sessions[charger.identity]

    queued = await api.lifecycle(charger.id, "stop-charger")
    assert queued["event_type"] == "stop_charger"
    assert queued["ocpp_version"] == version.lower()
    assert queued["charger_id"] == charger.id
    await closed_with(csms, charger.identity, session, 1000)

    doc = await api.wait_runtime(charger.id, "stopped")
    assert doc["desired_state"] == "stopped"
    assert doc["connected_at"] is None
    command = await api.wait_command(queued["id"])
    assert command["status"] == "completed"
    assert command["charger_id"] == charger.id
    await never(lambda: csms.connection_count(charger.identity) > 1, what="a stopped charger reconnected")
    assert (await api.charger(charger.id))["runtime_status"] == "stopped"


async def test_start_charger_brings_a_stopped_charger_back_and_it_boots_again(
    api: Api, csms: CsmsServer, version: str
) -> None:
    charger = await boot(api, csms, version, DC)
    stopped = await api.lifecycle(charger.id, "stop-charger")
    await api.wait_runtime(charger.id, "stopped")

    started = await api.lifecycle(charger.id, "start-charger")
    assert started["event_type"] == "start_charger"
    session = await csms.wait_connected(charger.identity, count=2)
    assert session.ocpp_version == version.lower()
    await csms.wait_for(charger.identity, "BootNotification", count=2)
    await csms.wait_for(charger.identity, "StatusNotification", count=2 * reported_connectors(version, DC))
    doc = await api.wait_runtime(charger.id, "booted")
    assert doc["desired_state"] == "running"
    assert (await api.wait_command(started["id"]))["status"] == "completed"

    commands = await api.commands(charger.id)
    assert [(c["id"], c["event_type"]) for c in commands["data"]] == [
        (stopped["id"], "stop_charger"),
        (started["id"], "start_charger"),
    ]
    assert {c["status"] for c in commands["data"]} == {"completed"}
    assert commands["total"] == 2


async def test_reset_charger_makes_the_charger_reconnect_and_boot_again(
    api: Api, csms: CsmsServer, version: str
) -> None:
    charger = await boot(api, csms, version, AC)
    session = csms.sessions[charger.identity]

    queued = await api.lifecycle(charger.id, "reset-charger")
    assert queued["event_type"] == "reset_charger"
    await csms.wait_connected(charger.identity, count=2, timeout=RECONNECT)
    assert session.closed.is_set()
    await csms.wait_for(charger.identity, "BootNotification", count=2)
    command = await api.wait_command(queued["id"])
    assert command["status"] == "completed"
    assert command["result"]["status"] == "Accepted"
    await api.wait_charger(
        charger.id, lambda doc: doc["runtime_status"] == "booted" and doc["connected_at"] is not None
    )


async def test_reset_of_a_stopped_charger_is_refused_with_400(api: Api, csms: CsmsServer) -> None:
    charger = await boot(api, csms, "OCPP1.6", AC)
    await api.lifecycle(charger.id, "stop-charger")
    await api.wait_runtime(charger.id, "stopped")

    refused = await api.lifecycle(charger.id, "reset-charger", expect=400)
    assert "start the charger first" in str(refused)
    assert csms.connection_count(charger.identity) == 1
    assert [c["event_type"] for c in (await api.commands(charger.id))["data"]] == ["stop_charger"]


async def test_location_stop_and_start_chargers_fan_out_with_a_result_per_charger(api: Api, csms: CsmsServer) -> None:
    location = await api.create_location(name="Fan-out hub")
    elsewhere = await api.create_location(name="Elsewhere")
    first = await boot(api, csms, "OCPP1.6", AC, location_id=location)
    second = await boot(api, csms, "OCPP2.0.1", DC, location_id=location)
    other = await boot(api, csms, "OCPP1.6", AC, location_id=elsewhere)
    sessions = {c.identity: csms.sessions[c.identity] for c in (first, second)}

    stopped = await api.location_lifecycle(location, "stop-chargers")
    assert (stopped["targeted_count"], stopped["queued_count"], stopped["failed_count"]) == (2, 2, 0)
    assert stopped["failed"] == []
    assert {(r["charger_id"], r["identity"]) for r in stopped["results"]} == {
        (first.id, first.identity),
        (second.id, second.identity),
    }
    assert {r["command"]["event_type"] for r in stopped["results"]} == {"stop_charger"}
    for identity, session in sessions.items():
        await closed_with(csms, identity, session, 1000)
    for charger in (first, second):
        await api.wait_runtime(charger.id, "stopped")
    for result in stopped["results"]:
        assert (await api.wait_command(result["command"]["id"]))["status"] == "completed"
    assert other.identity in csms.sessions  # another location's charger is untouched

    started = await api.location_lifecycle(location, "start-chargers", [first.id, other.id, "CP-NOT-HERE"])
    assert (started["targeted_count"], started["queued_count"], started["failed_count"]) == (3, 1, 2)
    [result] = started["results"]
    assert (result["charger_id"], result["identity"], result["command"]["event_type"]) == (
        first.id,
        first.identity,
        "start_charger",
    )
    assert started["failed"] == [{"identity": None, "error": "charger not in location"}] * 2
    await csms.wait_for(first.identity, "BootNotification", count=2)
    await api.wait_runtime(first.id, "booted")
    assert (await api.wait_command(result["command"]["id"]))["status"] == "completed"
    await never(lambda: csms.connection_count(second.identity) > 1, duration=1.5, what="a stopped charger came back")
    assert csms.connection_count(other.identity) == 1


async def test_location_lifecycle_refuses_an_empty_location_an_empty_id_list_and_an_unknown_location(
    api: Api, csms: CsmsServer
) -> None:
    empty = await api.create_location(name="Empty hub")
    response = await api.http.post(f"/locations/{empty}/chargers/start-chargers", json={})
    assert response.status_code == 400, response.text
    await api.create_charger(csms.url(), "OCPP1.6", AC, location_id=empty)
    response = await api.http.post(f"/locations/{empty}/chargers/stop-chargers", json={"charger_ids": []})
    assert response.status_code == 400, response.text
    response = await api.http.post("/locations/00000000-0000-0000-0000-000000000000/chargers/reset-chargers", json={})
    assert response.status_code == 404, response.text


async def test_location_reset_chargers_fails_for_stopped_chargers_and_ids_not_in_the_location(
    api: Api, csms: CsmsServer
) -> None:
    location = await api.create_location(name="Reset hub")
    running = await boot(api, csms, "OCPP2.0.1", AC, location_id=location)
    stopped = await boot(api, csms, "OCPP1.6", AC, location_id=location)
    await api.lifecycle(stopped.id, "stop-charger")
    await api.wait_runtime(stopped.id, "stopped")

    answer = await api.location_lifecycle(location, "reset-chargers", [running.identity, stopped.id, "CP-NOT-HERE"])
    assert (answer["targeted_count"], answer["queued_count"], answer["failed_count"]) == (3, 1, 2)
    [result] = answer["results"]
    assert (result["charger_id"], result["command"]["event_type"]) == (running.id, "reset_charger")
    failures = sorted(answer["failed"], key=lambda f: f["identity"] or "")
    assert failures[0] == {"identity": None, "error": "charger not in location"}
    assert failures[1]["identity"] == stopped.identity
    assert "start the charger first" in failures[1]["error"]


async def test_location_reset_chargers_makes_each_running_charger_reconnect_and_boot_again(
    api: Api, csms: CsmsServer
) -> None:
    location = await api.create_location(name="Reset hub")
    chargers = [await boot(api, csms, version, AC, location_id=location) for version in VERSIONS]

    answer = await api.location_lifecycle(location, "reset-chargers")
    assert (answer["targeted_count"], answer["queued_count"], answer["failed_count"]) == (2, 2, 0)
    for charger in chargers:
        await csms.wait_for(charger.identity, "BootNotification", count=2, timeout=RECONNECT)
    for result in answer["results"]:
        assert (await api.wait_command(result["command"]["id"]))["status"] == "completed"


async def test_a_new_ws_url_moves_the_charger_to_the_new_csms(
    api: Api, csms_factory: CsmsFactory, version: str
) -> None:
    old = await csms_factory()
    new = await csms_factory()
    charger = await boot(api, old, version, AC)
    session = old.sessions[charger.identity]

    doc = await api.update_charger(charger.id, ws_url=new.url())
    assert doc["ws_url"] == new.url()
    await closed_with(old, charger.identity, session, 1000)
    [payload] = await new.wait_for(charger.identity, "BootNotification")
    assert payload  # a full boot on the new CSMS
    await new.wait_for(charger.identity, "StatusNotification", count=reported_connectors(version, AC))
    assert new.sessions[charger.identity].ocpp_version == version.lower()
    await api.wait_charger(charger.id, lambda d: d["runtime_status"] == "booted" and d["ws_url"] == new.url())
    await never(lambda: old.connection_count(charger.identity) > 1, duration=1.5, what="back to the old CSMS")


async def test_a_new_ocpp_version_restarts_the_charger_with_the_new_subprotocol(
    api: Api, csms: CsmsServer, version: str
) -> None:
    other = VERSIONS[1 - VERSIONS.index(version)]
    charger = await boot(api, csms, version, DC)
    session = csms.sessions[charger.identity]

    await api.update_charger(charger.id, ocpp_version=other)
    await closed_with(csms, charger.identity, session, 1000)
    again = await csms.wait_connected(charger.identity, count=2)
    assert again.ocpp_version == other.lower()
    [_, boot_again] = await csms.wait_for(charger.identity, "BootNotification", count=2)
    assert ("chargingStation" in boot_again) == (other == "OCPP2.0.1")
    statuses = await csms.wait_for(
        charger.identity,
        "StatusNotification",
        count=reported_connectors(version, DC) + reported_connectors(other, DC),
    )
    assert all(("evseId" in s) == (other == "OCPP2.0.1") for s in statuses[reported_connectors(version, DC) :])
    assert csms.call_errors(charger.identity) == []
    doc = await api.wait_runtime(charger.id, "booted")
    assert doc["ocpp_version"] == other


async def test_deleting_a_charger_disconnects_it_for_good(api: Api, csms: CsmsServer, version: str) -> None:
    charger = await boot(api, csms, version, AC)
    session = csms.sessions[charger.identity]

    await api.delete_charger(charger.id)
    await closed_with(csms, charger.identity, session, 1000)
    assert (await api.http.get(f"/chargers/{charger.id}")).status_code == 404
    await never(lambda: csms.connection_count(charger.identity) > 1, what="a deleted charger reconnected")


async def test_a_charger_whose_csms_is_not_up_yet_keeps_trying_and_connects_when_it_comes_up(
    api: Api, csms_factory: CsmsFactory, version: str
) -> None:
    port = free_port()
    charger = await api.create_charger(f"ws://127.0.0.1:{port}/ocpp", version, AC)
    await api.wait_runtime(charger.id, "connecting")
    created_at = time.monotonic()
    await asyncio.sleep(1.2)

    csms = await csms_factory(port=port)
    await csms.wait_connected(charger.identity, timeout=8)
    assert time.monotonic() - created_at < 8  # the backoff starts at 1 s (1, 2, 4 s...)
    await csms.wait_for(charger.identity, "StatusNotification", count=reported_connectors(version, AC))
    await api.wait_runtime(charger.id, "booted")


async def test_after_a_csms_outage_the_charger_reconnects_by_itself_to_the_same_port_and_boots_again(
    api: Api, csms_factory: CsmsFactory, version: str
) -> None:
    first = await csms_factory()
    charger = await boot(api, first, version, AC)
    port = first.port

    await first.stop()
    dropped_at = time.monotonic()
    await api.wait_runtime(charger.id, "connecting", timeout=RECONNECT)
    back = await csms_factory(port=port)
    await back.wait_connected(charger.identity, timeout=RECONNECT)
    assert time.monotonic() - dropped_at >= 0.7  # a backoff (1 s +-20 %), not a hot loop
    await back.wait_for(charger.identity, "BootNotification")
    await back.wait_for(charger.identity, "StatusNotification", count=reported_connectors(version, AC))
    await api.wait_runtime(charger.id, "booted")
