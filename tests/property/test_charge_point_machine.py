"""A stateful property test of the OCPP 1.6 charge point: random sequences of driver commands, CSMS calls
(charging profiles, reservations), outages of the connection and gateway restarts, against a fake connection whose
CSMS accepts everything.

After every step: a connector holds at most one transaction and its status agrees with it, the energy register
never decreases, no connector draws more than its composite limit; online, the CSMS was told each connector's
status, and every transaction it numbered is running or stopped exactly once (samples and stops never arrive
for a transaction it did not number or saw stopped); a charge point rebuilt from the recorded runtime holds the
same state, its queue of transaction messages included."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from websockets.exceptions import ConnectionClosed

from domain.chargepoint.smart_charging import Supply
from domain.configuration import Configuration16
from domain.runtime import ChargerRuntime
from simulator.charging_limits import transaction_of
from simulator.station import ChargerSpec, CommandRefused
from simulator.v16 import ChargePoint16
from tests.unit.test_charge_point_201 import FakeConnection

MODEL = {
    "brand_name": "ABB",
    "model_name": "Terra AC",
    "connector_count": 2,
    "max_power_w": 22000,
    "phases": 3,
    "current_type": "ac",
    "firmware_version": "1.0",
}
CONNECTORS = st.sampled_from([1, 2])
TAGS = st.sampled_from(["TAG-A", "TAG-B"])
IN_TRANSACTION = {"Charging", "SuspendedEV", "SuspendedEVSE"}
LONG_AGO = (datetime.now(UTC) - timedelta(days=1)).isoformat()


class Recorder:
    def observe(self, runtime: ChargerRuntime) -> None:
        runtime.collect_events()


class CuttableConnection(FakeConnection):
    """A fake connection whose network can fail: after `cut()` the charge point's receive and send fail as a
    closed websocket's do."""

    CUT = "\x00cut"

    def __init__(self) -> None:
        super().__init__()
        self.is_cut = False

    def cut(self) -> None:
        self.is_cut = True
        self.inbox.put_nowait(self.CUT)

    async def send(self, text: str) -> None:
        if self.is_cut:
            raise ConnectionClosed(None, None)
        await super().send(text)

    async def recv(self) -> str:
        text = await super().recv()
        if text == self.CUT:
            raise ConnectionClosed(None, None)
        return text


