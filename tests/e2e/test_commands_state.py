"""Commands that change a charger's own state, end to end (both OCPP versions): configuration, the auth cache,
the local authorization list, faults (one charger and a location).

Binding: simulation.md ("Configuration keys", the table's inject-fault / clear-fault / configuration rows, the
fault-type mapping), api.md 6.6-6.8 and 6.11, commands-contract.md ("Routes that answer with an outcome").
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from adapters.csms.server import CsmsServer
from tests.e2e.conftest import (
    AC,
    DC,
    Api,
    Charger,
    CsmsFactory,
    boot,
    calls_from_cp,
    gaps,
    never,
)
from tests.e2e.state_helpers import (
    FAULT_ERROR_CODES,
    HEARTBEAT,
    KEYS,
    START_FIRST,
    calls_after,
    command_ids,
    configuration,
    connector,
    csms_config_value,
    csms_local_list_version,
    detail,
    local_list,
    ok,
    requested_commands,
    stable_configuration,
    statuses,
    stop_index,
    stop_reason,
    validation_items,
    wait_status,
    wait_status_in_view,
    wait_transaction_started,
)


@pytest.fixture
async def csms(csms_factory: CsmsFactory) -> CsmsServer:
    return await csms_factory(heartbeat_interval=HEARTBEAT)


@pytest.fixture
async def cp(api: Api, csms: CsmsServer, version: str) -> Charger:
    """A booted charger of the test's OCPP version with two connectors (1.6) / EVSEs (2.0.1): ABB Terra 184."""
    charger = await boot(api, csms, version, DC)
    await api.wait_runtime(charger.id, "booted")  # the boot's observations (the adopted interval) are stored
    return charger


def later(days: int = 30) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).isoformat(timespec="seconds").replace("+00:00", "Z")


def entries(*tags: str) -> list[dict[str, Any]]:
    return [{"id_tag": tag} for tag in tags]


# -- configuration ----------------------------------------------------------------------------------------------


async def test_configuration_read_answers_the_asked_keys_with_their_values_and_leaves_out_unknown_ones(
    api: Api, csms: CsmsServer, cp: Charger, version: str
) -> None:
    keys = KEYS[version]
    # the charge point adopted the interval of the CSMS's BootNotification answer, and says so on the wire ...
    assert await csms_config_value(csms, cp.identity, version, keys.heartbeat) == str(HEARTBEAT)
    # ... and the API reads the same configuration the charge point holds
    asked = await configuration(api, cp.id, [keys.heartbeat, keys.unknown])
    assert asked == {keys.heartbeat: str(HEARTBEAT)}

    everything = await configuration(api, cp.id)
    assert everything[keys.heartbeat] == str(HEARTBEAT)
    if version == "OCPP1.6":
        assert everything["NumberOfConnectors"] == "2"
    else:
        assert everything["ChargingStation.SerialNumber"] == cp.identity
    assert keys.unknown not in everything


async def test_a_configuration_change_is_accepted_read_back_and_seen_by_the_csms(
    api: Api, csms: CsmsServer, cp: Charger, version: str
) -> None:
    key = KEYS[version].writable
    answer = ok(await api.http.post(f"/chargers/{cp.id}/configuration", json={key: "45"}))
    assert answer["status"] == "Accepted"
    assert answer["configured"] == [key]
    assert isinstance(answer["msg"], str)

    assert await configuration(api, cp.id, [key]) == {key: "45"}
    assert await csms_config_value(csms, cp.identity, version, key) == "45"  # as if ChangeConfiguration/SetVariables


async def test_a_new_heartbeat_interval_re_times_the_heartbeats_at_once(
    api: Api, csms: CsmsServer, cp: Charger, version: str
) -> None:
    assert csms.received(cp.identity, "Heartbeat") == []  # 5 s from the boot: none yet
    key = KEYS[version].heartbeat
    ok(await api.http.post(f"/chargers/{cp.id}/configuration", json={key: "1"}))
    changed_at = time.time()

    await csms.wait_for(cp.identity, "Heartbeat", count=3, timeout=5)
    heartbeats = calls_from_cp(csms, cp.identity, "Heartbeat")
    assert heartbeats[0].at - changed_at < 1.6
    assert all(0.7 <= gap <= 1.6 for gap in gaps(heartbeats)), gaps(heartbeats)
    assert await configuration(api, cp.id, [key]) == {key: "1"}


