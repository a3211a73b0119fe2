"""The CSMS harness itself, driven by a tiny charge point written directly with the `ocpp` library."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from ocpp import v16, v201
from ocpp.exceptions import NotImplementedError as OcppNotImplementedError
from ocpp.exceptions import OCPPError
from ocpp.routing import on
from ocpp.v16 import call as call16
from ocpp.v16 import call_result as result16
from ocpp.v16.enums import Action as Action16
from ocpp.v201 import call as call201
from ocpp.v201 import call_result as result201
from ocpp.v201.enums import Action as Action201
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Subprotocol

from adapters.csms.demo import run_demo_csms
from adapters.csms.server import CP_TO_CSMS, CSMS_TO_CP, CsmsServer, Verdicts

WAIT = 5.0
ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class TinyCp16(v16.ChargePoint):
    """Answers GetConfiguration; everything else the CSMS calls is NotImplemented."""

    @on(Action16.get_configuration)
    def on_get_configuration(self, key: list[str] | None = None, **_: Any) -> result16.GetConfiguration:
        known = {"HeartbeatInterval": "60", "NumberOfConnectors": "1"}
        asked = key or list(known)
        return result16.GetConfiguration(
            configuration_key=[{"key": k, "readonly": False, "value": known[k]} for k in asked if k in known],
            unknown_key=[k for k in asked if k not in known] or None,
        )


class TinyCp201(v201.ChargePoint):
    """Answers Reset."""

    @on(Action201.reset)
    def on_reset(self, **_: Any) -> result201.Reset:
        return result201.Reset(status="Accepted")


class Tap:
    """The tiny charge point's side of the wire: every frame it sent and received, exactly."""

    def __init__(self, websocket: ClientConnection) -> None:
        self.websocket = websocket
        self.sent: list[str] = []
        self.received: list[str] = []

    async def send(self, text: str) -> None:
        self.sent.append(text)
        await self.websocket.send(text)

    async def recv(self) -> str:
        data = await self.websocket.recv()
        assert isinstance(data, str)
        self.received.append(data)
        return data


@dataclass
class Tiny:
    cp: TinyCp16 | TinyCp201
    tap: Tap
    websocket: ClientConnection


def basic(username: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()}


@contextlib.asynccontextmanager
async def tiny_cp(
    url: str, identity: str, version: str = "ocpp1.6", headers: dict[str, str] | None = None
) -> AsyncIterator[Tiny]:
    """A connected tiny charge point serving its side of the connection in a task."""
    async with connect(
        f"{url}/{identity}",
        subprotocols=[Subprotocol(version)],
        additional_headers=headers,
        open_timeout=WAIT,
        close_timeout=2,
    ) as websocket:
        assert websocket.subprotocol == version
        tap = Tap(websocket)
        cls = TinyCp16 if version == "ocpp1.6" else TinyCp201
        cp = cls(identity, tap, response_timeout=WAIT)
        task = asyncio.create_task(cp.start())
        try:
            yield Tiny(cp, tap, websocket)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionClosed):
                await task


async def eventually(predicate: Callable[[], bool], timeout: float = WAIT) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


async def refused_status(url: str, subprotocols: list[str] | None, headers: dict[str, str] | None = None) -> int:
    with pytest.raises(InvalidStatus) as refused:
        offered = None if subprotocols is None else [Subprotocol(name) for name in subprotocols]
        async with connect(url, subprotocols=offered, additional_headers=headers, open_timeout=WAIT):
            pass
    return refused.value.response.status_code


@pytest.fixture
async def csms() -> AsyncIterator[CsmsServer]:
    server = CsmsServer(verdicts=Verdicts(heartbeat_interval=30))
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


# -- boot, heartbeat, verdicts -----------------------------------------------------------------------------


