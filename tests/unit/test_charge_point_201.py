"""The OCPP 2.0.1 charging station, driven through a fake connection: the exact frames it puts on the wire."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any
from unittest.mock import ANY
from uuid import uuid4

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from ocpp.charge_point import snake_to_camel_case

from domain.configuration import DeviceModel201
from domain.runtime import ChargerRuntime
from simulator.station import ChargerSpec
from simulator.v201 import ChargePoint201
from tests.file_servers import dead_url, http_server
from tests.unit.test_transfers import signed

MODEL = {
    "brand_name": "ABB",
    "model_name": "Terra AC Wallbox 22 kW",
    "connector_count": 2,
    "max_power_w": 22000,
    "firmware_version": "1.8.21",
    "current_type": "ac",
    "connector_types": ["Type2"],
}
CLOCK = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
NOW = "2025-01-02T03:04:05.000Z"
FUTURE = "2099-01-02T03:04:05.000Z"


class FakeWebsocket:
    def __init__(self) -> None:
        self.closed: tuple[int, str] | None = None

    async def close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)


class FakeConnection:
    """What the ocpp library needs of a connection: async send and recv (here two queues)."""

    def __init__(self) -> None:
        self.inbox: asyncio.Queue[str] = asyncio.Queue()
        self.outbox: asyncio.Queue[str] = asyncio.Queue()
        self.websocket = FakeWebsocket()

    async def send(self, text: str) -> None:
        await self.outbox.put(text)

    async def recv(self) -> str:
        return await self.inbox.get()


class FakeRecorder:
    def __init__(self) -> None:
        self.events: list[Any] = []
        self.frames: list[Any] = []

    def observe(self, runtime: ChargerRuntime) -> None:
        self.events.extend(runtime.collect_events())

    def add_frame(self, frame: Any) -> None:
        self.frames.append(frame)


class Csms:
    """The CSMS side of the fake connection."""

    def __init__(self, connection: FakeConnection) -> None:
        self.connection = connection

    async def call(self, action: str, payload: dict[str, Any], unique_id: str = "1") -> None:
        await self.connection.inbox.put(json.dumps([2, unique_id, action, payload]))

    async def answer(self, frame: list[Any], payload: dict[str, Any]) -> None:
        await self.connection.inbox.put(json.dumps([3, frame[1], payload]))

    async def next_frame(self, timeout: float = 2) -> list[Any]:
        return json.loads(await asyncio.wait_for(self.connection.outbox.get(), timeout))

    async def ask(self, action: str, payload: dict[str, Any], unique_id: str = "1") -> list[Any]:
        """Sends a CALL and returns the station's next frame (its CallResult, when it behaves)."""
        await self.call(action, payload, unique_id)
        return await self.next_frame()

    async def expect_call(self, action: str, payload: dict[str, Any], answer: dict[str, Any] | None = None) -> list:
        """The station's next frame is this CALL; it gets `answer` (or {})."""
        frame = await self.next_frame()
        assert frame == [2, ANY, action, payload]
        await self.answer(frame, {} if answer is None else answer)
        return frame

    async def expect_calls(self, expected: list[tuple[str, Any]], unordered: str) -> list[list[Any]]:
        """The station's next CALLs are `expected` ((action, payload), in order) with CALLs of `unordered` among
        them wherever they come (answered and returned), until every expected one came and one of `unordered`."""
        others: list[list[Any]] = []
        while expected or not others:
            frame = await self.next_frame()
            await self.answer(frame, {})
            if frame[2] == unordered:
                others.append(frame)
                continue
            action, payload = expected.pop(0)
            assert frame == [2, ANY, action, payload]
        return others

    def silent(self) -> bool:
        return self.connection.outbox.empty()


def build(connection: FakeConnection) -> tuple[ChargePoint201, ChargerRuntime, FakeRecorder]:
    spec = ChargerSpec(
        charger_id=uuid4(),
        tenant_id="t",
        identity="CP-201",
        ws_url="ws://csms/ocpp",
        ocpp_version="OCPP2.0.1",
        model=MODEL,
    )
    runtime = ChargerRuntime(tenant_id="t", charger_id=spec.charger_id)
    runtime.collect_events()
    recorder = FakeRecorder()
    device_model = DeviceModel201(MODEL, spec.identity, runtime.configuration, clock=lambda: CLOCK)
    station = ChargePoint201(spec.identity, connection, device_model)
    ids = itertools.count(1)
    station._unique_id_generator = lambda: f"cp-{next(ids)}"
    station.setup_station(spec, runtime, recorder)
    return station, runtime, recorder