@pytest.mark.parametrize("which", ["unknown", "read_only", "other_version", "invalid_value"])
async def test_a_configuration_change_of_a_bad_key_or_value_is_400_naming_the_key_and_changes_nothing(
    api: Api, csms: CsmsServer, cp: Charger, version: str, which: str
) -> None:
    keys = KEYS[version]
    bad = {
        "unknown": {keys.unknown: "1"},
        "read_only": {keys.read_only: "7"},
        "other_version": {keys.other_version: "10"},
        "invalid_value": {keys.heartbeat: "soon"},
    }[which]
    before = await stable_configuration(api, cp.id)
    commands = await command_ids(api, cp.id)

    # together with a valid change: the whole request is refused, the valid key is not applied either
    response = await api.http.post(f"/chargers/{cp.id}/configuration", json={keys.writable: "45", **bad})
    assert next(iter(bad)) in detail(response, 400)

    assert await stable_configuration(api, cp.id) == before
    assert await csms_config_value(csms, cp.identity, version, keys.writable) == before[keys.writable]
    assert await command_ids(api, cp.id) == commands


async def test_configuration_changes_on_a_stopped_charger_and_is_in_force_when_it_runs_again(
    api: Api, csms: CsmsServer, cp: Charger, version: str
) -> None:
    key = KEYS[version].writable
    await api.lifecycle(cp.id, "stop-charger")
    await api.wait_runtime(cp.id, "stopped")

    answer = ok(await api.http.post(f"/chargers/{cp.id}/configuration", json={key: "77"}))
    assert answer["status"] == "Accepted"
    assert await configuration(api, cp.id, [key]) == {key: "77"}

    await api.lifecycle(cp.id, "start-charger")
    await csms.wait_for(cp.identity, "BootNotification", count=2)
    assert await csms_config_value(csms, cp.identity, version, key) == "77"


# -- the authorization cache ------------------------------------------------------------------------------------


async def test_cache_reset_reports_how_many_cached_id_tags_it_cleared(api: Api, csms: CsmsServer, cp: Charger) -> None:
    for tag in ("TAG-CACHE-1", "TAG-CACHE-2"):
        queued = ok(await api.http.post(f"/chargers/{cp.id}/authorize-id-tag", json={"id_tag": tag}))
        assert (await api.wait_command(queued["id"]))["status"] == "completed"

    first = ok(await api.http.post(f"/chargers/{cp.id}/cache/reset"))  # no body, as the SDK sends it
    assert isinstance(first["msg"], str)
    assert first["cleared_entries"] == 2  # OCPP: an Accepted Authorize answer is cached

    second = ok(await api.http.post(f"/chargers/{cp.id}/cache/reset"))
    assert second["cleared_entries"] == 0


# -- the local authorization list -------------------------------------------------------------------------------


async def test_sending_a_local_list_stores_its_entries_and_the_csms_reads_its_version(
    api: Api, csms: CsmsServer, cp: Charger, version: str
) -> None:
    expiry = later()
    body = {"list_version": 2, "entries": [{"id_tag": "TAG-RFID-001", "expiry_date": expiry}, {"id_tag": "TAG-002"}]}
    answer = ok(await api.http.post(f"/chargers/{cp.id}/local-auth-list", json=body))
    assert answer["status"] == "Accepted"
    assert answer["list_version"] == 2
    assert answer["entries_received"] == 2
    assert isinstance(answer["msg"], str)

    listed = await local_list(api, cp.id)
    assert (listed["total"], listed["page"], listed["limit"]) == (2, 1, 50)
    by_tag = {entry["id_tag"]: entry for entry in listed["data"]}
    assert set(by_tag) == {"TAG-RFID-001", "TAG-002"}
    assert datetime.fromisoformat(by_tag["TAG-RFID-001"]["expiry_date"]) == datetime.fromisoformat(expiry)
    assert by_tag["TAG-002"].get("expiry_date") is None

    assert await csms_local_list_version(csms, cp.identity, version) == 2


async def test_a_local_list_is_a_full_replacement(api: Api, cp: Charger) -> None:
    ok(
        await api.http.post(
            f"/chargers/{cp.id}/local-auth-list", json={"list_version": 1, "entries": entries("A", "B")}
        )
    )
    ok(await api.http.post(f"/chargers/{cp.id}/local-auth-list", json={"list_version": 2, "entries": entries("C")}))
    listed = await local_list(api, cp.id)
    assert [entry["id_tag"] for entry in listed["data"]] == ["C"]
    assert listed["total"] == 1


