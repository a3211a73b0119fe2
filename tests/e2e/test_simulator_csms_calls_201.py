"""OCPP 2.0.1: what the simulated charging station answers when the CSMS calls it, and what follows on the wire."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from ocpp.exceptions import OCPPError
from ocpp.v201 import call

from adapters.csms.server import CsmsServer
from tests.e2e.conftest import (
    DC,
    RECONNECT,
    Api,
    Charger,
    CsmsFactory,
    answers_from_cp,
    boot,
    calls_from_cp,
    charger_answer_to_last,
    csms_calls_after,
    gaps,
    never,
)
from tests.file_servers import http_server

TOKEN = {"id_token": "TAG-201", "type": "ISO14443"}


HEARTBEAT = 5
"""The CSMS's heartbeat interval. Short on purpose: a charger whose stop races with an answer in flight keeps
its session until its next heartbeat (see the report on Station.run_session), which must not stall later tests."""


def later(seconds: int = 3600) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat(timespec="seconds").replace("+00:00", "Z")


def variable(component: str, name: str, **extra: object) -> dict:
    return {"component": {"name": component}, "variable": {"name": name}, **extra}


@pytest.fixture
async def csms(csms_factory: CsmsFactory) -> CsmsServer:
    """A CSMS with a 5 s heartbeat interval: the wire stays quiet while a test acts (a test takes well under 5 s)."""
    return await csms_factory(heartbeat_interval=HEARTBEAT)


@pytest.fixture
async def cs(api: Api, csms: CsmsServer) -> Charger:
    """A booted OCPP 2.0.1 charging station with two EVSEs (ABB Terra 184)."""
    return await boot(api, csms, "OCPP2.0.1", DC)


async def test_get_variables_reads_the_device_model_and_names_unknown_components_and_variables(
    csms: CsmsServer, cs: Charger
) -> None:
    answer = await csms.call(
        cs.identity,
        call.GetVariables(
            get_variable_data=[
                variable("OCPPCommCtrlr", "HeartbeatInterval"),
                variable("ChargingStation", "SerialNumber"),
                variable("NoSuchCtrlr", "Enabled"),
                variable("AuthCtrlr", "NoSuchVariable"),
            ]
        ),
    )
    results = answer.get_variable_result
    assert [r["attribute_status"] for r in results] == ["Accepted", "Accepted", "UnknownComponent", "UnknownVariable"]
    assert results[0]["attribute_value"] == str(HEARTBEAT)
    assert results[1]["attribute_value"] == cs.identity
    assert results[0]["component"] == {"name": "OCPPCommCtrlr"}
    assert results[0]["variable"] == {"name": "HeartbeatInterval"}


async def test_set_variables_of_heartbeat_interval_changes_the_heartbeat_period_at_once(
    csms: CsmsServer, cs: Charger
) -> None:
    assert csms.received(cs.identity, "Heartbeat") == []  # 5 s from the boot: none yet
    answer = await csms.call(
        cs.identity,
        call.SetVariables(set_variable_data=[variable("OCPPCommCtrlr", "HeartbeatInterval", attribute_value="1")]),
    )
    assert answer.set_variable_result[0]["attribute_status"] == "Accepted"
    changed_at = time.time()

    await csms.wait_for(cs.identity, "Heartbeat", count=3, timeout=5)
    heartbeats = calls_from_cp(csms, cs.identity, "Heartbeat")
    assert heartbeats[0].at - changed_at < 1.6
    assert all(0.7 <= gap <= 1.6 for gap in gaps(heartbeats)), gaps(heartbeats)
    read = await csms.call(
        cs.identity, call.GetVariables(get_variable_data=[variable("OCPPCommCtrlr", "HeartbeatInterval")])
    )
    assert read.get_variable_result[0]["attribute_value"] == "1"


async def test_set_variables_refuses_read_only_unknown_and_invalid_values_item_by_item(
    csms: CsmsServer, cs: Charger
) -> None:
    answer = await csms.call(
        cs.identity,
        call.SetVariables(
            set_variable_data=[
                variable("ChargingStation", "SerialNumber", attribute_value="OTHER"),
                variable("OCPPCommCtrlr", "HeartbeatInterval", attribute_value="soon"),
                variable("NoSuchCtrlr", "Enabled", attribute_value="true"),
                variable("AuthCtrlr", "NoSuchVariable", attribute_value="true"),
                variable("TxCtrlr", "EVConnectionTimeOut", attribute_value="45"),
            ]
        ),
    )
    assert [r["attribute_status"] for r in answer.set_variable_result] == [
        "Rejected",
        "Rejected",
        "UnknownComponent",
        "UnknownVariable",
        "Accepted",
    ]
    read = await csms.call(
        cs.identity,
        call.GetVariables(
            get_variable_data=[
                variable("ChargingStation", "SerialNumber"),
                variable("OCPPCommCtrlr", "HeartbeatInterval"),
                variable("TxCtrlr", "EVConnectionTimeOut"),
            ]
        ),
    )
    assert [r["attribute_value"] for r in read.get_variable_result] == [cs.identity, str(HEARTBEAT), "45"]


@pytest.mark.parametrize("report_base", ["FullInventory", "ConfigurationInventory"])
async def test_get_base_report_is_accepted_and_notify_report_follows(
    csms: CsmsServer, cs: Charger, report_base: str
) -> None:
    answer = await csms.call(cs.identity, call.GetBaseReport(request_id=41, report_base=report_base))
    assert answer.status == "Accepted"
    marker = charger_answer_to_last(csms, cs.identity, "GetBaseReport")
    [first] = await csms_calls_after(csms, cs.identity, marker, "NotifyReport")
    reports = [first]
    while reports[-1].get("tbc"):
        reports = await csms_calls_after(csms, cs.identity, marker, "NotifyReport", count=len(reports) + 1)
    assert [r["seqNo"] for r in reports] == list(range(len(reports)))
    assert {r["requestId"] for r in reports} == {41}
    items = {(i["component"]["name"], i["variable"]["name"]): i for r in reports for i in r["reportData"]}
    heartbeat = items[("OCPPCommCtrlr", "HeartbeatInterval")]
    assert heartbeat["variableAttribute"][0]["value"] == str(HEARTBEAT)
    assert heartbeat["variableAttribute"][0]["mutability"] == "ReadWrite"
    if report_base == "FullInventory":
        assert items[("ChargingStation", "SerialNumber")]["variableAttribute"][0]["value"] == cs.identity
    else:
        assert all(i["variableAttribute"][0]["mutability"] != "ReadOnly" for i in items.values())


async def test_clear_cache_is_accepted(csms: CsmsServer, cs: Charger) -> None:
    assert (await csms.call(cs.identity, call.ClearCache())).status == "Accepted"


async def test_send_local_list_sets_the_version_get_local_list_version_reports(csms: CsmsServer, cs: Charger) -> None:
    assert (await csms.call(cs.identity, call.GetLocalListVersion())).version_number == 0
    full = call.SendLocalList(
        version_number=3,
        update_type="Full",
        local_authorization_list=[
            {"id_token": TOKEN, "id_token_info": {"status": "Accepted"}},
            {"id_token": {"id_token": "TAG-BLOCKED", "type": "ISO14443"}, "id_token_info": {"status": "Blocked"}},
        ],
    )
    assert (await csms.call(cs.identity, full)).status == "Accepted"
    assert (await csms.call(cs.identity, call.GetLocalListVersion())).version_number == 3

    stale = call.SendLocalList(version_number=3, update_type="Differential")
    assert (await csms.call(cs.identity, stale)).status == "VersionMismatch"
    newer = call.SendLocalList(
        version_number=4, update_type="Differential", local_authorization_list=[{"id_token": TOKEN}]
    )
    assert (await csms.call(cs.identity, newer)).status == "Accepted"
    assert (await csms.call(cs.identity, call.GetLocalListVersion())).version_number == 4


async def test_unlock_connector_unlocks_and_knows_no_evse_3(csms: CsmsServer, cs: Charger) -> None:
    assert (await csms.call(cs.identity, call.UnlockConnector(evse_id=1, connector_id=1))).status == "Unlocked"
    unknown = await csms.call(cs.identity, call.UnlockConnector(evse_id=3, connector_id=1))
    assert unknown.status == "UnknownConnector"


@pytest.mark.parametrize(
    ("requested", "evse"),
    [
        ("StatusNotification", {"id": 2, "connector_id": 1}),
        ("Heartbeat", None),
        ("MeterValues", {"id": 1}),
        ("FirmwareStatusNotification", None),
        ("LogStatusNotification", None),
    ],
)
async def test_trigger_message_is_accepted_and_the_message_follows_its_answer(
    csms: CsmsServer, cs: Charger, requested: str, evse: dict | None
) -> None:
    answer = await csms.call(cs.identity, call.TriggerMessage(requested_message=requested, evse=evse))
    assert answer.status == "Accepted"
    marker = charger_answer_to_last(csms, cs.identity, "TriggerMessage")
    payload, *_ = await csms_calls_after(csms, cs.identity, marker, requested)
    if requested == "StatusNotification":
        assert (payload["evseId"], payload["connectorId"], payload["connectorStatus"]) == (2, 1, "Available")
    if requested == "MeterValues":
        assert payload["evseId"] == 1


async def test_trigger_message_of_a_boot_notification_after_the_boot_is_rejected(csms: CsmsServer, cs: Charger) -> None:
    answer = await csms.call(cs.identity, call.TriggerMessage(requested_message="BootNotification"))
    assert answer.status == "Rejected"
    unknown_evse = await csms.call(
        cs.identity, call.TriggerMessage(requested_message="StatusNotification", evse={"id": 9, "connector_id": 1})
    )
    assert unknown_evse.status == "Rejected"


async def test_change_availability_makes_an_evse_unavailable_and_available_again(
    api: Api, csms: CsmsServer, cs: Charger
) -> None:
    answer = await csms.call(cs.identity, call.ChangeAvailability(operational_status="Inoperative", evse={"id": 1}))
    assert answer.status == "Accepted"
    marker = charger_answer_to_last(csms, cs.identity, "ChangeAvailability")
    [status] = await csms_calls_after(csms, cs.identity, marker, "StatusNotification")
    assert (status["evseId"], status["connectorId"], status["connectorStatus"]) == (1, 1, "Unavailable")
    await api.wait_charger(
        cs.id,
        lambda doc: {c["evse_id"]: c["status"] for c in doc["connectors"]}.get(1) == "Unavailable",
        what="EVSE 1 Unavailable in the view",
    )

    answer = await csms.call(cs.identity, call.ChangeAvailability(operational_status="Operative", evse={"id": 1}))
    assert answer.status == "Accepted"
    marker = charger_answer_to_last(csms, cs.identity, "ChangeAvailability")
    [status] = await csms_calls_after(csms, cs.identity, marker, "StatusNotification")
    assert (status["evseId"], status["connectorStatus"]) == (1, "Available")


async def test_data_transfer_to_an_unknown_vendor_is_answered_unknown_vendor_id(csms: CsmsServer, cs: Charger) -> None:
    answer = await csms.call(cs.identity, call.DataTransfer(vendor_id="com.example.e2e", message_id="ping", data="x"))
    assert answer.status == "UnknownVendorId"


async def test_reserve_now_reserves_an_evse_and_cancel_reservation_frees_it(csms: CsmsServer, cs: Charger) -> None:
    reserve = call.ReserveNow(id=7, expiry_date_time=later(), id_token=TOKEN, evse_id=1)
    assert (await csms.call(cs.identity, reserve)).status == "Accepted"
    marker = charger_answer_to_last(csms, cs.identity, "ReserveNow")
    [status] = await csms_calls_after(csms, cs.identity, marker, "StatusNotification")
    assert (status["evseId"], status["connectorStatus"]) == (1, "Reserved")

    assert (await csms.call(cs.identity, call.CancelReservation(reservation_id=7))).status == "Accepted"
    marker = charger_answer_to_last(csms, cs.identity, "CancelReservation")
    [status] = await csms_calls_after(csms, cs.identity, marker, "StatusNotification")
    assert (status["evseId"], status["connectorStatus"]) == (1, "Available")
    assert (await csms.call(cs.identity, call.CancelReservation(reservation_id=7))).status == "Rejected"


async def test_set_charging_profile_is_accepted_and_clear_charging_profile_removes_it(
    csms: CsmsServer, cs: Charger
) -> None:
    profile = {
        "id": 12,
        "stack_level": 0,
        "charging_profile_purpose": "TxDefaultProfile",
        "charging_profile_kind": "Relative",
        "charging_schedule": [
            {"id": 1, "charging_rate_unit": "W", "charging_schedule_period": [{"start_period": 0, "limit": 50000.0}]}
        ],
    }
    answer = await csms.call(cs.identity, call.SetChargingProfile(evse_id=1, charging_profile=profile))
    assert answer.status == "Accepted"
    assert (await csms.call(cs.identity, call.ClearChargingProfile(charging_profile_id=12))).status == "Accepted"
    assert (await csms.call(cs.identity, call.ClearChargingProfile(charging_profile_id=12))).status == "Unknown"


async def test_get_composite_schedule_answers_a_schedule_for_the_evse(csms: CsmsServer, cs: Charger) -> None:
    answer = await csms.call(cs.identity, call.GetCompositeSchedule(duration=3600, evse_id=1, charging_rate_unit="W"))
    assert answer.status == "Accepted"
    assert answer.schedule["evse_id"] == 1
    assert answer.schedule["duration"] == 3600
    assert answer.schedule["charging_rate_unit"] == "W"


async def test_get_transaction_status_without_a_transaction_reports_an_empty_queue(
    csms: CsmsServer, cs: Charger
) -> None:
    answer = await csms.call(cs.identity, call.GetTransactionStatus())
    assert answer.messages_in_queue is False
    unknown = await csms.call(cs.identity, call.GetTransactionStatus(transaction_id="no-such-transaction"))
    assert (unknown.messages_in_queue, unknown.ongoing_indicator) == (False, False)


async def test_update_firmware_downloads_installs_and_reboots(csms: CsmsServer, cs: Charger) -> None:
    with http_server({"/fw/terra-2.1.bin": b"firmware image"}) as server:
        firmware = {"location": server.url("/fw/terra-2.1.bin"), "retrieve_date_time": later(0)}
        answer = await csms.call(cs.identity, call.UpdateFirmware(request_id=9, firmware=firmware, retries=0))
        assert answer.status == "Accepted"
        marker = charger_answer_to_last(csms, cs.identity, "UpdateFirmware")
        notifications = await csms_calls_after(csms, cs.identity, marker, "FirmwareStatusNotification", count=5)
    assert [n["status"] for n in notifications] == [
        "Downloading",
        "Downloaded",
        "Installing",
        "InstallRebooting",
        "Installed",  # after the reboot
    ]
    assert {n["requestId"] for n in notifications} == {9}
    assert [r.path for r in server.received("GET")] == ["/fw/terra-2.1.bin"]
    boots = await csms.wait_for(cs.identity, "BootNotification", count=2)
    assert boots[-1]["chargingStation"]["firmwareVersion"] == "terra-2.1"


async def test_get_log_names_a_file_and_uploads_it(csms: CsmsServer, cs: Charger) -> None:
    with http_server() as server:
        request = call.GetLog(log={"remote_location": server.url("/logs/")}, log_type="DiagnosticsLog", request_id=4)
        answer = await csms.call(cs.identity, request)
        assert (answer.status, answer.filename) == ("Accepted", f"DiagnosticsLog-{cs.identity}.log")
        marker = charger_answer_to_last(csms, cs.identity, "GetLog")
        notifications = await csms_calls_after(csms, cs.identity, marker, "LogStatusNotification", count=2)
    assert [(n["status"], n["requestId"]) for n in notifications] == [("Uploading", 4), ("Uploaded", 4)]
    [upload] = server.received("PUT")
    assert upload.path == f"/logs/{answer.filename}"
    assert b'"BootNotification"' in upload.body


async def test_request_start_and_stop_transaction_reach_the_csms_as_transaction_events(
    api: Api, csms: CsmsServer, cs: Charger
) -> None:
    answer = await csms.call(cs.identity, call.RequestStartTransaction(id_token=TOKEN, remote_start_id=42, evse_id=1))
    assert answer.status == "Accepted"
    [started] = await csms.wait_for(cs.identity, "TransactionEvent")
    assert (started["eventType"], started["triggerReason"]) == ("Started", "RemoteStart")
    assert started["transactionInfo"]["remoteStartId"] == 42
    assert started["idToken"] == {"idToken": "TAG-201", "type": "ISO14443"}
    assert started["evse"]["id"] == 1
    transaction_id = started["transactionInfo"]["transactionId"]

    status = await csms.call(cs.identity, call.GetTransactionStatus(transaction_id=transaction_id))
    assert status.ongoing_indicator is True
    busy = await csms.call(cs.identity, call.RequestStartTransaction(id_token=TOKEN, remote_start_id=43, evse_id=1))
    assert busy.status == "Rejected"
    unknown = await csms.call(cs.identity, call.RequestStopTransaction(transaction_id="no-such-transaction"))
    assert unknown.status == "Rejected"

    answer = await csms.call(cs.identity, call.RequestStopTransaction(transaction_id=transaction_id))
    assert answer.status == "Accepted"
    [_, ended] = await csms.wait_for(cs.identity, "TransactionEvent", count=2)
    assert (ended["eventType"], ended["triggerReason"]) == ("Ended", "RemoteStop")
    assert ended["transactionInfo"]["transactionId"] == transaction_id
    assert ended["transactionInfo"]["stoppedReason"] == "Remote"
    assert ended["seqNo"] > started["seqNo"]
    status = await csms.call(cs.identity, call.GetTransactionStatus(transaction_id=transaction_id))
    assert status.ongoing_indicator is False


@pytest.mark.parametrize("kind", ["Immediate", "OnIdle"])
async def test_reset_makes_the_station_reconnect_and_boot_again(
    api: Api, csms: CsmsServer, cs: Charger, kind: str
) -> None:
    first = csms.sessions[cs.identity]
    assert (await csms.call(cs.identity, call.Reset(type=kind))).status == "Accepted"
    await csms.wait_connected(cs.identity, count=2, timeout=RECONNECT)
    assert first.closed.is_set()
    assert first.websocket.close_code == 1000
    [_, again] = await csms.wait_for(cs.identity, "BootNotification", count=2)
    assert again["chargingStation"]["serialNumber"] == cs.identity
    await csms.wait_for(cs.identity, "StatusNotification", count=4)  # every EVSE again
    await api.wait_charger(
        cs.id,
        lambda doc: doc["runtime_status"] == "booted" and doc["connected_at"] is not None,
        what="booted again",
    )


async def test_reset_immediate_ends_a_running_transaction_before_rebooting(csms: CsmsServer, cs: Charger) -> None:
    await csms.call(cs.identity, call.RequestStartTransaction(id_token=TOKEN, remote_start_id=5, evse_id=2))
    [started] = await csms.wait_for(cs.identity, "TransactionEvent")
    assert (await csms.call(cs.identity, call.Reset(type="Immediate"))).status == "Accepted"
    [_, ended] = await csms.wait_for(cs.identity, "TransactionEvent", count=2)
    assert ended["eventType"] == "Ended"
    assert ended["transactionInfo"]["transactionId"] == started["transactionInfo"]["transactionId"]
    assert ended["transactionInfo"]["stoppedReason"] == "ImmediateReset"
    await csms.wait_for(cs.identity, "BootNotification", count=2, timeout=RECONNECT)
    assert csms.connection_count(cs.identity) == 2


@pytest.mark.parametrize(
    "request_",
    [call.GetDisplayMessages(request_id=1), call.CustomerInformation(request_id=2, report=True, clear=False)],
    ids=lambda r: type(r).__name__,
)
async def test_an_action_the_station_does_not_implement_gets_a_call_error_and_the_connection_stays(
    csms: CsmsServer, cs: Charger, request_: object
) -> None:
    with pytest.raises(OCPPError) as refused:
        await csms.call(cs.identity, request_)
    assert refused.value.code in ("NotImplemented", "NotSupported")
    error = answers_from_cp(csms, cs.identity)[-1]
    assert error[0] == 4 and error[2] in ("NotImplemented", "NotSupported")
    assert (await csms.call(cs.identity, call.ClearCache())).status == "Accepted"
    assert csms.connection_count(cs.identity) == 1


async def test_reset_on_idle_during_a_transaction_is_scheduled_and_happens_when_the_transaction_ends(
    csms: CsmsServer, cs: Charger
) -> None:
    await csms.call(cs.identity, call.RequestStartTransaction(id_token=TOKEN, remote_start_id=6, evse_id=1))
    [started] = await csms.wait_for(cs.identity, "TransactionEvent")
    assert (await csms.call(cs.identity, call.Reset(type="OnIdle"))).status == "Scheduled"
    await never(lambda: csms.connection_count(cs.identity) > 1, duration=0.5, what="a reset before the idle moment")

    transaction_id = started["transactionInfo"]["transactionId"]
    await csms.call(cs.identity, call.RequestStopTransaction(transaction_id=transaction_id))
    [_, ended] = await csms.wait_for(cs.identity, "TransactionEvent", count=2)
    assert ended["eventType"] == "Ended"
    await csms.wait_connected(cs.identity, count=2, timeout=RECONNECT)
    await csms.wait_for(cs.identity, "BootNotification", count=2)
