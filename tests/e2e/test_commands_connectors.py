"""Connector commands of one charger (plug / unplug / unlock, connector selection) and the location fan-out of
the session, transaction and connector commands (api.md 6.5, 6.10), both OCPP versions."""

from __future__ import annotations

import asyncio

import pytest

from adapters.csms.server import CsmsServer
from tests.e2e.commands import (
    TAG,
    actions_since,
    calls_since,
    command,
    completed,
    connector_of,
    location_command,
    mark,
    normalised,
    run,
    selection,
    start_transaction_answer,
    statuses_since,
    transaction_events,
    wait_call,
    wait_status,
)
from tests.e2e.conftest import AC, DC, Api, Charger, CsmsFactory, boot, eventually, never, reported_connectors

HEARTBEAT = 5
OCCUPIED = {"OCPP1.6": "Preparing", "OCPP2.0.1": "Occupied"}
"""The status a plugged, idle connector reports."""


@pytest.fixture
async def csms(csms_factory: CsmsFactory) -> CsmsServer:
    return await csms_factory(heartbeat_interval=HEARTBEAT)


async def start_session(api: Api, csms: CsmsServer, cp: Charger) -> str:
    """A session on connector / EVSE 1, charging; its transaction id."""
    since = mark(csms, cp.identity)
    await run(api, cp.id, "start-session", {"id_tag": TAG})
    if cp.version == "OCPP1.6":
        await wait_status(csms, cp.identity, since, cp.version, "Charging")
        return str(start_transaction_answer(csms, cp.identity)["transactionId"])
    [started] = await wait_call(csms, cp.identity, since, "TransactionEvent", lambda p: p["eventType"] == "Started")
    return started["transactionInfo"]["transactionId"]


async def ended(csms: CsmsServer, cp: Charger, since: int) -> dict:
    """The end of a transaction since `since`: the StopTransaction (1.6) / TransactionEvent Ended (2.0.1)."""
    if cp.version == "OCPP1.6":
        [stop] = await wait_call(csms, cp.identity, since, "StopTransaction")
        return stop
    [end] = await wait_call(csms, cp.identity, since, "TransactionEvent", lambda p: p["eventType"] == "Ended")
    return end


def transaction_id_of(version: str, end: dict) -> str:
    return str(end["transactionId"]) if version == "OCPP1.6" else end["transactionInfo"]["transactionId"]


def index_of(csms: CsmsServer, identity: str, since: int, action: str, where: object = None) -> int:
    """The position of the first matching CALL since `since` (in `calls_since` numbering)."""
    calls = calls_since(csms, identity, since)
    return next(i for i, (a, p) in enumerate(calls) if a == action and (where is None or where(p)))  # type: ignore[operator]


# -- plug / unplug / unlock --------------------------------------------------------------------------------------


async def test_plug_connector_reports_the_connector_occupied_and_starts_no_transaction(
    api: Api, csms: CsmsServer, version: str
) -> None:
    cp = await boot(api, csms, version, AC)
    since = mark(csms, cp.identity)

    queued = await command(api, cp.id, "plug-connector")
    assert queued["event_type"] == "plug_connector"
    assert queued["ocpp_version"] == version.lower()
    assert queued["payload"] == normalised(version)
    await completed(api, queued)
    status = await wait_status(csms, cp.identity, since, version, OCCUPIED[version])
    if version == "OCPP2.0.1":
        assert status["connectorId"] == 1
    await never(
        lambda: {"Authorize", "StartTransaction", "TransactionEvent"} & set(actions_since(csms, cp.identity, since)),
        duration=0.5,
        what="plugging in started a transaction",
    )
    assert actions_since(csms, cp.identity, since) == ["StatusNotification"]


async def test_unplug_connector_after_plugging_reports_the_connector_available(
    api: Api, csms: CsmsServer, version: str
) -> None:
    cp = await boot(api, csms, version, AC)
    await run(api, cp.id, "plug-connector")
    since = mark(csms, cp.identity)

    queued = await command(api, cp.id, "unplug-connector")
    assert queued["event_type"] == "unplug_connector"
    assert queued["payload"] == normalised(version)
    await completed(api, queued)
    await wait_status(csms, cp.identity, since, version, "Available")
    assert actions_since(csms, cp.identity, since) == ["StatusNotification"]