async def test_the_local_list_is_read_page_by_page(api: Api, cp: Charger) -> None:
    tags = [f"TAG-{n:03d}" for n in range(5)]
    ok(await api.http.post(f"/chargers/{cp.id}/local-auth-list", json={"list_version": 1, "entries": entries(*tags)}))

    pages = [await local_list(api, cp.id, page=page, limit=2) for page in (1, 2, 3, 4)]
    assert [len(page["data"]) for page in pages] == [2, 2, 1, 0]
    assert all(page["total"] == 5 and page["limit"] == 2 for page in pages)
    assert [page["page"] for page in pages] == [1, 2, 3, 4]
    assert sorted(entry["id_tag"] for page in pages for entry in page["data"]) == tags


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param({"list_version": 3, "entries": entries("X")}, id="same version"),
        pytest.param({"list_version": 2, "entries": entries("X")}, id="older version"),
        pytest.param({"list_version": 4, "entries": entries("X", "Y", "X")}, id="duplicate id_tags"),
        pytest.param({"list_version": 4, "entries": entries(*(f"T{n}" for n in range(1001)))}, id="over max length"),
    ],
)
async def test_a_refused_local_list_is_400_and_leaves_the_list_and_its_version_as_they_were(
    api: Api, csms: CsmsServer, cp: Charger, version: str, bad: dict[str, Any]
) -> None:
    ok(await api.http.post(f"/chargers/{cp.id}/local-auth-list", json={"list_version": 3, "entries": entries("A")}))
    before = await local_list(api, cp.id)

    text = detail(await api.http.post(f"/chargers/{cp.id}/local-auth-list", json=bad), 400)
    if bad["list_version"] <= 3:
        assert "version mismatch" in text

    assert await local_list(api, cp.id) == before
    assert await csms_local_list_version(csms, cp.identity, version) == 3


async def test_deleting_the_local_list_clears_it_and_resets_its_version_to_0(
    api: Api, csms: CsmsServer, cp: Charger, version: str
) -> None:
    ok(
        await api.http.post(
            f"/chargers/{cp.id}/local-auth-list", json={"list_version": 5, "entries": entries("A", "B")}
        )
    )

    answer = ok(await api.http.delete(f"/chargers/{cp.id}/local-auth-list"))
    assert answer["msg"] == "Local authorization list cleared"
    assert answer["entries_deleted"] == 2
    assert answer["list_version"] == 0
    assert answer["status"] == "Accepted"

    listed = await local_list(api, cp.id)
    assert (listed["data"], listed["total"]) == ([], 0)
    assert await csms_local_list_version(csms, cp.identity, version) == 0
    # version 0 again: a list of version 1 is newer
    again = ok(await api.http.post(f"/chargers/{cp.id}/local-auth-list", json={"list_version": 1, "entries": []}))
    assert again["list_version"] == 1
    assert await csms_local_list_version(csms, cp.identity, version) == 1


async def test_the_local_list_can_be_sent_to_a_stopped_charger(api: Api, cp: Charger) -> None:
    await api.lifecycle(cp.id, "stop-charger")
    await api.wait_runtime(cp.id, "stopped")
    ok(await api.http.post(f"/chargers/{cp.id}/local-auth-list", json={"list_version": 1, "entries": entries("S")}))
    assert [entry["id_tag"] for entry in (await local_list(api, cp.id))["data"]] == ["S"]


# -- faults on one charger ---------------------------------------------------------------------------------------


async def test_every_fault_type_reaches_the_csms_as_status_faulted_with_its_1_6_error_code(
    api: Api, csms: CsmsServer
) -> None:
    cp = await boot(api, csms, "OCPP1.6", AC)
    for fault_type, error_code in FAULT_ERROR_CODES.items():
        seen = len(statuses(csms, cp.identity))
        response = await api.http.post(
            f"/chargers/{cp.id}/inject-fault", params={"fault_type": fault_type, "connector_id": 1}
        )
        answer = ok(response)
        assert answer["msg"] == "Fault injected"
        assert (answer["fault_type"], answer["connector_id"], answer["status"]) == (fault_type, 1, "Faulted")
        faulted = await wait_status(csms, cp.identity, 1, "Faulted", after=seen)
        assert faulted.error_code == error_code, fault_type

        seen = len(statuses(csms, cp.identity))
        cleared = ok(await api.http.post(f"/chargers/{cp.id}/clear-fault", params={"connector_id": 1}))
        assert cleared["status"] == "Available"
        restored = await wait_status(csms, cp.identity, 1, "Available", after=seen)
        assert restored.error_code == "NoError"