async def test_boot_accepted_with_the_verdict_interval_then_heartbeat_16(csms: CsmsServer) -> None:
    async with tiny_cp(csms.url(), "CP-16") as tiny:
        boot = await tiny.cp.call(call16.BootNotification(charge_point_model="Tiny", charge_point_vendor="Test"))
        assert (boot.status, boot.interval) == ("Accepted", 30)
        assert ISO_Z.match(boot.current_time)
        heartbeat = await tiny.cp.call(call16.Heartbeat())
        assert ISO_Z.match(heartbeat.current_time)

        assert await csms.wait_for("CP-16", "BootNotification") == [
            {"chargePointModel": "Tiny", "chargePointVendor": "Test"}
        ]
        assert await csms.wait_for("CP-16", "Heartbeat") == [{}]
        assert csms.received("CP-16") == [
            ("BootNotification", {"chargePointModel": "Tiny", "chargePointVendor": "Test"}),
            ("Heartbeat", {}),
        ]
        session = csms.sessions["CP-16"]
        assert session.ocpp_version == "ocpp1.6"
        assert isinstance(session.charge_point, v16.ChargePoint)


async def test_boot_verdicts_change_between_calls_201(csms: CsmsServer) -> None:
    boot = call201.BootNotification(charging_station={"model": "Tiny", "vendor_name": "Test"}, reason="PowerUp")
    async with tiny_cp(csms.url(), "CP-201", "ocpp2.0.1") as tiny:
        csms.verdicts.boot_status, csms.verdicts.heartbeat_interval = "Rejected", 15
        rejected = await tiny.cp.call(boot)
        assert (rejected.status, rejected.interval) == ("Rejected", 15)
        csms.verdicts.boot_status = "Pending"
        assert (await tiny.cp.call(boot)).status == "Pending"
        csms.verdicts.boot_status, csms.verdicts.heartbeat_interval = "Accepted", 300
        accepted = await tiny.cp.call(boot)
        assert (accepted.status, accepted.interval) == ("Accepted", 300)
        assert ISO_Z.match((await tiny.cp.call(call201.Heartbeat())).current_time)

        payloads = await csms.wait_for("CP-201", "BootNotification", count=3)
        assert payloads[0] == {"chargingStation": {"model": "Tiny", "vendorName": "Test"}, "reason": "PowerUp"}
        assert csms.sessions["CP-201"].ocpp_version == "ocpp2.0.1"


async def test_authorize_verdict_and_increasing_transaction_ids_16(csms: CsmsServer) -> None:
    async with tiny_cp(csms.url(), "CP-TX") as tiny:
        start = call16.StartTransaction(connector_id=1, id_tag="TAG", meter_start=0, timestamp=now())
        first, second = await tiny.cp.call(start), await tiny.cp.call(start)
        assert second.transaction_id > first.transaction_id
        assert first.id_tag_info["status"] == "Accepted"

        csms.verdicts.authorize_status = "Invalid"
        assert (await tiny.cp.call(call16.Authorize(id_tag="BAD"))).id_tag_info["status"] == "Invalid"
        assert (await tiny.cp.call(start)).id_tag_info["status"] == "Invalid"

        stop = call16.StopTransaction(meter_stop=10, timestamp=now(), transaction_id=first.transaction_id)
        assert (await tiny.cp.call(stop)).id_tag_info is None
        stop.id_tag = "TAG"
        assert (await tiny.cp.call(stop)).id_tag_info == {"status": "Invalid"}


async def test_transaction_event_answers_id_token_info_only_with_an_id_token_201(csms: CsmsServer) -> None:
    async with tiny_cp(csms.url(), "CP-TE", "ocpp2.0.1") as tiny:
        event = call201.TransactionEvent(
            event_type="Started",
            timestamp=now(),
            trigger_reason="CablePluggedIn",
            seq_no=0,
            transaction_info={"transaction_id": "tx-1"},
        )
        assert (await tiny.cp.call(event)).id_token_info is None
        event.seq_no, event.id_token = 1, {"id_token": "TAG", "type": "ISO14443"}
        csms.verdicts.authorize_status = "Blocked"
        assert (await tiny.cp.call(event)).id_token_info == {"status": "Blocked"}