async def test_unplug_during_a_transaction_ends_it_with_ev_disconnected_then_the_connector_is_available(
    api: Api, csms: CsmsServer, version: str
) -> None:
    cp = await boot(api, csms, version, AC)
    transaction = await start_session(api, csms, cp)
    since = mark(csms, cp.identity)

    await run(api, cp.id, "unplug-connector")
    end = await ended(csms, cp, since)
    await wait_status(csms, cp.identity, since, version, "Available")
    assert transaction_id_of(version, end) == transaction
    if version == "OCPP1.6":
        assert end["reason"] == "EVDisconnected"
        stopped_at = index_of(csms, cp.identity, since, "StopTransaction")
    else:
        assert end["transactionInfo"]["stoppedReason"] == "EVDisconnected"
        stopped_at = index_of(csms, cp.identity, since, "TransactionEvent", lambda p: p["eventType"] == "Ended")
    available_at = index_of(
        csms,
        cp.identity,
        since,
        "StatusNotification",
        lambda p: p.get("status", p.get("connectorStatus")) == "Available",
    )
    assert stopped_at < available_at, calls_since(csms, cp.identity, since)
    assert statuses_since(csms, cp.identity, since, version)[-1] == "Available"


async def test_unlock_connector_ends_a_running_transaction_and_the_connector_is_available(
    api: Api, csms: CsmsServer, version: str
) -> None:
    cp = await boot(api, csms, version, AC)
    transaction = await start_session(api, csms, cp)
    since = mark(csms, cp.identity)

    queued = await command(api, cp.id, "unlock-connector")
    assert queued["event_type"] == "unlock_connector"
    assert queued["payload"] == normalised(version)
    await completed(api, queued)
    end = await ended(csms, cp, since)
    await wait_status(csms, cp.identity, since, version, "Available")
    assert transaction_id_of(version, end) == transaction
    if version == "OCPP1.6":
        assert end["reason"] == "UnlockCommand"
    else:
        assert end["triggerReason"] == "UnlockCommand"
    assert statuses_since(csms, cp.identity, since, version)[-1] == "Available"


async def test_commands_on_connector_2_of_a_two_connector_charger_go_to_connector_2(
    api: Api, csms: CsmsServer, version: str
) -> None:
    cp = await boot(api, csms, version, DC)
    since = mark(csms, cp.identity)

    plugged = await command(api, cp.id, "plug-connector", selection(version, 2))
    assert plugged["payload"] == normalised(version, 2)
    await completed(api, plugged)
    await wait_status(csms, cp.identity, since, version, OCCUPIED[version], connector=2)

    started = await command(api, cp.id, "start-transaction", {"id_tag": TAG, **selection(version, 2)})
    assert started["payload"] == {"id_tag": TAG, **normalised(version, 2)}
    await completed(api, started)
    if version == "OCPP1.6":
        [start] = await wait_call(csms, cp.identity, since, "StartTransaction")
        assert start["connectorId"] == 2
    else:
        [event] = await wait_call(csms, cp.identity, since, "TransactionEvent")
        assert event["evse"]["id"] == 2

    stopping = mark(csms, cp.identity)
    await run(api, cp.id, "unplug-connector", selection(version, 2))
    await ended(csms, cp, stopping)
    await wait_status(csms, cp.identity, stopping, version, "Available", connector=2)

    connectors = {
        connector_of(version, p) for a, p in calls_since(csms, cp.identity, since) if a == "StatusNotification"
    }
    assert connectors == {2}, "connector 1 was touched by commands for connector 2"
    if version == "OCPP2.0.1":
        assert {e["evse"]["id"] for e in transaction_events(csms, cp.identity, since) if "evse" in e} == {2}


async def test_a_connector_the_charger_does_not_have_is_refused_and_nothing_is_written(
    api: Api, csms: CsmsServer, version: str
) -> None:
    cp = await boot(api, csms, version, AC)
    since = mark(csms, cp.identity)

    for path, body in (
        ("plug-connector", selection(version, 2)),
        ("start-transaction", {"id_tag": TAG, **selection(version, 2)}),
    ):
        refused = await command(api, cp.id, path, body, expect=400)
        assert isinstance(refused["detail"], str)
    await command(api, cp.id, "plug-connector", selection(version, -1), expect=422)
    assert (await api.commands(cp.id))["data"] == []
    assert actions_since(csms, cp.identity, since) == []


# -- location fan-out --------------------------------------------------------------------------------------------