async def test_a_2_0_1_fault_is_a_status_notification_faulted_and_a_notify_event(api: Api, csms: CsmsServer) -> None:
    cs = await boot(api, csms, "OCPP2.0.1", DC)
    seen = len(statuses(csms, cs.identity))
    events_before = len(csms.received(cs.identity, "NotifyEvent"))
    answer = ok(
        await api.http.post(
            f"/chargers/{cs.id}/inject-fault", params={"fault_type": "OverTemperature", "evse_id": 2, "connector_id": 1}
        )
    )
    assert (answer["evse_id"], answer["connector_id"], answer["status"]) == (2, 1, "Faulted")

    faulted = await wait_status(csms, cs.identity, 2, "Faulted", after=seen)
    assert faulted.payload["connectorId"] == 1
    events = await csms.wait_for(cs.identity, "NotifyEvent", count=events_before + 1)
    assert events[-1]["eventData"], events
    assert [s.connector for s in statuses(csms, cs.identity)[seen:] if s.status == "Faulted"] == [2]  # EVSE 1 is fine


async def test_a_fault_shows_in_the_chargers_connectors_and_only_on_the_faulted_connector(
    api: Api, csms: CsmsServer, cp: Charger, version: str
) -> None:
    seen = len(statuses(csms, cp.identity))
    ok(
        await api.http.post(
            f"/chargers/{cp.id}/inject-fault", params={"fault_type": "GroundFault", **connector(version, 2)}
        )
    )
    await wait_status(csms, cp.identity, 2, "Faulted", after=seen)
    await wait_status_in_view(api, cp.id, 2, "Faulted")
    await never(
        lambda: any(s.connector == 1 for s in statuses(csms, cp.identity)[seen:]),
        duration=1.0,
        what="a status change of the connector that was not faulted",
    )


async def test_a_fault_during_a_transaction_stops_it_first_then_reports_faulted(
    api: Api, csms: CsmsServer, cp: Charger, version: str
) -> None:
    ok(await api.http.post(f"/chargers/{cp.id}/start-session", json={"id_tag": "TAG-FAULT", "connector_id": 1}))
    await wait_transaction_started(csms, cp.identity, version)
    seen = len(statuses(csms, cp.identity))

    ok(
        await api.http.post(
            f"/chargers/{cp.id}/inject-fault", params={"fault_type": "OverCurrent", **connector(version)}
        )
    )
    faulted = await wait_status(csms, cp.identity, 1, "Faulted", after=seen)

    stopped_at = stop_index(csms, cp.identity, version)
    assert stopped_at is not None, "the transaction was not stopped"
    faulted_at = next(i for i, (_, payload) in enumerate(csms.received(cp.identity)) if payload is faulted.payload)
    assert stopped_at < faulted_at, "the transaction must stop before the connector reports Faulted"
    assert stop_reason(csms, cp.identity, version) == "Other"
    if version == "OCPP1.6":
        assert faulted.error_code == "OverCurrentFailure"


async def test_clearing_a_fault_restores_the_status_the_connector_had_before_it(
    api: Api, csms: CsmsServer, cp: Charger, version: str
) -> None:
    plugged = "Preparing" if version == "OCPP1.6" else "Occupied"
    seen = len(statuses(csms, cp.identity))
    ok(await api.http.post(f"/chargers/{cp.id}/plug-connector", json=connector(version)))
    await wait_status(csms, cp.identity, 1, plugged, after=seen)

    ok(
        await api.http.post(
            f"/chargers/{cp.id}/inject-fault", params={"fault_type": "WeakSignal", **connector(version)}
        )
    )
    await wait_status(csms, cp.identity, 1, "Faulted", after=seen)

    seen = len(statuses(csms, cp.identity))
    cleared = ok(await api.http.post(f"/chargers/{cp.id}/clear-fault", params=connector(version)))
    assert cleared["msg"] == "Fault cleared"
    assert cleared["status"] == plugged
    restored = await wait_status(csms, cp.identity, 1, plugged, after=seen)
    if version == "OCPP1.6":
        assert restored.error_code == "NoError"