async def stop(*tasks: asyncio.Task) -> None:
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task


@pytest.fixture
async def wire() -> AsyncIterator[tuple[ChargePoint201, Csms, ChargerRuntime]]:
    """A running station on an accepted connection that receives CSMS calls (its boot is taken as done: the tests
    drive what it sends)."""
    connection = FakeConnection()
    station, runtime, _ = build(connection)
    station.booted = station.ready = True
    station.start_station()
    receiving = asyncio.create_task(station.start())
    yield station, Csms(connection), runtime
    await stop(receiving, *station._background)


def status(evse_id: int, connector_status: str) -> dict[str, Any]:
    return {"timestamp": ANY, "connectorStatus": connector_status, "evseId": evse_id, "connectorId": 1}


def variable(component: str, name: str, **fields: Any) -> dict[str, Any]:
    return {"component": {"name": component}, "variable": {"name": name}, **fields}


# -- boot and status ------------------------------------------------------------------------------------


async def test_boot_then_status_of_every_evse_then_heartbeat_interval_adopted():
    connection = FakeConnection()
    station, runtime, recorder = build(connection)
    csms = Csms(connection)
    session = asyncio.create_task(station.run_session())
    try:
        await csms.expect_call(
            "BootNotification",
            {
                "chargingStation": {
                    "model": "Terra AC Wallbox 22 ",
                    "vendorName": "ABB",
                    "serialNumber": "CP-201",
                    "firmwareVersion": "1.8.21",
                },
                "reason": "PowerUp",
            },
            {"currentTime": NOW, "interval": 300, "status": "Accepted"},
        )
        await csms.expect_call("StatusNotification", status(1, "Available"))
        await csms.expect_call("StatusNotification", status(2, "Available"))
        await asyncio.sleep(0.05)
        assert csms.silent()  # the next frame is a Heartbeat in 300 s
        assert station.booted and station.ready
    finally:
        await stop(session)
    assert not station.booted  # a boot belongs to its connection
    assert station.heartbeat_interval == 300
    assert station.configuration.value("OCPPCommCtrlr.HeartbeatInterval") == "300"
    assert runtime.status == "booted" and runtime.heartbeat_interval == 300
    assert set(runtime.connectors) == {"1/1", "2/1"}
    assert [type(e).__name__ for e in recorder.events] == [
        "BootAnswered",
        "ConfigurationChanged",  # the adopted interval is what GET /configuration reads
        "ConnectorStatusChanged",
        "ConnectorStatusChanged",
    ]


async def test_triggered_boot_while_not_accepted_says_triggered(wire):
    station, csms, _ = wire
    station.booted = station.ready = False
    assert await csms.ask("TriggerMessage", {"requestedMessage": "BootNotification"}) == [
        3,
        "1",
        {"status": "Accepted"},
    ]
    await csms.expect_call(
        "BootNotification",
        {"chargingStation": ANY, "reason": "Triggered"},
        {"currentTime": NOW, "interval": 60, "status": "Pending"},
    )
    station.booted = True
    assert await csms.ask("TriggerMessage", {"requestedMessage": "BootNotification"}, "2") == [
        3,
        "2",
        {"status": "Rejected"},
    ]


# -- device model -----------------------------------------------------------------------------------------


async def test_set_variables_answers_each_item_and_applies_the_heartbeat_at_once(wire):
    station, csms, runtime = wire
    heartbeat = variable("OCPPCommCtrlr", "HeartbeatInterval")
    items = [
        {**heartbeat, "attributeValue": "30"},
        {**heartbeat, "attributeValue": "abc"},
        {**variable("DeviceDataCtrlr", "ItemsPerMessage"), "attributeValue": "5"},
        {**variable("NoSuchCtrlr", "HeartbeatInterval"), "attributeValue": "1"},
        {**variable("OCPPCommCtrlr", "NoSuchVariable"), "attributeValue": "1"},
        {**heartbeat, "attributeValue": "40", "attributeType": "Target"},
    ]
    assert await csms.ask("SetVariables", {"setVariableData": items}) == [
        3,
        "1",
        {
            "setVariableResult": [
                {**heartbeat, "attributeStatus": "Accepted"},
                {**heartbeat, "attributeStatus": "Rejected"},
                {**variable("DeviceDataCtrlr", "ItemsPerMessage"), "attributeStatus": "Rejected"},
                {**variable("NoSuchCtrlr", "HeartbeatInterval"), "attributeStatus": "UnknownComponent"},
                {**variable("OCPPCommCtrlr", "NoSuchVariable"), "attributeStatus": "UnknownVariable"},
                {**heartbeat, "attributeStatus": "NotSupportedAttributeType", "attributeType": "Target"},
            ]
        },
    ]
    assert station.heartbeat_interval == 30
    assert runtime.configuration == {"OCPPCommCtrlr.HeartbeatInterval": "30"}