class Ledger:
    """What the CSMS learned over all connections: the transactions it numbered and stopped, and any message
    that arrived out of order (a sample or a stop of a transaction it never numbered, or stopped twice)."""

    def __init__(self) -> None:
        self.numbers = itertools.count(1)  # a CSMS never hands out a transaction id twice, restarts or not
        self.issued: set[int] = set()
        self.stopped: list[int] = []
        self.statuses: dict[int, str] = {}
        self.problems: list[str] = []
        self.refuse: set[str] = set()  # actions answered with a CallError

    def answer(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        if action == "BootNotification":
            return {"status": "Accepted", "interval": 300, "currentTime": datetime.now(UTC).isoformat()}
        if action == "Heartbeat":
            return {"currentTime": datetime.now(UTC).isoformat()}
        if action == "StatusNotification":
            self.statuses[payload["connectorId"]] = payload["status"]
        if action == "StartTransaction":
            number = next(self.numbers)
            self.issued.add(number)
            return {"transactionId": number, "idTagInfo": {"status": "Accepted"}}
        if action in ("MeterValues", "StopTransaction") and "transactionId" in payload:
            number = payload["transactionId"]
            if number not in self.issued or number in self.stopped:
                self.problems.append(f"{action} of transaction {number} (issued {self.issued}, stopped {self.stopped})")
            if action == "StopTransaction":
                self.stopped.append(number)
        if action in ("Authorize", "StopTransaction"):
            return {"idTagInfo": {"status": "Accepted"}}
        return {}


class AcceptingCsms:
    """Answers every CALL of the charge point on one connection as a CSMS that accepts everything."""

    def __init__(self, connection: FakeConnection, ledger: Ledger) -> None:
        self.connection = connection
        self.ledger = ledger
        self.answers: dict[str, Any] = {}

    async def serve(self) -> None:
        while True:
            frame = json.loads(await self.connection.outbox.get())
            if frame[0] == 2 and frame[2] in self.ledger.refuse:
                await self.connection.inbox.put(json.dumps([4, frame[1], "InternalError", "refused", {}]))
            elif frame[0] == 2:
                await self.connection.inbox.put(json.dumps([3, frame[1], self.ledger.answer(frame[2], frame[3])]))
            else:
                self.answers[frame[1]] = frame

    async def call(self, action: str, payload: dict[str, Any]) -> Any:
        unique_id = str(uuid4())
        await self.connection.inbox.put(json.dumps([2, unique_id, action, payload]))
        for _ in range(200):
            if unique_id in self.answers:
                return self.answers.pop(unique_id)
            await asyncio.sleep(0.005)
        raise AssertionError(f"no answer to {action}")


@settings(max_examples=30, stateful_step_count=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
class ChargePointMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.spec = ChargerSpec(uuid4(), "t", "CP-MACHINE", "ws://csms/ocpp", "OCPP1.6", MODEL)
        self.runtime = ChargerRuntime(tenant_id="t", charger_id=self.spec.charger_id)
        self.runtime.configuration["AllowOfflineTxForUnknownId"] = "true"  # offline, the driver's tags start
        self.runtime.collect_events()
        self.registers: dict[int, int] = {1: 0, 2: 0}
        self.reservation_ids = itertools.count(1)
        self.ledger = Ledger()
        self.online = False
        self.station = self.run(self.power_up())
        self.run(self.connect())

    async def power_up(self) -> ChargePoint16:
        """A charge point of the gateway, from the recorded runtime only (no connection yet)."""
        station = ChargePoint16(
            self.spec.identity, None, Configuration16(MODEL, self.spec.identity, self.runtime.configuration)
        )
        station.setup_station(self.spec, self.runtime, Recorder())
        station.start_station()
        return station

    async def connect(self) -> None:
        """A connection: boot, statuses, then what waited in the queue, until the queue is empty."""
        self.connection = CuttableConnection()
        self.csms = AcceptingCsms(self.connection, self.ledger)
        self.csms_task = asyncio.create_task(self.csms.serve())
        self.session = asyncio.create_task(self.station.run_session(self.connection))
        for _ in range(400):
            if self.station.ready and not self.station.outbox.messages:
                break
            await asyncio.sleep(0.005)
        assert self.station.ready and not self.station.outbox.messages, "the queue did not drain after the boot"
        self.online = True

    async def disconnect(self) -> None:
        self.connection.cut()
        await asyncio.gather(self.session, return_exceptions=True)
        self.csms_task.cancel()
        await asyncio.gather(self.csms_task, return_exceptions=True)
        self.online = False

    def run(self, coroutine: Any) -> Any:
        result = self.loop.run_until_complete(coroutine)
        self.loop.run_until_complete(asyncio.sleep(0.02))  # follow-ups (statuses after an answer) go out
        return result

    def command(self, kind: str, **payload: Any) -> None:
        with contextlib.suppress(CommandRefused):
            self.run(self.station.perform(kind, payload))

    def teardown(self) -> None:
        self.run(self.shut_down())
        self.loop.close()

    async def shut_down(self) -> None:
        if self.online:
            await self.disconnect()
        await self.station.stop_station()

    # -- the driver ---------------------------------------------------------------------------------------

    @rule(connector=CONNECTORS)
    def plug(self, connector: int) -> None:
        self.command("plug_connector", connector_id=connector)

    @rule(connector=CONNECTORS)
    def unplug(self, connector: int) -> None:
        self.command("unplug_connector", connector_id=connector)

    @rule(connector=CONNECTORS, tag=TAGS)
    def start_session(self, connector: int, tag: str) -> None:
        self.command("start_session", connector_id=connector, id_tag=tag)

    @rule(connector=CONNECTORS)
    def stop_session(self, connector: int) -> None:
        self.command("stop_session", connector_id=connector)

    @rule(connector=CONNECTORS)
    def fault_and_clear(self, connector: int) -> None:
        self.command("inject_fault", connector_id=connector, fault_type="GroundFault")
        self.command("clear_fault", connector_id=connector)

    @rule(connector=CONNECTORS, tag=TAGS)
    def reserve(self, connector: int, tag: str) -> None:
        self.command("reserve_now", connector_id=connector, id_tag=tag, reservation_id=next(self.reservation_ids))

    @rule()
    def cancel_a_reservation(self) -> None:
        for reservation_id in list(self.station.reservations.held)[:1]:
            self.command("cancel_reservation", reservation_id=reservation_id)

    # -- the CSMS -----------------------------------------------------------------------------------------

    @rule(
        where=st.sampled_from([0, 1, 2]),
        purpose=st.sampled_from(["ChargePointMaxProfile", "TxDefaultProfile", "TxProfile"]),
        limit=st.integers(0, 30_000),
        stack_level=st.integers(0, 2),
    )
    @precondition(lambda self: self.online)
    def set_profile(self, where: int, purpose: str, limit: int, stack_level: int) -> None:
        profile = {
            "chargingProfileId": stack_level * 10 + where,
            "stackLevel": stack_level,
            "chargingProfilePurpose": purpose,
            "chargingProfileKind": "Absolute",
            "chargingSchedule": {
                "startSchedule": LONG_AGO,
                "chargingRateUnit": "W",
                "chargingSchedulePeriod": [{"startPeriod": 0, "limit": limit}],
            },
        }
        self.run(self.csms.call("SetChargingProfile", {"connectorId": where, "csChargingProfiles": profile}))

    @rule(purpose=st.sampled_from([None, "TxDefaultProfile", "ChargePointMaxProfile"]))
    @precondition(lambda self: self.online)
    def clear_profiles(self, purpose: str | None) -> None:
        self.run(self.csms.call("ClearChargingProfile", {} if purpose is None else {"chargingProfilePurpose": purpose}))

    # -- the gateway ----------------------------------------------------------------------------------------

    @rule()
    @precondition(lambda self: self.online)
    def lose_the_connection(self) -> None:
        """The CSMS becomes unreachable: the charge point goes on alone."""
        self.run(self.disconnect())
        assert self.station.offline and not self.station.ready

    @rule(
        actions=st.lists(
            st.tuples(st.sampled_from(["plug", "unplug", "start_session", "stop_session"]), CONNECTORS, TAGS),
            min_size=1,
            max_size=4,
        )
    )
    @precondition(lambda self: self.online)
    def an_outage_with_the_driver_at_work(self, actions: list[tuple[str, int, str]]) -> None:
        """Lost connection, the driver plugs, starts and stops offline, the CSMS comes back."""
        self.lose_the_connection()
        for action, connector, tag in actions:
            if action == "start_session":
                self.start_session(connector, tag)
            else:
                getattr(self, action)(connector)
        self.reconnect()

    @rule()
    @precondition(lambda self: not self.online)
    def reconnect(self) -> None:
        """The CSMS is back: after the boot, what waited goes out in order (the ledger checks it)."""
        self.run(self.connect())

    @rule()
    def restart_the_gateway(self) -> None:
        """A new charge point from the recorded runtime only: it must hold what the old one held, its queue too."""
        before = self.state()
        was_online = self.online
        self.run(self.shut_down())
        self.station = self.run(self.power_up())
        assert self.state() == before
        if was_online:
            self.run(self.connect())

    def state(self) -> dict[str, Any]:
        return {
            "queue": [(m.action, m.payload, m.transaction_ref) for m in self.station.outbox.messages],
            "connectors": {
                key: (c.status, c.transaction_id, c.id_tag, c.reservation_id, c.fault)
                for key, c in self.station.connectors.items()
            },
            "profiles": sorted(self.station.charging.profiles),
            "reservations": sorted(self.station.reservations.held),
        }

    # -- invariants -----------------------------------------------------------------------------------------

    @invariant()
    def a_connector_holds_at_most_one_transaction_and_its_status_agrees(self) -> None:
        ids = [c.transaction_id for c in self.station.connectors.values() if c.transaction_id]
        assert len(ids) == len(set(ids))
        for connector in self.station.connectors.values():
            if connector.status in IN_TRANSACTION:
                assert connector.transaction_id is not None, connector
            if connector.transaction_id is not None:
                assert connector.status not in ("Available", "Reserved"), connector

    @invariant()
    def the_energy_register_never_decreases(self) -> None:
        for number, connector in self.station.profile_connectors().items():
            register = connector.meter_wh
            assert register >= self.registers[number]
            self.registers[number] = register

    @invariant()
    def no_connector_draws_more_than_its_composite_limit(self) -> None:
        supply = Supply.of_model(MODEL)
        now = datetime.now(UTC)
        for number, connector in self.station.profile_connectors().items():
            limit = self.station.charging.connector_limit_w(now, number, supply, transaction_of(connector))
            assert connector.meter.power_w <= limit + 1, (connector.meter, limit)

    @invariant()
    def the_csms_was_told_every_connector_status_once_online(self) -> None:
        if not self.online:
            return
        for key, connector in self.station.connectors.items():
            assert self.ledger.statuses.get(key[1]) == connector.status, (key, connector.status, self.ledger.statuses)

    @invariant()
    def the_csms_learns_each_transaction_in_order_and_once(self) -> None:
        """Samples and stops only of transactions the CSMS numbered and did not see stopped; online (the queue
        drained), each numbered transaction is either still running at the charge point or stopped once."""
        assert self.ledger.problems == []
        if not self.online:
            return
        running = {int(c.transaction_id) for c in self.station.connectors.values() if c.transaction_id}
        assert sorted(self.ledger.issued - set(self.ledger.stopped)) == sorted(running)
        assert len(self.ledger.stopped) == len(set(self.ledger.stopped))


TestChargePointMachine = ChargePointMachine.TestCase


def test_a_transaction_the_csms_never_numbered_still_stops_and_nobody_waits_for_ever() -> None:
    """A start begun offline whose StartTransaction the CSMS refuses until its attempts are spent: its stop is
    dropped as never numbered, and the stop command ends at once (it must not wait for an answer that never comes)."""
    machine = ChargePointMachine()
    try:
        machine.station.configuration.change("TransactionMessageAttempts", "1")
        machine.lose_the_connection()
        machine.start_session(1, "TAG-A")
        assert machine.station.connectors[(1, 1)].transaction_id.startswith("local-")
        machine.ledger.refuse.add("StartTransaction")
        machine.reconnect()  # the refused start is given up: the queue drains
        result = machine.run(asyncio.wait_for(machine.station.perform("stop_session", {"connector_id": 1}), 5))
        assert result["meter_stop"] >= 0
        assert machine.ledger.issued == set() and machine.ledger.stopped == []
    finally:
        machine.teardown()
