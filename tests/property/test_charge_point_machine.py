"""A stateful property test of the OCPP 1.6 charge point: random sequences of driver commands, CSMS calls
(charging profiles, reservations) and gateway restarts, against a fake connection whose CSMS accepts everything.

After every step: a connector holds at most one transaction and its status agrees with it, the energy register
never decreases, no connector draws more than its composite limit, the CSMS was told each connector's status,
and a charge point rebuilt from the recorded runtime holds the same state."""

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
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

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


class AcceptingCsms:
    """Answers every CALL of the charge point as a CSMS that accepts everything; remembers reported statuses."""

    def __init__(self, connection: FakeConnection, transactions: itertools.count) -> None:
        self.connection = connection
        self.transactions = transactions  # a CSMS never hands out a transaction id twice, restarts or not
        self.statuses: dict[int, str] = {}
        self.answers: dict[str, Any] = {}

    async def serve(self) -> None:
        while True:
            frame = json.loads(await self.connection.outbox.get())
            if frame[0] == 2:
                await self.connection.inbox.put(json.dumps([3, frame[1], self.answer(frame[2], frame[3])]))
            else:
                self.answers[frame[1]] = frame

    def answer(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        if action == "StatusNotification":
            self.statuses[payload["connectorId"]] = payload["status"]
        if action in ("Authorize", "StopTransaction"):
            return {"idTagInfo": {"status": "Accepted"}}
        if action == "StartTransaction":
            return {"transactionId": next(self.transactions), "idTagInfo": {"status": "Accepted"}}
        return {}

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
        self.runtime.collect_events()
        self.registers: dict[int, int] = {1: 0, 2: 0}
        self.reservation_ids = itertools.count(1)
        self.transaction_ids = itertools.count(1)
        self.tasks: list[asyncio.Task] = []
        self.station = self.run(self.connect())

    async def connect(self) -> ChargePoint16:
        connection = FakeConnection()
        station = ChargePoint16(
            self.spec.identity, connection, Configuration16(MODEL, self.spec.identity, self.runtime.configuration)
        )
        station.setup_station(self.spec, self.runtime, Recorder())
        station.session_open = True
        self.csms = AcceptingCsms(connection, self.transaction_ids)
        self.tasks = [asyncio.create_task(station.start()), asyncio.create_task(self.csms.serve())]
        for connector in station.status_targets():
            await station.report_status(connector)
        return station

    def run(self, coroutine: Any) -> Any:
        result = self.loop.run_until_complete(coroutine)
        self.loop.run_until_complete(asyncio.sleep(0.02))  # follow-ups (statuses after an answer) go out
        return result

    def command(self, kind: str, **payload: Any) -> None:
        with contextlib.suppress(CommandRefused):
            self.run(self.station.perform(kind, payload))

    def teardown(self) -> None:
        self.run(self.stop_tasks())
        self.loop.close()

    async def stop_tasks(self) -> None:
        tasks = [*self.tasks, *self.station._background]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

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
    def clear_profiles(self, purpose: str | None) -> None:
        self.run(self.csms.call("ClearChargingProfile", {} if purpose is None else {"chargingProfilePurpose": purpose}))

    # -- the gateway ----------------------------------------------------------------------------------------

    @rule()
    def restart_the_gateway(self) -> None:
        """A new charge point from the recorded runtime only: it must hold what the old one held."""
        before = self.state()
        for connector in self.station.connectors.values():
            if connector.transaction_id:
                self.station.record_meter(connector)
        self.run(self.stop_tasks())
        self.station = self.run(self.connect())
        assert self.state() == before

    def state(self) -> dict[str, Any]:
        return {
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
    def the_csms_was_told_every_connector_status(self) -> None:
        for key, connector in self.station.connectors.items():
            assert self.csms.statuses.get(key[1]) == connector.status, (key, connector.status, self.csms.statuses)


TestChargePointMachine = ChargePointMachine.TestCase