async def test_set_variables_names_are_case_insensitive_and_persisted_canonically(wire):
    station, csms, runtime = wire
    item = {**variable("ocppcommctrlr", "heartbeatinterval"), "attributeValue": " 45"}
    assert await csms.ask("SetVariables", {"setVariableData": [item]}) == [
        3,
        "1",
        {"setVariableResult": [{**variable("ocppcommctrlr", "heartbeatinterval"), "attributeStatus": "Accepted"}]},
    ]
    assert station.heartbeat_interval == 45
    assert runtime.configuration == {"OCPPCommCtrlr.HeartbeatInterval": "45"}


async def test_get_variables_reads_the_device_model(wire):
    _, csms, _ = wire
    heartbeat = variable("OCPPCommCtrlr", "HeartbeatInterval")
    items = [
        heartbeat,
        variable("ChargingStation", "SerialNumber"),
        variable("NoSuchCtrlr", "X"),
        {**heartbeat, "attributeType": "MaxSet"},
    ]
    assert await csms.ask("GetVariables", {"getVariableData": items}) == [
        3,
        "1",
        {
            "getVariableResult": [
                {**items[0], "attributeStatus": "Accepted", "attributeValue": "60"},
                {**items[1], "attributeStatus": "Accepted", "attributeValue": "CP-201"},
                {**items[2], "attributeStatus": "UnknownComponent"},
                {**items[3], "attributeStatus": "NotSupportedAttributeType"},
            ]
        },
    ]


async def test_get_base_report_is_accepted_then_notify_report_follows(wire):
    station, csms, _ = wire
    assert await csms.ask("GetBaseReport", {"requestId": 7, "reportBase": "FullInventory"}) == [
        3,
        "1",
        {"status": "Accepted"},
    ]
    report = snake_to_camel_case(station.configuration.report(["FullInventory"]))
    await csms.expect_call(
        "NotifyReport", {"requestId": 7, "generatedAt": ANY, "seqNo": 0, "reportData": report, "tbc": False}
    )


async def test_a_long_report_is_split_by_items_per_message(wire, monkeypatch):
    station, csms, _ = wire
    monkeypatch.setattr(station.configuration, "int_value", lambda key, default: 16)
    report = snake_to_camel_case(station.configuration.report(["FullInventory"]))
    assert 32 < len(report) <= 48
    await csms.ask("GetBaseReport", {"requestId": 8, "reportBase": "FullInventory"})
    for seq_no, chunk in enumerate((report[:16], report[16:32], report[32:])):
        await csms.expect_call(
            "NotifyReport",
            {"requestId": 8, "generatedAt": ANY, "seqNo": seq_no, "reportData": chunk, "tbc": seq_no < 2},
        )


async def test_summary_inventory_reports_the_availability_state(wire):
    _, csms, _ = wire
    await csms.ask("GetBaseReport", {"requestId": 9, "reportBase": "SummaryInventory"})
    frame = await csms.expect_call("NotifyReport", ANY)
    assert [(d["component"]["name"], d["variable"]["name"]) for d in frame[3]["reportData"]] == [
        ("ChargingStation", "AvailabilityState")
    ]


# -- authorization ----------------------------------------------------------------------------------------


async def test_get_local_list_version_after_send_local_list(wire):
    _, csms, runtime = wire
    entries = [
        {"idToken": {"idToken": "TAG1", "type": "ISO14443"}, "idTokenInfo": {"status": "Accepted"}},
        {
            "idToken": {"idToken": "TAG2", "type": "ISO14443"},
            "idTokenInfo": {
                "status": "Blocked",
                "cacheExpiryDateTime": NOW,
                "groupIdToken": {"idToken": "G", "type": "Local"},
            },
        },
    ]
    assert await csms.ask(
        "SendLocalList", {"versionNumber": 3, "updateType": "Full", "localAuthorizationList": entries}
    ) == [3, "1", {"status": "Accepted"}]
    assert await csms.ask("GetLocalListVersion", {}, "2") == [3, "2", {"versionNumber": 3}]
    assert await csms.ask("SendLocalList", {"versionNumber": 3, "updateType": "Differential"}, "3") == [
        3,
        "3",
        {"status": "VersionMismatch"},
    ]
    removal = [{"idToken": {"idToken": "TAG1", "type": "ISO14443"}}]
    assert await csms.ask(
        "SendLocalList", {"versionNumber": 4, "updateType": "Differential", "localAuthorizationList": removal}, "4"
    ) == [3, "4", {"status": "Accepted"}]
    assert runtime.local_list == {
        "version": 4,
        "entries": [
            {"id_tag": "TAG2", "type": "ISO14443", "status": "Blocked", "expiry_date": NOW, "parent_id_tag": "G"}
        ],
    }


