"""OCPP 1.6: what the simulated charge point answers when the CSMS calls it, and what follows on the wire."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from ocpp.exceptions import OCPPError
from ocpp.v16 import call

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
    csms_answer_to,
    csms_calls_after,
    gaps,
)
from tests.file_servers import http_server

CORE_KEYS = {
    "HeartbeatInterval": False,
    "MeterValueSampleInterval": False,
    "MeterValuesSampledData": False,
    "ConnectionTimeOut": False,
    "AuthorizeRemoteTxRequests": False,
    "LocalAuthorizeOffline": False,
    "LocalAuthListEnabled": False,
    "LocalAuthListMaxLength": True,
    "SendLocalListMaxLength": True,
    "NumberOfConnectors": True,
    "ClockAlignedDataInterval": False,
    "StopTransactionOnEVSideDisconnect": False,
    "UnlockConnectorOnEVSideDisconnect": False,
    "ResetRetries": False,
    "WebSocketPingInterval": False,
    "SupportedFeatureProfiles": True,
}
"""Standard keys the spec names, with their read-only flag."""


HEARTBEAT = 5
"""The CSMS's heartbeat interval. Short on purpose: a charger whose stop races with an answer in flight keeps
its session until its next heartbeat (see the report on Station.run_session), which must not stall later tests."""


def later(seconds: int = 3600) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat(timespec="seconds").replace("+00:00", "Z")


@pytest.fixture
async def csms(csms_factory: CsmsFactory) -> CsmsServer:
    """A CSMS with a 5 s heartbeat interval: the wire stays quiet while a test acts (a test takes well under 5 s)."""
    return await csms_factory(heartbeat_interval=HEARTBEAT)


@pytest.fixture
async def cp(api: Api, csms: CsmsServer) -> Charger:
    """A booted OCPP 1.6 charger with two connectors (ABB Terra 184)."""
    return await boot(api, csms, "OCPP1.6", DC)


async def test_get_configuration_reports_the_standard_keys_with_their_read_only_flags(
    csms: CsmsServer, cp: Charger
) -> None:
    everything = await csms.call(cp.identity, call.GetConfiguration())
    keys = {entry["key"]: entry for entry in everything.configuration_key}
    assert {key: keys[key]["readonly"] for key in CORE_KEYS if key in keys} == CORE_KEYS
    assert keys["NumberOfConnectors"]["value"] == "2"
    assert "Core" in keys["SupportedFeatureProfiles"]["value"].split(",")
    assert not everything.unknown_key

    asked = await csms.call(cp.identity, call.GetConfiguration(key=["HeartbeatInterval", "NoSuchKey"]))
    assert asked.configuration_key == [{"key": "HeartbeatInterval", "readonly": False, "value": str(HEARTBEAT)}]
    assert asked.unknown_key == ["NoSuchKey"]


async def test_change_configuration_of_heartbeat_interval_changes_the_heartbeat_period_at_once(
    csms: CsmsServer, cp: Charger
) -> None:
    assert csms.received(cp.identity, "Heartbeat") == []  # 5 s from the boot: none yet
    answer = await csms.call(cp.identity, call.ChangeConfiguration(key="HeartbeatInterval", value="1"))
    assert answer.status == "Accepted"
    changed_at = time.time()

    await csms.wait_for(cp.identity, "Heartbeat", count=3, timeout=5)
    heartbeats = calls_from_cp(csms, cp.identity, "Heartbeat")
    assert heartbeats[0].at - changed_at < 1.6
    assert all(0.7 <= gap <= 1.6 for gap in gaps(heartbeats)), gaps(heartbeats)
    asked = await csms.call(cp.identity, call.GetConfiguration(key=["HeartbeatInterval"]))
    assert asked.configuration_key[0]["value"] == "1"


@pytest.mark.parametrize(
    ("key", "value", "status"),
    [
        ("NumberOfConnectors", "5", "Rejected"),
        ("SupportedFeatureProfiles", "Core", "Rejected"),
        ("HeartbeatInterval", "soon", "Rejected"),
        ("NoSuchKey", "1", "NotSupported"),
    ],
)
async def test_change_configuration_refuses_read_only_unknown_keys_and_invalid_values(
    csms: CsmsServer, cp: Charger, key: str, value: str, status: str
) -> None:
    before = await csms.call(cp.identity, call.GetConfiguration())
    answer = await csms.call(cp.identity, call.ChangeConfiguration(key=key, value=value))
    assert answer.status == status
    after = await csms.call(cp.identity, call.GetConfiguration())
    assert after.configuration_key == before.configuration_key


async def test_clear_cache_is_accepted(csms: CsmsServer, cp: Charger) -> None:
    assert (await csms.call(cp.identity, call.ClearCache())).status == "Accepted"


async def test_send_local_list_sets_the_version_get_local_list_version_reports(csms: CsmsServer, cp: Charger) -> None:
    assert (await csms.call(cp.identity, call.GetLocalListVersion())).list_version == 0
    full = call.SendLocalList(
        list_version=5,
        update_type="Full",
        local_authorization_list=[
            {"id_tag": "TAG-OK", "id_tag_info": {"status": "Accepted"}},
            {"id_tag": "TAG-BLOCKED", "id_tag_info": {"status": "Blocked"}},
        ],
    )
    assert (await csms.call(cp.identity, full)).status == "Accepted"
    assert (await csms.call(cp.identity, call.GetLocalListVersion())).list_version == 5

    stale = call.SendLocalList(list_version=5, update_type="Differential", local_authorization_list=[])
    assert (await csms.call(cp.identity, stale)).status == "VersionMismatch"
    newer = call.SendLocalList(
        list_version=6, update_type="Differential", local_authorization_list=[{"id_tag": "TAG-BLOCKED"}]
    )
    assert (await csms.call(cp.identity, newer)).status == "Accepted"
    assert (await csms.call(cp.identity, call.GetLocalListVersion())).list_version == 6


async def test_unlock_connector_unlocks_a_connector_and_knows_no_connector_3(csms: CsmsServer, cp: Charger) -> None:
    assert (await csms.call(cp.identity, call.UnlockConnector(connector_id=1))).status == "Unlocked"
    assert (await csms.call(cp.identity, call.UnlockConnector(connector_id=3))).status == "NotSupported"


@pytest.mark.parametrize(
    ("requested", "connector_id", "expected"),
    [
        ("StatusNotification", 2, "StatusNotification"),
        ("Heartbeat", None, "Heartbeat"),
        ("MeterValues", 1, "MeterValues"),
        ("BootNotification", None, "BootNotification"),
        ("FirmwareStatusNotification", None, "FirmwareStatusNotification"),
        ("DiagnosticsStatusNotification", None, "DiagnosticsStatusNotification"),
    ],
)
async def test_trigger_message_is_accepted_and_the_message_follows_its_answer(
    csms: CsmsServer, cp: Charger, requested: str, connector_id: int | None, expected: str
) -> None:
    answer = await csms.call(cp.identity, call.TriggerMessage(requested_message=requested, connector_id=connector_id))
    assert answer.status == "Accepted"
    marker = charger_answer_to_last(csms, cp.identity, "TriggerMessage")
    payload, *_ = await csms_calls_after(csms, cp.identity, marker, expected)
    if connector_id is not None and expected != "MeterValues":
        assert payload["connectorId"] == connector_id
    if expected == "MeterValues":
        assert payload["connectorId"] == connector_id
        assert payload["meterValue"][0]["sampledValue"]


async def test_trigger_message_for_a_connector_that_does_not_exist_is_rejected(csms: CsmsServer, cp: Charger) -> None:
    answer = await csms.call(cp.identity, call.TriggerMessage(requested_message="StatusNotification", connector_id=9))
    assert answer.status == "Rejected"


async def test_change_availability_makes_a_connector_unavailable_and_available_again(
    api: Api, csms: CsmsServer, cp: Charger
) -> None:
    answer = await csms.call(cp.identity, call.ChangeAvailability(connector_id=1, type="Inoperative"))
    assert answer.status == "Accepted"
    marker = charger_answer_to_last(csms, cp.identity, "ChangeAvailability")
    [status] = await csms_calls_after(csms, cp.identity, marker, "StatusNotification")
    assert (status["connectorId"], status["status"]) == (1, "Unavailable")
    await api.wait_charger(
        cp.id,
        lambda doc: {c["connector_id"]: c["status"] for c in doc["connectors"]}.get(1) == "Unavailable",
        what="connector 1 Unavailable in the view",
    )

    answer = await csms.call(cp.identity, call.ChangeAvailability(connector_id=1, type="Operative"))
    assert answer.status == "Accepted"
    marker = charger_answer_to_last(csms, cp.identity, "ChangeAvailability")
    [status] = await csms_calls_after(csms, cp.identity, marker, "StatusNotification")
    assert (status["connectorId"], status["status"]) == (1, "Available")


async def test_data_transfer_to_an_unknown_vendor_is_answered_unknown_vendor_id(csms: CsmsServer, cp: Charger) -> None:
    answer = await csms.call(cp.identity, call.DataTransfer(vendor_id="com.example.e2e", message_id="ping", data="x"))
    assert answer.status == "UnknownVendorId"


async def test_reserve_now_reserves_a_connector_and_cancel_reservation_frees_it(csms: CsmsServer, cp: Charger) -> None:
    reserve = call.ReserveNow(connector_id=1, expiry_date=later(), id_tag="TAG-R", reservation_id=7)
    assert (await csms.call(cp.identity, reserve)).status == "Accepted"
    marker = charger_answer_to_last(csms, cp.identity, "ReserveNow")
    [status] = await csms_calls_after(csms, cp.identity, marker, "StatusNotification")
    assert (status["connectorId"], status["status"]) == (1, "Reserved")

    assert (await csms.call(cp.identity, call.CancelReservation(reservation_id=7))).status == "Accepted"
    marker = charger_answer_to_last(csms, cp.identity, "CancelReservation")
    [status] = await csms_calls_after(csms, cp.identity, marker, "StatusNotification")
    assert (status["connectorId"], status["status"]) == (1, "Available")
    assert (await csms.call(cp.identity, call.CancelReservation(reservation_id=7))).status == "Rejected"


async def test_set_charging_profile_is_accepted_and_clear_charging_profile_removes_it(
    csms: CsmsServer, cp: Charger
) -> None:
    profile = {
        "charging_profile_id": 11,
        "stack_level": 0,
        "charging_profile_purpose": "TxDefaultProfile",
        "charging_profile_kind": "Relative",
        "charging_schedule": {
            "charging_rate_unit": "W",
            "charging_schedule_period": [{"start_period": 0, "limit": 11000.0}],
        },
    }
    answer = await csms.call(cp.identity, call.SetChargingProfile(connector_id=1, cs_charging_profiles=profile))
    assert answer.status == "Accepted"
    assert (await csms.call(cp.identity, call.ClearChargingProfile(id=11))).status == "Accepted"
    assert (await csms.call(cp.identity, call.ClearChargingProfile(id=11))).status == "Unknown"


async def test_get_composite_schedule_answers_a_schedule_for_the_connector(csms: CsmsServer, cp: Charger) -> None:
    answer = await csms.call(
        cp.identity, call.GetCompositeSchedule(connector_id=1, duration=3600, charging_rate_unit="W")
    )
    assert answer.status == "Accepted"
    assert answer.connector_id == 1
    assert answer.charging_schedule["duration"] == 3600
    assert answer.charging_schedule["charging_rate_unit"] == "W"
    assert answer.charging_schedule["charging_schedule_period"][0]["start_period"] == 0


async def test_get_diagnostics_names_a_file_and_uploads_it(csms: CsmsServer, cp: Charger) -> None:
    with http_server() as server:
        answer = await csms.call(cp.identity, call.GetDiagnostics(location=server.url("/diagnostics/"), retries=0))
        assert answer.file_name == f"diagnostics-{cp.identity}.log"
        marker = charger_answer_to_last(csms, cp.identity, "GetDiagnostics")
        notifications = await csms_calls_after(csms, cp.identity, marker, "DiagnosticsStatusNotification", count=2)
    assert [n["status"] for n in notifications] == ["Uploading", "Uploaded"]
    [upload] = server.received("PUT")
    assert upload.path == f"/diagnostics/{answer.file_name}"
    assert b'"BootNotification"' in upload.body


async def test_update_firmware_downloads_installs_and_reboots(csms: CsmsServer, cp: Charger) -> None:
    with http_server({"/fw/terra-2.0.bin": b"firmware image"}) as server:
        request = call.UpdateFirmware(location=server.url("/fw/terra-2.0.bin"), retrieve_date=later(0), retries=0)
        await csms.call(cp.identity, request)
        marker = charger_answer_to_last(csms, cp.identity, "UpdateFirmware")
        notifications = await csms_calls_after(csms, cp.identity, marker, "FirmwareStatusNotification", count=4)
    assert [n["status"] for n in notifications] == ["Downloading", "Downloaded", "Installing", "Installed"]
    assert [r.path for r in server.received("GET")] == ["/fw/terra-2.0.bin"]
    boots = await csms.wait_for(cp.identity, "BootNotification", count=2, timeout=RECONNECT + 2)
    assert boots[-1]["firmwareVersion"] == "terra-2.0"


async def test_remote_start_and_remote_stop_transaction_reach_the_csms_as_start_and_stop_transaction(
    api: Api, csms: CsmsServer, cp: Charger
) -> None:
    answer = await csms.call(cp.identity, call.RemoteStartTransaction(id_tag="TAG-REMOTE", connector_id=1))
    assert answer.status == "Accepted"
    [start] = await csms.wait_for(cp.identity, "StartTransaction")
    assert (start["connectorId"], start["idTag"]) == (1, "TAG-REMOTE")
    transaction_id = csms_answer_to(csms, cp.identity, calls_from_cp(csms, cp.identity, "StartTransaction")[0])[2][
        "transactionId"
    ]
    marker = charger_answer_to_last(csms, cp.identity, "RemoteStartTransaction")
    statuses = await csms_calls_after(csms, cp.identity, marker, "StatusNotification", count=2)
    assert [(s["connectorId"], s["status"]) for s in statuses] == [(1, "Preparing"), (1, "Charging")]
    await api.wait_charger(
        cp.id,
        lambda doc: {c["connector_id"]: c["status"] for c in doc["connectors"]}.get(1) == "Charging",
        what="connector 1 Charging in the view",
    )

    unknown = await csms.call(cp.identity, call.RemoteStopTransaction(transaction_id=transaction_id + 1000))
    assert unknown.status == "Rejected"
    answer = await csms.call(cp.identity, call.RemoteStopTransaction(transaction_id=transaction_id))
    assert answer.status == "Accepted"
    [stop] = await csms.wait_for(cp.identity, "StopTransaction")
    assert (stop["transactionId"], stop["reason"], stop["idTag"]) == (transaction_id, "Remote", "TAG-REMOTE")
    assert stop["meterStop"] >= start["meterStart"]
    marker = charger_answer_to_last(csms, cp.identity, "RemoteStopTransaction")
    [status] = await csms_calls_after(csms, cp.identity, marker, "StatusNotification")
    assert (status["connectorId"], status["status"]) == (1, "Finishing")


@pytest.mark.parametrize("kind", ["Soft", "Hard"])
async def test_reset_ends_a_running_transaction_then_the_charger_reconnects_and_boots_again(
    api: Api, csms: CsmsServer, cp: Charger, kind: str
) -> None:
    await csms.call(cp.identity, call.RemoteStartTransaction(id_tag="TAG-RESET", connector_id=2))
    [start] = await csms.wait_for(cp.identity, "StartTransaction")
    transaction_id = csms_answer_to(csms, cp.identity, calls_from_cp(csms, cp.identity, "StartTransaction")[0])[2][
        "transactionId"
    ]
    await csms.wait_for(cp.identity, "StatusNotification", count=5)  # 3 at boot, then Preparing, Charging
    first = csms.sessions[cp.identity]

    assert (await csms.call(cp.identity, call.Reset(type=kind))).status == "Accepted"
    [stop] = await csms.wait_for(cp.identity, "StopTransaction")
    assert (stop["transactionId"], stop["reason"]) == (transaction_id, f"{kind}Reset")
    await csms.wait_connected(cp.identity, count=2, timeout=RECONNECT)
    assert first.closed.is_set()
    assert first.websocket.close_code == 1000
    await csms.wait_for(cp.identity, "BootNotification", count=2)
    assert csms.connection_count(cp.identity) == 2
    await api.wait_charger(
        cp.id,
        lambda doc: doc["runtime_status"] == "booted" and doc["connected_at"] is not None,
        what="booted again",
    )
    assert start["connectorId"] == 2


@pytest.mark.parametrize(
    "request_",
    [
        call.GetInstalledCertificateIds(certificate_type="CentralSystemRootCertificate"),
        call.ExtendedTriggerMessage(requested_message="Heartbeat"),
    ],
    ids=lambda r: type(r).__name__,
)
async def test_an_action_the_station_does_not_implement_gets_a_call_error_and_the_connection_stays(
    csms: CsmsServer, cp: Charger, request_: object
) -> None:
    with pytest.raises(OCPPError) as refused:
        await csms.call(cp.identity, request_)
    assert refused.value.code in ("NotImplemented", "NotSupported")
    error = answers_from_cp(csms, cp.identity)[-1]
    assert error[0] == 4 and error[2] in ("NotImplemented", "NotSupported")
    assert (await csms.call(cp.identity, call.ClearCache())).status == "Accepted"
    assert csms.connection_count(cp.identity) == 1