async def test_location_start_and_stop_session_reach_every_charger_of_the_location_in_its_version(
    api: Api, csms: CsmsServer
) -> None:
    location = await api.create_location(name="Session hub")
    elsewhere = await api.create_location(name="Elsewhere")
    cp16 = await boot(api, csms, "OCPP1.6", AC, location_id=location)
    cp201 = await boot(api, csms, "OCPP2.0.1", AC, location_id=location)
    other = await boot(api, csms, "OCPP1.6", AC, location_id=elsewhere)
    marks = {c.identity: mark(csms, c.identity) for c in (cp16, cp201, other)}

    answer = await location_command(api, location, "start-session", {"id_tag": TAG})
    assert (answer["targeted_count"], answer["queued_count"], answer["failed_count"]) == (2, 2, 0)
    assert answer["failed"] == []
    by_id = {r["charger_id"]: r for r in answer["results"]}
    assert set(by_id) == {cp16.id, cp201.id}
    for charger in (cp16, cp201):
        result = by_id[charger.id]
        assert result["identity"] == charger.identity
        assert result["command"]["event_type"] == "start_session"
        assert result["command"]["ocpp_version"] == charger.version.lower()
        assert result["command"]["payload"] == {"id_tag": TAG, **normalised(charger.version)}
        await completed(api, result["command"])
    [start] = await wait_call(csms, cp16.identity, marks[cp16.identity], "StartTransaction")
    assert start["idTag"] == TAG
    [started] = await wait_call(csms, cp201.identity, marks[cp201.identity], "TransactionEvent")
    assert (started["eventType"], started["idToken"]["idToken"]) == ("Started", TAG)
    assert actions_since(csms, other.identity, marks[other.identity]) == []

    answer = await location_command(api, location, "stop-session", {})
    assert (answer["targeted_count"], answer["queued_count"], answer["failed_count"]) == (2, 2, 0)
    assert {r["command"]["event_type"] for r in answer["results"]} == {"stop_session"}
    for result in answer["results"]:
        await completed(api, result["command"])
    [stop] = await wait_call(csms, cp16.identity, marks[cp16.identity], "StopTransaction")
    assert stop["reason"] == "Local"
    [end] = await wait_call(
        csms, cp201.identity, marks[cp201.identity], "TransactionEvent", lambda p: p["eventType"] == "Ended"
    )
    assert end["transactionInfo"]["stoppedReason"] == "Local"
    assert actions_since(csms, other.identity, marks[other.identity]) == []


async def test_location_fan_out_with_charger_ids_addresses_only_those_and_lists_ids_not_in_the_location_as_failed(
    api: Api, csms: CsmsServer
) -> None:
    location = await api.create_location(name="Subset hub")
    elsewhere = await api.create_location(name="Elsewhere")
    chosen = await boot(api, csms, "OCPP2.0.1", AC, location_id=location)
    left_out = await boot(api, csms, "OCPP1.6", AC, location_id=location)
    other = await boot(api, csms, "OCPP1.6", AC, location_id=elsewhere)
    marks = {c.identity: mark(csms, c.identity) for c in (chosen, left_out, other)}

    answer = await location_command(
        api, location, "plug-connector", {"charger_ids": [chosen.id, other.id, "CP-NOT-HERE"]}
    )
    assert (answer["targeted_count"], answer["queued_count"], answer["failed_count"]) == (3, 1, 2)
    [result] = answer["results"]
    assert (result["charger_id"], result["identity"]) == (chosen.id, chosen.identity)
    assert result["command"]["event_type"] == "plug_connector"
    assert result["command"]["payload"] == normalised(chosen.version)
    assert answer["failed"] == [{"identity": None, "error": "charger not in location"}] * 2
    await completed(api, result["command"])
    await wait_status(csms, chosen.identity, marks[chosen.identity], chosen.version, "Occupied")

    answer = await location_command(api, location, "unplug-connector", {"charger_ids": [chosen.id]})
    assert (answer["targeted_count"], answer["queued_count"], answer["failed_count"]) == (1, 1, 0)
    await completed(api, answer["results"][0]["command"])
    await wait_status(csms, chosen.identity, marks[chosen.identity], chosen.version, "Available")
    for untouched in (left_out, other):
        assert actions_since(csms, untouched.identity, marks[untouched.identity]) == []
        assert (await api.commands(untouched.id))["data"] == []