# -- every handler answers schema-valid payloads -------------------------------------------------------------

CALLS_16: list[Any] = [
    call16.BootNotification(charge_point_model="M", charge_point_vendor="V"),
    call16.Heartbeat(),
    call16.StatusNotification(connector_id=0, error_code="NoError", status="Available"),
    call16.Authorize(id_tag="TAG"),
    call16.StartTransaction(connector_id=1, id_tag="TAG", meter_start=0, timestamp=now()),
    call16.StopTransaction(meter_stop=5, timestamp=now(), transaction_id=1, id_tag="TAG", reason="Local"),
    call16.MeterValues(
        connector_id=1,
        meter_value=[{"timestamp": now(), "sampled_value": [{"value": "12.5", "measurand": "Power.Active.Import"}]}],
    ),
    call16.DataTransfer(vendor_id="V", message_id="m", data="d"),
    call16.DiagnosticsStatusNotification(status="Idle"),
    call16.FirmwareStatusNotification(status="Idle"),
    call16.SecurityEventNotification(type="StartupOfTheDevice", timestamp=now(), tech_info=None),  # no default
    call16.LogStatusNotification(status="Idle", request_id=1),
    call16.SignedFirmwareStatusNotification(status="Idle", request_id=1),
    call16.SignCertificate(csr="csr"),
]

SCHEDULE = {"id": 1, "charging_rate_unit": "W", "charging_schedule_period": [{"start_period": 0, "limit": 11000.0}]}
CALLS_201: list[Any] = [
    call201.BootNotification(charging_station={"model": "M", "vendor_name": "V"}, reason="PowerUp"),
    call201.Heartbeat(),
    call201.StatusNotification(timestamp=now(), connector_status="Available", evse_id=1, connector_id=1),
    call201.Authorize(id_token={"id_token": "TAG", "type": "ISO14443"}),
    call201.TransactionEvent(
        event_type="Ended",
        timestamp=now(),
        trigger_reason="StopAuthorized",
        seq_no=3,
        transaction_info={"transaction_id": "tx-1", "stopped_reason": "Local"},
        id_token={"id_token": "TAG", "type": "ISO14443"},
    ),
    call201.MeterValues(evse_id=1, meter_value=[{"timestamp": now(), "sampled_value": [{"value": 1.5}]}]),
    call201.NotifyReport(request_id=1, generated_at=now(), seq_no=0),
    call201.NotifyEvent(
        generated_at=now(),
        seq_no=0,
        event_data=[
            {
                "event_id": 1,
                "timestamp": now(),
                "trigger": "Delta",
                "actual_value": "true",
                "event_notification_type": "HardWiredNotification",
                "component": {"name": "EVSE", "evse": {"id": 1}},
                "variable": {"name": "Problem"},
            }
        ],
    ),
    call201.DataTransfer(vendor_id="V"),
    call201.FirmwareStatusNotification(status="Idle"),
    call201.LogStatusNotification(status="Idle"),
    call201.SecurityEventNotification(type="StartupOfTheDevice", timestamp=now()),
    call201.ReportChargingProfiles(
        request_id=1,
        charging_limit_source="CSO",
        evse_id=1,
        charging_profile=[
            {
                "id": 1,
                "stack_level": 0,
                "charging_profile_purpose": "TxDefaultProfile",
                "charging_profile_kind": "Relative",
                "charging_schedule": [SCHEDULE],
            }
        ],
    ),
    call201.ReservationStatusUpdate(reservation_id=1, reservation_update_status="Expired"),
    call201.PublishFirmwareStatusNotification(status="Idle"),
    call201.NotifyCustomerInformation(data="none", seq_no=0, generated_at=now(), request_id=1),
    call201.NotifyChargingLimit(charging_limit={"charging_limit_source": "EMS"}),
    call201.ClearedChargingLimit(charging_limit_source="EMS"),
    call201.NotifyEVChargingNeeds(charging_needs={"requested_energy_transfer": "DC"}, evse_id=1),
    call201.NotifyEVChargingSchedule(time_base=now(), charging_schedule=SCHEDULE, evse_id=1),
    call201.NotifyMonitoringReport(request_id=1, seq_no=0, generated_at=now()),
    call201.NotifyDisplayMessages(request_id=1),
    call201.Get15118EVCertificate(
        iso15118_schema_version="urn:iso:15118:2:2013:MsgDef", action="Install", exi_request="AA"
    ),
    call201.GetCertificateStatus(
        ocsp_request_data={
            "hash_algorithm": "SHA256",
            "issuer_name_hash": "a",
            "issuer_key_hash": "b",
            "serial_number": "c",
            "responder_url": "http://ocsp.example",
        }
    ),
    call201.SignCertificate(csr="csr"),
]