async def test_an_unknown_fault_type_is_422_and_nothing_reaches_the_csms(
    api: Api, csms: CsmsServer, cp: Charger, version: str
) -> None:
    seen = len(csms.received(cp.identity))
    commands = await command_ids(api, cp.id)
    response = await api.http.post(
        f"/chargers/{cp.id}/inject-fault", params={"fault_type": "Lightning", **connector(version)}
    )
    validation_items(response, "query", "fault_type")
    await never(
        lambda: any(action == "StatusNotification" for action, _ in calls_after(csms, cp.identity, seen)),
        duration=1.0,
        what="a StatusNotification after a refused fault",
    )
    assert await command_ids(api, cp.id) == commands


async def test_faults_on_a_stopped_charger_are_refused_until_it_is_started(api: Api, cp: Charger, version: str) -> None:
    await api.lifecycle(cp.id, "stop-charger")
    await api.wait_runtime(cp.id, "stopped")
    before = await requested_commands(api)
    for path, params in (
        ("inject-fault", {"fault_type": "OverCurrent", **connector(version)}),
        ("clear-fault", connector(version)),
    ):
        assert START_FIRST in detail(await api.http.post(f"/chargers/{cp.id}/{path}", params=params), 400)
    assert await requested_commands(api) == before


# -- faults on a location ---------------------------------------------------------------------------------------


async def test_a_location_fault_faults_each_named_charger_and_reports_the_unknown_ids_as_failures(
    api: Api, csms: CsmsServer, version: str
) -> None:
    first, second = await boot(api, csms, version, AC), await boot(api, csms, version, AC)
    location = await api.location()
    seen = {cp.identity: len(statuses(csms, cp.identity)) for cp in (first, second)}
    body = {
        "charger_ids": [first.id, second.identity, "no-such-charger"],
        "fault_type": "GroundFault",
        **connector(version),
    }

    answer = ok(await api.http.post(f"/locations/{location}/chargers/inject-fault", json=body))
    assert (answer["targeted_count"], answer["succeeded_count"], answer["failed_count"]) == (3, 2, 1)
    assert sorted(r["charger_id"] for r in answer["results"]) == sorted([first.id, second.id])
    assert sorted(r["identity"] for r in answer["results"]) == sorted([first.identity, second.identity])
    for result in answer["results"]:  # FaultOperationResponse: msg required (api.md 7)
        assert isinstance(result["fault"]["msg"], str)
        assert result["fault"]["fault_type"] == "GroundFault"
    assert answer["failed"] == [{"identity": None, "error": "charger not in location"}]

    for cp in (first, second):
        faulted = await wait_status(csms, cp.identity, 1, "Faulted", after=seen[cp.identity])
        if version == "OCPP1.6":
            assert faulted.error_code == "GroundFailure"

    seen = {cp.identity: len(statuses(csms, cp.identity)) for cp in (first, second)}
    cleared = ok(await api.http.post(f"/locations/{location}/chargers/clear-fault", json=connector(version)))
    assert (cleared["targeted_count"], cleared["succeeded_count"], cleared["failed_count"]) == (2, 2, 0)
    assert sorted(r["identity"] for r in cleared["results"]) == sorted([first.identity, second.identity])
    for cp in (first, second):
        await wait_status(csms, cp.identity, 1, "Available", after=seen[cp.identity])


async def test_a_location_fault_succeeds_on_running_chargers_and_fails_on_a_stopped_one(
    api: Api, csms: CsmsServer, version: str
) -> None:
    running, stopped = await boot(api, csms, version, AC), await boot(api, csms, version, AC)
    await api.lifecycle(stopped.id, "stop-charger")
    await api.wait_runtime(stopped.id, "stopped")
    location = await api.location()

    answer = ok(
        await api.http.post(f"/locations/{location}/chargers/inject-fault", json={"fault_type": "InternalError"})
    )
    assert (answer["targeted_count"], answer["succeeded_count"], answer["failed_count"]) == (2, 1, 1)
    assert [r["identity"] for r in answer["results"]] == [running.identity]
    assert [f["identity"] for f in answer["failed"]] == [stopped.identity]
    assert START_FIRST in answer["failed"][0]["error"]
    await wait_status(csms, running.identity, 1, "Faulted")


async def test_a_location_fault_of_an_unknown_type_is_422_at_the_body(api: Api, csms: CsmsServer, version: str) -> None:
    cp = await boot(api, csms, version, AC)
    seen = len(csms.received(cp.identity))
    location = await api.location()
    response = await api.http.post(f"/locations/{location}/chargers/inject-fault", json={"fault_type": "Lightning"})
    validation_items(response, "body", "fault_type")
    await never(lambda: calls_after(csms, cp.identity, seen), duration=1.0, what="a CALL after a refused fault")