async def test_clear_cache_is_accepted(wire):
    _, csms, _ = wire
    assert await csms.ask("ClearCache", {}) == [3, "1", {"status": "Accepted"}]


# -- transactions -----------------------------------------------------------------------------------------


async def test_remote_start_then_remote_stop(wire):
    station, csms, _ = wire
    assert await csms.ask(
        "RequestStartTransaction", {"idToken": {"idToken": "TAG1", "type": "ISO14443"}, "remoteStartId": 5, "evseId": 2}
    ) == [3, "1", {"status": "Accepted"}]
    await csms.expect_call("StatusNotification", status(2, "Occupied"))
    started = await csms.expect_call(
        "TransactionEvent",
        {
            "eventType": "Started",
            "timestamp": ANY,
            "triggerReason": "RemoteStart",
            "seqNo": 0,
            "transactionInfo": {"transactionId": ANY, "chargingState": "Charging", "remoteStartId": 5},
            "meterValue": [
                {
                    "timestamp": ANY,
                    "sampledValue": [
                        {
                            "value": 0,
                            "context": "Transaction.Begin",
                            "measurand": "Energy.Active.Import.Register",
                            "unitOfMeasure": {"unit": "Wh"},
                        }
                    ],
                }
            ],
            "evse": {"id": 2, "connectorId": 1},
            "idToken": {"idToken": "TAG1", "type": "ISO14443"},
        },
        {"idTokenInfo": {"status": "Accepted"}},
    )
    transaction_id = started[3]["transactionInfo"]["transactionId"]
    await asyncio.sleep(0.05)
    assert station.connectors[(2, 1)].transaction_id == transaction_id

    assert await csms.ask("GetTransactionStatus", {"transactionId": transaction_id}, "2") == [
        3,
        "2",
        {"messagesInQueue": False, "ongoingIndicator": True},
    ]
    assert await csms.ask("UnlockConnector", {"evseId": 2, "connectorId": 1}, "3") == [
        3,
        "3",
        {"status": "OngoingAuthorizedTransaction"},
    ]
    assert await csms.ask(
        "RequestStartTransaction",
        {"idToken": {"idToken": "TAG2", "type": "ISO14443"}, "remoteStartId": 6, "evseId": 2},
        "4",
    ) == [3, "4", {"status": "Rejected"}]

    assert await csms.ask("RequestStopTransaction", {"transactionId": transaction_id}, "5") == [
        3,
        "5",
        {"status": "Accepted"},
    ]
    await csms.expect_call(
        "TransactionEvent",
        {
            "eventType": "Ended",
            "timestamp": ANY,
            "triggerReason": "RemoteStop",
            "seqNo": 1,
            "transactionInfo": {"transactionId": transaction_id, "chargingState": "Idle", "stoppedReason": "Remote"},
            "meterValue": ANY,
            "evse": {"id": 2, "connectorId": 1},
        },
    )
    await csms.expect_call("StatusNotification", status(2, "Available"))
    assert await csms.ask("GetTransactionStatus", {"transactionId": transaction_id}, "6") == [
        3,
        "6",
        {"messagesInQueue": False, "ongoingIndicator": False},
    ]
    assert await csms.ask("RequestStopTransaction", {"transactionId": transaction_id}, "7") == [
        3,
        "7",
        {"status": "Rejected"},
    ]


async def test_a_second_remote_start_for_the_same_evse_is_rejected_before_the_first_starts(wire):
    _, csms, _ = wire
    request = {"idToken": {"idToken": "TAG1", "type": "ISO14443"}, "remoteStartId": 1, "evseId": 1}
    await csms.call("RequestStartTransaction", request, "1")
    await csms.call("RequestStartTransaction", {**request, "remoteStartId": 2}, "2")
    frames = [await csms.next_frame() for _ in range(3)]
    results = [frame for frame in frames if frame[0] == 3]
    assert results == [[3, "1", {"status": "Accepted"}], [3, "2", {"status": "Rejected"}]]