@pytest.mark.parametrize(("version", "calls"), [("ocpp1.6", CALLS_16), ("ocpp2.0.1", CALLS_201)])
async def test_every_charge_point_action_gets_a_schema_valid_answer(
    csms: CsmsServer, version: str, calls: list[Any]
) -> None:
    async with tiny_cp(csms.url(), "CP-ALL", version) as tiny:
        for payload in calls:
            # suppress=False: a CallError raises; the tiny cp validates every answer against the schemas
            assert await tiny.cp.call(payload, suppress=False) is not None, type(payload).__name__
        assert [action for action, _ in csms.received("CP-ALL")] == [type(p).__name__ for p in calls]
        assert csms.call_errors("CP-ALL") == []


async def test_a_schema_invalid_call_gets_a_call_error_and_still_counts_as_received(csms: CsmsServer) -> None:
    async with tiny_cp(csms.url(), "CP-BAD") as tiny:
        with pytest.raises(OCPPError):
            await tiny.cp.call(call16.Authorize(id_tag="X" * 21), suppress=False, skip_schema_validation=True)
        assert await csms.wait_for("CP-BAD", "Authorize") == [{"idTag": "X" * 21}]
        [error] = csms.call_errors("CP-BAD")
        assert error[0] == 4 and error[2] in ("TypeConstraintViolation", "FormationViolation")


# -- frames ---------------------------------------------------------------------------------------------------


async def test_frames_are_recorded_in_both_directions_with_their_exact_text(csms: CsmsServer) -> None:
    async with tiny_cp(csms.url(), "CP-F") as tiny:
        await tiny.cp.call(call16.BootNotification(charge_point_model="Tiny", charge_point_vendor="Test"))
        await tiny.cp.call(call16.StatusNotification(connector_id=1, error_code="NoError", status="Available"))
        await csms.call("CP-F", call16.GetConfiguration(key=["HeartbeatInterval"]))
        await eventually(lambda: len(csms.frames) == 6)

        frames = [f for f in csms.frames if f.identity == "CP-F"]
        assert [f.raw for f in frames if f.direction == CP_TO_CSMS] == tiny.tap.sent
        assert [f.raw for f in frames if f.direction == CSMS_TO_CP] == tiny.tap.received
        kinds = [(f.direction, json.loads(f.raw)[0]) for f in frames]
        assert kinds == [
            (CP_TO_CSMS, 2),
            (CSMS_TO_CP, 3),
            (CP_TO_CSMS, 2),
            (CSMS_TO_CP, 3),
            (CSMS_TO_CP, 2),
            (CP_TO_CSMS, 3),
        ]
        assert all(a.at <= b.at for a, b in itertools.pairwise(frames))