async def test_location_transaction_energy_and_authorize_commands_fan_out_in_each_chargers_version(
    api: Api, csms: CsmsServer
) -> None:
    location = await api.create_location(name="Variants hub")
    cp16 = await boot(api, csms, "OCPP1.6", AC, location_id=location)
    cp201 = await boot(api, csms, "OCPP2.0.1", AC, location_id=location)
    chargers = (cp16, cp201)

    async def fan_out(path: str, body: dict, kind: str) -> dict[str, int]:
        marks = {c.identity: mark(csms, c.identity) for c in chargers}
        answer = await location_command(api, location, path, body)
        assert (answer["targeted_count"], answer["queued_count"], answer["failed_count"]) == (2, 2, 0), answer
        assert {r["command"]["event_type"] for r in answer["results"]} == {kind}
        for result in answer["results"]:
            await completed(api, result["command"])
        return marks

    marks = await fan_out("authorize-id-tag", {"id_tag": TAG}, "authorize_id_tag")
    assert [p for a, p in calls_since(csms, cp16.identity, marks[cp16.identity])] == [{"idTag": TAG}]
    [authorize] = [p for a, p in calls_since(csms, cp201.identity, marks[cp201.identity]) if a == "Authorize"]
    assert authorize["idToken"] == {"idToken": TAG, "type": "ISO14443"}

    marks = await fan_out("start-transaction", {"id_tag": TAG}, "start_transaction")
    await wait_call(csms, cp16.identity, marks[cp16.identity], "StartTransaction")
    await wait_call(
        csms, cp201.identity, marks[cp201.identity], "TransactionEvent", lambda p: p["eventType"] == "Started"
    )

    marks = await fan_out("ev-stops-energy", {}, "ev_stops_energy")
    await wait_status(csms, cp16.identity, marks[cp16.identity], "OCPP1.6", "SuspendedEV")
    await wait_call(
        csms,
        cp201.identity,
        marks[cp201.identity],
        "TransactionEvent",
        lambda p: p["transactionInfo"].get("chargingState") == "SuspendedEV",
    )

    marks = await fan_out("ev-requests-energy", {}, "ev_requests_energy")
    await wait_status(csms, cp16.identity, marks[cp16.identity], "OCPP1.6", "Charging")
    await wait_call(
        csms,
        cp201.identity,
        marks[cp201.identity],
        "TransactionEvent",
        lambda p: p["transactionInfo"].get("chargingState") == "Charging",
    )

    answer = await location_command(api, location, "power-update", {"power_w": 7000})
    assert {r["command"]["payload"]["power_w"] for r in answer["results"]} == {7000}
    assert {r["command"]["event_type"] for r in answer["results"]} == {"power_update"}
    for result in answer["results"]:
        await completed(api, result["command"])

    marks = await fan_out("stop-transaction", {}, "stop_transaction")
    await wait_call(csms, cp16.identity, marks[cp16.identity], "StopTransaction")
    await wait_call(
        csms, cp201.identity, marks[cp201.identity], "TransactionEvent", lambda p: p["eventType"] == "Ended"
    )

    marks = await fan_out("unlock-connector", {}, "unlock_connector")
    for charger in chargers:
        await eventually(
            lambda charger=charger: statuses_since(csms, charger.identity, 0, charger.version)[-1] == "Available",
            what=f"{charger.identity}: the last status it reported is Available after the unlock",
        )
        assert not {"StartTransaction", "StopTransaction", "TransactionEvent"} & set(
            actions_since(csms, charger.identity, marks[charger.identity])
        )


async def test_location_fan_out_refuses_an_unknown_location_and_an_empty_id_list(api: Api, csms: CsmsServer) -> None:
    location = await api.create_location(name="Refusals hub")
    cp = await boot(api, csms, "OCPP1.6", AC, location_id=location)

    await location_command(api, location, "start-session", {"id_tag": TAG, "charger_ids": []}, expect=400)
    unknown = "00000000-0000-4000-8000-000000000000"
    await location_command(api, unknown, "start-session", {"id_tag": TAG}, expect=404)
    await location_command(api, location, "start-session", {}, expect=422)  # id_tag is required
    assert (await api.commands(cp.id))["data"] == []


async def test_a_location_fan_out_to_twenty_chargers_reaches_every_chargers_csms_connection(
    api: Api, csms_factory: CsmsFactory
) -> None:
    csms = await csms_factory(heartbeat_interval=30)
    location = await api.create_location(name="Twenty hub")
    versions = ["OCPP1.6", "OCPP2.0.1"] * 10
    # one after the other: concurrent creates in one location can exhaust the optimistic retries (a 500)
    chargers = [await api.create_charger(csms.url(), version, AC, location_id=location) for version in versions]
    for charger in chargers:
        await csms.wait_for(charger.identity, "StatusNotification", count=reported_connectors(charger.version, AC))

    answer = await location_command(api, location, "start-session", {"id_tag": TAG})
    assert (answer["targeted_count"], answer["queued_count"], answer["failed_count"]) == (20, 20, 0)
    assert {r["identity"] for r in answer["results"]} == {c.identity for c in chargers}
    for charger in chargers:
        if charger.version == "OCPP1.6":
            [start] = await wait_call(csms, charger.identity, 0, "StartTransaction")
            assert start["idTag"] == TAG
        else:
            [started] = await wait_call(csms, charger.identity, 0, "TransactionEvent")
            assert started["idToken"]["idToken"] == TAG
    records = await asyncio.gather(*(api.wait_command(r["command"]["id"]) for r in answer["results"]))
    assert {record["status"] for record in records} == {"completed"}