async def test_rejected_id_token_ends_the_transaction_deauthorized(wire):
    station, csms, _ = wire
    await csms.ask("RequestStartTransaction", {"idToken": {"idToken": "BAD", "type": "ISO14443"}, "remoteStartId": 1})
    await csms.expect_call("StatusNotification", status(1, "Occupied"))
    started = await csms.expect_call("TransactionEvent", ANY, {"idTokenInfo": {"status": "Invalid"}})
    await csms.expect_call(
        "TransactionEvent",
        {
            "eventType": "Ended",
            "timestamp": ANY,
            "triggerReason": "Deauthorized",
            "seqNo": 1,
            "transactionInfo": {
                "transactionId": started[3]["transactionInfo"]["transactionId"],
                "chargingState": "Idle",
                "stoppedReason": "DeAuthorized",
            },
            "meterValue": ANY,
            "evse": {"id": 1, "connectorId": 1},
        },
    )
    await csms.expect_call("StatusNotification", status(1, "Available"))
    assert station.connectors[(1, 1)].transaction_id is None


async def test_local_start_is_authorized_and_change_availability_waits_for_its_end(wire):
    station, csms, _ = wire
    starting = asyncio.create_task(station.start_transaction(station.connectors[(1, 1)], "TAG1"))
    await csms.expect_call("StatusNotification", status(1, "Occupied"))
    started = await csms.expect_call("TransactionEvent", ANY, {})  # no idTokenInfo: nothing against it
    assert started[3]["triggerReason"] == "Authorized" and "remoteStartId" not in started[3]["transactionInfo"]
    assert await starting

    assert await csms.ask("ChangeAvailability", {"operationalStatus": "Inoperative"}) == [
        3,
        "1",
        {"status": "Scheduled"},
    ]
    await csms.expect_call("StatusNotification", status(2, "Unavailable"))
    assert await csms.ask("Reset", {"type": "OnIdle"}, "2") == [3, "2", {"status": "Scheduled"}]

    stopping = asyncio.create_task(station.local_unlock(station.connectors[(1, 1)]))
    ended = await csms.expect_call("TransactionEvent", ANY)
    assert (ended[3]["triggerReason"], ended[3]["transactionInfo"]["stoppedReason"]) == ("UnlockCommand", "Other")
    await csms.expect_call("StatusNotification", status(1, "Unavailable"))
    await stopping
    await asyncio.sleep(0.1)
    assert station.close_requested == "reset" and station._connection.websocket.closed == (1000, "reset")


async def test_immediate_reset_closes_the_connection(wire):
    station, csms, _ = wire
    assert await csms.ask("Reset", {"type": "Immediate"}) == [3, "1", {"status": "Accepted"}]
    assert await csms.ask("Reset", {"type": "Immediate", "evseId": 1}, "2") == [3, "2", {"status": "Rejected"}]
    await asyncio.sleep(0.1)
    assert station.close_requested == "reset" and station._connection.websocket.closed == (1000, "reset")


# -- availability, reservations, connectors ---------------------------------------------------------------


async def test_unlock_connector_unknown_and_known(wire):
    _, csms, _ = wire
    assert await csms.ask("UnlockConnector", {"evseId": 9, "connectorId": 1}) == [
        3,
        "1",
        {"status": "UnknownConnector"},
    ]
    assert await csms.ask("UnlockConnector", {"evseId": 1, "connectorId": 1}, "2") == [3, "2", {"status": "Unlocked"}]


async def test_change_availability_of_one_evse_and_back(wire):
    _, csms, _ = wire
    assert await csms.ask("ChangeAvailability", {"operationalStatus": "Inoperative", "evse": {"id": 2}}) == [
        3,
        "1",
        {"status": "Accepted"},
    ]
    await csms.expect_call("StatusNotification", status(2, "Unavailable"))
    assert await csms.ask("ChangeAvailability", {"operationalStatus": "Operative"}, "2") == [
        3,
        "2",
        {"status": "Accepted"},
    ]
    await csms.expect_call("StatusNotification", status(2, "Available"))
    assert await csms.ask("ChangeAvailability", {"operationalStatus": "Operative", "evse": {"id": 9}}, "3") == [
        3,
        "3",
        {"status": "Rejected"},
    ]