async def test_wait_for_counts_waits_and_times_out(csms: CsmsServer) -> None:
    async with tiny_cp(csms.url(), "CP-W") as tiny:
        waiting = asyncio.create_task(csms.wait_for("CP-W", "Heartbeat", count=2))
        await tiny.cp.call(call16.Heartbeat())
        assert not waiting.done()
        await tiny.cp.call(call16.Heartbeat())
        assert await asyncio.wait_for(waiting, WAIT) == [{}, {}]
        # the answer is on the wire once wait_for returns
        assert json.loads(csms.frames[-1].raw)[0] == 3

        with pytest.raises(TimeoutError, match="2 of 3 Heartbeat"):
            await csms.wait_for("CP-W", "Heartbeat", count=3, timeout=0.2)
        with pytest.raises(TimeoutError):
            await csms.wait_for("CP-NOBODY", "BootNotification", timeout=0.1)


# -- CSMS-initiated traffic -----------------------------------------------------------------------------------


async def test_call_returns_the_call_result_and_raises_on_call_error_16(csms: CsmsServer) -> None:
    async with tiny_cp(csms.url(), "CP-C") as tiny:
        answer = await csms.call("CP-C", call16.GetConfiguration(key=["HeartbeatInterval", "Nope"]))
        assert isinstance(answer, result16.GetConfiguration)
        assert answer.configuration_key == [{"key": "HeartbeatInterval", "readonly": False, "value": "60"}]
        assert answer.unknown_key == ["Nope"]
        assert json.loads(tiny.tap.received[0])[2:] == ["GetConfiguration", {"key": ["HeartbeatInterval", "Nope"]}]

        with pytest.raises(OcppNotImplementedError):
            await csms.call("CP-C", call16.ClearCache())
        with pytest.raises(ValueError, match=r"speaks ocpp1\.6"):
            await csms.call("CP-C", call201.ClearCache())
    await eventually(lambda: "CP-C" not in csms.sessions)
    with pytest.raises(LookupError, match="not connected"):
        await csms.call("CP-C", call16.ClearCache())


async def test_call_201_and_timeout(csms: CsmsServer) -> None:
    async with tiny_cp(csms.url(), "CP-C2", "ocpp2.0.1") as tiny:
        assert (await csms.call("CP-C2", call201.Reset(type="Immediate"))).status == "Accepted"

        async def never_answer(raw: str) -> None:  # from here on the tiny cp swallows everything
            return None

        tiny.cp.route_message = never_answer  # type: ignore[method-assign]
        with pytest.raises(TimeoutError, match="no answer to Reset"):
            await csms.call("CP-C2", call201.Reset(type="OnIdle"), timeout=0.3)


async def test_send_raw_puts_exact_text_on_the_wire_and_keeps_the_connection(csms: CsmsServer) -> None:
    async with tiny_cp(csms.url(), "CP-R") as tiny:
        await csms.send_raw("CP-R", "this is not OCPP {")
        await eventually(lambda: tiny.tap.received == ["this is not OCPP {"])
        assert (csms.frames[-1].direction, csms.frames[-1].raw) == (CSMS_TO_CP, "this is not OCPP {")
        assert await tiny.cp.call(call16.Heartbeat()) is not None


async def test_disconnect_closes_with_the_code_and_the_charger_may_reconnect(csms: CsmsServer) -> None:
    async with tiny_cp(csms.url(), "CP-D") as tiny:
        assert csms.connection_count("CP-D") == 1
        await csms.disconnect("CP-D", code=1011)
        async with asyncio.timeout(WAIT):
            await tiny.websocket.wait_closed()
        assert tiny.websocket.close_code == 1011
        assert "CP-D" not in csms.sessions
    async with tiny_cp(csms.url(), "CP-D"):
        session = await csms.wait_connected("CP-D", count=2)
        assert session.identity == "CP-D"
        assert csms.connection_count("CP-D") == 2


async def test_stop_closes_every_connection() -> None:
    server = CsmsServer()
    await server.start()
    try:
        async with tiny_cp(server.url(), "CP-S") as tiny:
            await server.stop()
            async with asyncio.timeout(WAIT):
                await tiny.websocket.wait_closed()
            assert tiny.websocket.close_code == 1001
    finally:
        await server.stop()


# -- connecting -----------------------------------------------------------------------------------------------


async def test_identity_is_the_last_path_segment(csms: CsmsServer) -> None:
    base = f"ws://127.0.0.1:{csms.port}"
    assert csms.url() == f"{base}/ocpp"
    async with tiny_cp(f"{base}/ocpp/v16", "CP-P1"), tiny_cp(base, "CP-P2", "ocpp2.0.1"):
        assert set(csms.sessions) == {"CP-P1", "CP-P2"}
    await eventually(lambda: not csms.sessions)
    assert await refused_status(f"{base}/", ["ocpp1.6"]) == 404


async def test_basic_auth_required_accepted_and_refused(csms: CsmsServer) -> None:
    csms.verdicts.basic_auth = {"CP-A": "s3cret"}
    url = f"{csms.url()}/CP-A"
    assert await refused_status(url, ["ocpp1.6"]) == 401
    assert await refused_status(url, ["ocpp1.6"], basic("CP-A", "wrong")) == 401
    assert await refused_status(url, ["ocpp1.6"], basic("CP-OTHER", "s3cret")) == 401
    assert await refused_status(f"{csms.url()}/CP-B", ["ocpp1.6"], basic("CP-B", "s3cret")) == 401
    assert csms.connection_count("CP-A") == 0
    async with tiny_cp(csms.url(), "CP-A", headers=basic("CP-A", "s3cret")) as tiny:
        boot = await tiny.cp.call(call16.BootNotification(charge_point_model="M", charge_point_vendor="V"))
        assert boot.status == "Accepted"
    assert csms.connection_count("CP-A") == 1


async def test_only_accepted_identities_may_connect(csms: CsmsServer) -> None:
    csms.verdicts.accept_identities = {"CP-OK"}
    assert await refused_status(f"{csms.url()}/CP-STRANGER", ["ocpp1.6"]) == 404
    async with tiny_cp(csms.url(), "CP-OK"):
        assert "CP-OK" in csms.sessions


async def test_unknown_or_missing_subprotocol_is_refused(csms: CsmsServer) -> None:
    url = f"{csms.url()}/CP-X"
    assert await refused_status(url, ["ocpp9.9"]) == 400
    assert await refused_status(url, None) == 400
    assert csms.connection_count("CP-X") == 0


# -- the log and the demo -------------------------------------------------------------------------------------


async def test_log_gets_one_line_per_received_call() -> None:
    lines: list[str] = []
    server = CsmsServer(log=lines.append)
    await server.start()
    try:
        async with tiny_cp(server.url(), "CP-L") as tiny:
            await tiny.cp.call(call16.Authorize(id_tag="TAG"))
    finally:
        await server.stop()
    [call_line] = [line for line in lines if " Authorize " in line]
    assert call_line.endswith('CP-L Authorize {"idTag": "TAG"}')


async def test_demo_csms_prints_its_url_and_the_calls_it_receives(capsys: pytest.CaptureFixture[str]) -> None:
    demo = asyncio.create_task(run_demo_csms("127.0.0.1", 0))
    output = ""

    def printed(pattern: str) -> re.Match[str] | None:
        nonlocal output
        output += capsys.readouterr().out
        return re.search(pattern, output)

    try:
        await eventually(lambda: printed(r"ws://127\.0\.0\.1:\d+/ocpp") is not None)
        url = printed(r"ws://127\.0\.0\.1:\d+/ocpp")
        assert url is not None
        async with tiny_cp(url.group(0), "CP-DEMO", "ocpp2.0.1") as tiny:
            boot = call201.BootNotification(charging_station={"model": "M", "vendor_name": "V"}, reason="PowerUp")
            assert (await tiny.cp.call(boot)).status == "Accepted"
            await eventually(lambda: printed(r"CP-DEMO BootNotification \{") is not None)
    finally:
        demo.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(demo, WAIT)
    assert printed("Demo CSMS stopped")