async def test_reserve_now_and_cancel_reservation(wire):
    station, csms, _ = wire
    reservation = {"id": 11, "expiryDateTime": FUTURE, "idToken": {"idToken": "TAG1", "type": "ISO14443"}, "evseId": 2}
    assert await csms.ask("ReserveNow", {**reservation, "expiryDateTime": NOW}, "0") == [3, "0", {"status": "Rejected"}]
    assert await csms.ask("ReserveNow", reservation) == [3, "1", {"status": "Accepted"}]
    await csms.expect_call("StatusNotification", status(2, "Reserved"))
    assert await csms.ask(
        "RequestStartTransaction",
        {"idToken": {"idToken": "OTHER", "type": "ISO14443"}, "remoteStartId": 1, "evseId": 2},
        "2",
    ) == [3, "2", {"status": "Rejected"}]
    assert await csms.ask("ReserveNow", {**reservation, "id": 12}, "3") == [3, "3", {"status": "Occupied"}]
    assert await csms.ask("CancelReservation", {"reservationId": 11}, "4") == [3, "4", {"status": "Accepted"}]
    await csms.expect_call("StatusNotification", status(2, "Available"))
    await csms.expect_call("ReservationStatusUpdate", {"reservationId": 11, "reservationUpdateStatus": "Removed"})
    assert await csms.ask("CancelReservation", {"reservationId": 11}, "5") == [3, "5", {"status": "Rejected"}]
    assert station.connectors[(2, 1)].reservation_id is None


# -- remote trigger ---------------------------------------------------------------------------------------


async def test_trigger_heartbeat_sends_the_heartbeat_after_the_call_result(wire):
    _, csms, _ = wire
    assert await csms.ask("TriggerMessage", {"requestedMessage": "Heartbeat"}) == [3, "1", {"status": "Accepted"}]
    assert await csms.next_frame() == [2, "cp-1", "Heartbeat", {}]


async def test_trigger_status_meter_values_and_idle_notifications(wire):
    _, csms, _ = wire
    await csms.ask("TriggerMessage", {"requestedMessage": "StatusNotification", "evse": {"id": 2, "connectorId": 1}})
    await csms.expect_call("StatusNotification", status(2, "Available"))
    await csms.ask("TriggerMessage", {"requestedMessage": "MeterValues", "evse": {"id": 1}}, "2")
    await csms.expect_call(
        "MeterValues",
        {
            "evseId": 1,
            "meterValue": [
                {
                    "timestamp": ANY,
                    "sampledValue": [
                        {
                            "value": 0,
                            "context": "Trigger",
                            "measurand": "Energy.Active.Import.Register",
                            "unitOfMeasure": {"unit": "Wh"},
                        }
                    ],
                }
            ],
        },
    )
    await csms.ask("TriggerMessage", {"requestedMessage": "FirmwareStatusNotification"}, "3")
    await csms.expect_call("FirmwareStatusNotification", {"status": "Idle"})
    await csms.ask("TriggerMessage", {"requestedMessage": "LogStatusNotification"}, "4")
    await csms.expect_call("LogStatusNotification", {"status": "Idle"})


async def test_trigger_of_unsupported_or_unknown_targets(wire):
    _, csms, _ = wire
    assert await csms.ask("TriggerMessage", {"requestedMessage": "SignV2GCertificate"}) == [
        3,
        "1",
        {"status": "NotImplemented"},
    ]
    assert await csms.ask("TriggerMessage", {"requestedMessage": "Heartbeat", "evse": {"id": 9}}, "2") == [
        3,
        "2",
        {"status": "Rejected"},
    ]
    await asyncio.sleep(0.05)
    assert csms.silent()


# -- smart charging ---------------------------------------------------------------------------------------


async def test_charging_profiles_are_kept_and_cleared(wire):
    station, csms, _ = wire
    profile = {
        "id": 3,
        "stackLevel": 1,
        "chargingProfilePurpose": "TxDefaultProfile",
        "chargingProfileKind": "Absolute",
        "chargingSchedule": [
            {"id": 1, "chargingRateUnit": "W", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 11000}]}
        ],
    }
    assert await csms.ask("SetChargingProfile", {"evseId": 1, "chargingProfile": profile}) == [
        3,
        "1",
        {"status": "Accepted"},
    ]
    assert await csms.ask("SetChargingProfile", {"evseId": 9, "chargingProfile": profile}, "2") == [
        3,
        "2",
        {"status": "Rejected", "statusInfo": {"reasonCode": "InvalidProfile", "additionalInfo": "no connector 9"}},
    ]
    assert set(station.charging.profiles) == {3}
    assert await csms.ask("ClearChargingProfile", {"chargingProfileCriteria": {"evseId": 2}}, "3") == [
        3,
        "3",
        {"status": "Unknown"},
    ]
    assert await csms.ask("ClearChargingProfile", {"chargingProfileId": 3}, "4") == [3, "4", {"status": "Accepted"}]
    assert station.charging.profiles == {}


async def test_composite_schedule_at_the_model_power(wire):
    _, csms, _ = wire
    assert await csms.ask("GetCompositeSchedule", {"duration": 3600, "evseId": 1}) == [
        3,
        "1",
        {
            "status": "Accepted",
            "schedule": {
                "evseId": 1,
                "duration": 3600,
                "scheduleStart": ANY,
                "chargingRateUnit": "W",
                "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 22000.0}],
            },
        },
    ]
    frame = await csms.ask("GetCompositeSchedule", {"duration": 60, "evseId": 0, "chargingRateUnit": "A"}, "2")
    assert frame[2]["schedule"]["chargingSchedulePeriod"] == [{"startPeriod": 0, "limit": 31.9, "numberPhases": 3}]
    assert await csms.ask("GetCompositeSchedule", {"duration": 60, "evseId": 9}, "3") == [
        3,
        "3",
        {"status": "Rejected"},
    ]


# -- firmware, diagnostics, the rest ----------------------------------------------------------------------


async def test_update_firmware_downloads_installs_and_reboots(wire):
    station, csms, runtime = wire
    with http_server({"/fw/terra-1.9.bin": b"image"}) as server:
        location = server.url("/fw/terra-1.9.bin")
        request = {"requestId": 4, "retries": 0, "firmware": {"location": location, "retrieveDateTime": NOW}}
        assert await csms.ask("UpdateFirmware", request) == [3, "1", {"status": "Accepted"}]
        for step in ("Downloading", "Downloaded", "Installing", "InstallRebooting"):
            await csms.expect_call("FirmwareStatusNotification", {"status": step, "requestId": 4})
    assert [r.path for r in server.received("GET")] == ["/fw/terra-1.9.bin"]
    assert runtime.firmware == {
        "version": "terra-1.9",
        "location": location,
        "request_id": 4,
        "report_after_boot": True,
    }
    await asyncio.sleep(0.2)
    assert station.close_requested == "reset"
    assert station._connection.websocket.closed == (1000, "reset")
    assert station.firmware_version() == "terra-1.9"


async def test_a_firmware_update_under_way_is_replaced_by_the_next(wire):
    _, csms, _ = wire
    later = "2099-01-01T00:00:00Z"
    firmware = {"location": "http://127.0.0.1:9/a.bin", "retrieveDateTime": later}
    assert await csms.ask("UpdateFirmware", {"requestId": 1, "firmware": firmware}) == [3, "1", {"status": "Accepted"}]
    await csms.expect_call("FirmwareStatusNotification", {"status": "DownloadScheduled", "requestId": 1})
    assert await csms.ask("UpdateFirmware", {"requestId": 2, "firmware": firmware}, "2") == [
        3,
        "2",
        {"status": "AcceptedCanceled"},
    ]
    await csms.expect_call("FirmwareStatusNotification", {"status": "DownloadScheduled", "requestId": 2})
    await csms.ask("TriggerMessage", {"requestedMessage": "FirmwareStatusNotification"}, "3")
    await csms.expect_call("FirmwareStatusNotification", {"status": "DownloadScheduled", "requestId": 2})


async def test_a_signed_firmware_is_verified_before_it_is_installed(wire):
    _, csms, runtime = wire
    key = ec.generate_private_key(ec.SECP256R1())
    signature, certificate = signed(b"image", key)
    bad_signature, _ = signed(b"another image", key)
    with http_server({"/fw/signed-2.0.bin": b"image"}) as server:
        firmware = {
            "location": server.url("/fw/signed-2.0.bin"),
            "retrieveDateTime": NOW,
            "signingCertificate": certificate,
            "signature": bad_signature,
        }
        assert await csms.ask("UpdateFirmware", {"requestId": 5, "retries": 0, "firmware": firmware}) == [
            3,
            "1",
            {"status": "Accepted"},
        ]
        statuses = [
            ("FirmwareStatusNotification", {"status": s, "requestId": 5}) for s in ("Downloading", "Downloaded")
        ]
        statuses.append(("FirmwareStatusNotification", {"status": "InvalidSignature", "requestId": 5}))
        [event] = await csms.expect_calls(statuses, unordered="SecurityEventNotification")
        assert event[3]["type"] == "InvalidFirmwareSignature"  # the station is booted: reported at once
        assert runtime.firmware == {}
        firmware["signature"] = signature
        await csms.ask("UpdateFirmware", {"requestId": 6, "retries": 0, "firmware": firmware}, "2")
        for step in ("Downloading", "Downloaded", "SignatureVerified", "Installing", "InstallRebooting"):
            await csms.expect_call("FirmwareStatusNotification", {"status": step, "requestId": 6})
    assert runtime.firmware["version"] == "signed-2.0"
    firmware["signingCertificate"] = "not a certificate"
    assert await csms.ask("UpdateFirmware", {"requestId": 7, "firmware": firmware}, "3") == [
        3,
        "3",
        {"status": "InvalidCertificate"},
    ]


async def test_an_unreachable_firmware_location_fails_the_download(wire):
    _, csms, runtime = wire
    firmware = {"location": dead_url(), "retrieveDateTime": NOW}
    await csms.ask("UpdateFirmware", {"requestId": 8, "retries": 1, "retryInterval": 0, "firmware": firmware})
    for step in ("Downloading", "DownloadFailed"):
        await csms.expect_call("FirmwareStatusNotification", {"status": step, "requestId": 8})
    assert runtime.firmware == {}


async def test_get_log_uploads_and_says_so(wire):
    _, csms, _ = wire
    with http_server() as server:
        request = {"log": {"remoteLocation": server.url("/up/")}, "logType": "DiagnosticsLog", "requestId": 6}
        assert await csms.ask("GetLog", request) == [
            3,
            "1",
            {"status": "Accepted", "filename": "DiagnosticsLog-CP-201.log"},
        ]
        for step in ("Uploading", "Uploaded"):
            await csms.expect_call("LogStatusNotification", {"status": step, "requestId": 6})
    [upload] = server.received("PUT")
    assert upload.path == "/up/DiagnosticsLog-CP-201.log"
    assert b"# diagnostics of CP-201" in upload.body
    assert b"# connector 1/1: Available" in upload.body


async def test_a_log_upload_to_a_dead_location_fails(wire):
    _, csms, _ = wire
    request = {"log": {"remoteLocation": dead_url("/up/")}, "logType": "SecurityLog", "requestId": 7, "retries": 0}
    await csms.ask("GetLog", request)
    for step in ("Uploading", "UploadFailure"):
        await csms.expect_call("LogStatusNotification", {"status": step, "requestId": 7})


async def test_data_transfer_and_unhandled_actions(wire):
    _, csms, _ = wire
    assert await csms.ask("DataTransfer", {"vendorId": "acme"}) == [3, "1", {"status": "UnknownVendorId"}]
    assert await csms.ask("GetDisplayMessages", {"requestId": 1}, "2") == [
        4,
        "2",
        "NotImplemented",
        ANY,
        {"cause": "No handler for GetDisplayMessages registered."},
    ]
    assert await csms.ask("SetVariables", {"setVariableData": "oops"}, "3") == [4, "3", ANY, ANY, ANY]


# -- commands from the API ------------------------------------------------------------------------------------


async def test_a_remote_start_while_a_start_session_is_authorizing_is_rejected(wire) -> None:
    """One transaction start per connector at a time: the command holds the EVSE from its first await."""
    station, csms, runtime = wire
    session = asyncio.create_task(
        station.perform("start_session", {"id_tag": "TAG-A", "evse_id": 1, "connector_id": 1})
    )
    await csms.expect_call("StatusNotification", status(1, "Occupied"))
    authorize = await csms.next_frame()
    assert authorize[2] == "Authorize"  # unanswered for now: the command waits on the CSMS

    request = {"idToken": {"idToken": "TAG-B", "type": "ISO14443"}, "remoteStartId": 7, "evseId": 1}
    assert await csms.ask("RequestStartTransaction", request) == [3, "1", {"status": "Rejected"}]

    await csms.answer(authorize, {"idTokenInfo": {"status": "Accepted"}})
    started = await csms.next_frame()
    assert (started[2], started[3]["eventType"], started[3]["idToken"]["idToken"]) == (
        "TransactionEvent",
        "Started",
        "TAG-A",
    )
    await csms.answer(started, {"idTokenInfo": {"status": "Accepted"}})
    result = await asyncio.wait_for(session, 2)
    assert result["transaction_id"] == started[3]["transactionInfo"]["transactionId"]
    assert list(runtime.transactions) == ["1/1"]
