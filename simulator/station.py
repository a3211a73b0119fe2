"""What every simulated charge point shares, whatever its OCPP version: state, boot, heartbeat, status, recording.

A version module (v16, v201) subclasses the ocpp library's ChargePoint for its protocol and this mixin for the
behaviour; the runner only sees `run_session()` and `close_requested`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import datetime
from typing import Any

from domain.runtime import ChargerRuntime
from simulator.authorization import Authorization
from simulator.certificates import Certificates
from simulator.charging_limits import ChargingLimits
from simulator.command_desk import CommandDesk
from simulator.common_handlers import CommonHandlers
from simulator.driver import DriverActions
from simulator.meter import Meter
from simulator.metering import Metering
from simulator.model import ChargerSpec, CommandRefused, Connector, Offline, Ticket, now_iso
from simulator.outbox import Outbox
from simulator.recorder import ObservationRecorder
from simulator.reservation_desk import ReservationDesk
from simulator.routing import Routing
from simulator.security_events import SecurityEvents
from simulator.session import Session

__all__ = ["ChargerSpec", "CommandRefused", "Connector", "Station", "Ticket", "now_iso"]


PLUGGED_IDLE = ("Preparing", "Finishing", "Occupied")  # statuses of a connector with a cable in, no transaction


class Station(
    Session,
    Routing,
    CommandDesk,
    DriverActions,
    Authorization,
    Metering,
    Outbox,
    ChargingLimits,
    ReservationDesk,
    CommonHandlers,
    Certificates,
    SecurityEvents,
):
    """Behaviour shared by both OCPP versions, mixed in before the ocpp library's ChargePoint (it wraps its call
    handling). The subclass provides the protocol-specific messages."""

    heartbeat_key: str  # the configuration key of the heartbeat interval in the version's vocabulary
    authorization_keys: tuple[str, str, str]  # LocalPreAuthorize, local list enabled, auth cache enabled
    sample_interval_key: str  # seconds between meter samples during a transaction
    spec: ChargerSpec
    runtime: ChargerRuntime
    recorder: ObservationRecorder
    connectors: dict[tuple[int, int], Connector]

    def setup_station(
        self,
        spec: ChargerSpec,
        runtime: ChargerRuntime,
        recorder: ObservationRecorder,
        kept: dict[tuple[int, int], Connector] | None = None,
    ) -> None:
        """`kept`: the connectors of this charger's previous session in this process (a reconnect keeps its
        meters, transactions and EV state exactly); otherwise they are rebuilt from the recorded runtime."""
        self.spec = spec
        self.runtime = runtime
        self.recorder = recorder
        self.booted = False  # the current connection's boot was accepted
        self.ready = False  # booted and statuses reported: commands and queued messages may go out
        self.offline = False  # the CSMS cannot be reached (a failed connect or a lost connection; not a reboot)
        self.running = False  # the station's own tasks may be spawned (start_station .. stop_station)
        self.close_requested: str | None = None  # "reset" when the CSMS asked for a reboot
        self.heartbeat_interval = self.configured_heartbeat()
        self._interval_changed = asyncio.Event()
        self._background: set[asyncio.Task] = set()
        self._followers: dict[str, asyncio.Task] = {}
        self._calling: set[asyncio.Task | None] = set()  # tasks waiting for an answer on the connection
        self._cut_off: set[asyncio.Task | None] = set()  # of those, the ones whose connection ended
        self.auth_cache: dict[str, str] = {}
        self.commands: asyncio.Queue[Ticket] = asyncio.Queue()
        self.connectors = self.initial_connectors()
        if kept and kept.keys() == self.connectors.keys():
            self.connectors = kept
            for connector in kept.values():
                for transient in ("metering", "resample", "starting"):
                    connector.extra.pop(transient, None)
        else:
            self._restore(runtime)
        self.setup_charging_limits()
        self.setup_reservations()
        self.setup_outbox()

    def _restore(self, runtime: ChargerRuntime) -> None:
        """Rebuilds the connectors from what was observed: availability, faults, meters, transactions."""
        now = time.monotonic()
        for connector in self.connectors.values():
            connector.meter = Meter(
                max_power_w=int(self.spec.model.get("max_power_w", 22000)),
                current_type=str(self.spec.model.get("current_type", "ac")),
                phases=int(self.spec.model.get("phases", 3) or 1),
            )
            key = connector.key
            saved = runtime.connectors.get(key)
            if saved and saved["status"] in ("Unavailable", "Faulted"):
                connector.status, connector.error_code = saved["status"], saved.get("error_code") or "NoError"
            if saved and saved.get("plugged"):  # the EV's cable is still in
                connector.plugged = True
                if saved["status"] in PLUGGED_IDLE:
                    connector.status = saved["status"]
            meter = runtime.meters.get(key)
            if meter:
                connector.meter.energy_wh = float(meter["meter_wh"])
                connector.extra["seq_no"] = meter.get("seq_no", 0)
            connector.fault = dict(runtime.faults[key]) if key in runtime.faults else None
            transaction = runtime.transactions.get(key)
            if transaction:
                connector.transaction_id, connector.id_tag = transaction["transaction_id"], transaction["id_tag"]
                connector.extra["transaction"] = transaction["transaction_id"]
                if transaction.get("started_at"):
                    connector.extra["started_at"] = datetime.fromisoformat(transaction["started_at"])
                connector.plugged = bool(transaction.get("plugged"))
                if transaction["id_tag"] is not None:  # a 2.0.1 transaction begun by the plug draws once authorized
                    connector.meter.start(now)
                connector.meter.session_start_wh = float(transaction["meter_start"])
                if connector.status not in ("Faulted", "Unavailable"):
                    connector.status = self.transaction_status(connector)

    def initial_connectors(self) -> dict[tuple[int, int], Connector]:
        raise NotImplementedError

    def configured_heartbeat(self) -> int:
        raise NotImplementedError

    async def send_status(self, connector: Connector) -> None:
        raise NotImplementedError

    def status_targets(self) -> list[Connector]:
        """The connectors whose status is reported after boot (1.6 includes connector 0)."""
        return list(self.connectors.values())

    def transaction_status(self, connector: Connector) -> str:
        """The status a connector reports while its transaction runs."""
        raise NotImplementedError

    def sample_interval(self) -> int:
        """Seconds between meter samples during a transaction (0: none)."""
        return self.configuration.int_value(self.sample_interval_key, 60)  # type: ignore[attr-defined]

    async def send_meter_sample(self, connector: Connector) -> None:
        raise NotImplementedError

    def on_configuration_changed(self, key: str, value: str) -> None:
        """A configuration change takes effect at once, whoever made it."""
        if key == self.heartbeat_key:
            self.set_heartbeat_interval(int(value))
        elif key == self.sample_interval_key:
            self.resample()

    async def report_status(self, connector: Connector) -> None:
        """Tells the CSMS when it can (the status is recorded either way and reported after the next boot)."""
        if self.booted:
            with contextlib.suppress(Offline):
                await self.send_status(connector)
        if (connector.status, connector.error_code, connector.plugged) != self._observed_status(connector):
            self.observe(
                "connector_status_changed",
                connector.evse_id,
                connector.connector_id,
                connector.status,
                connector.error_code,
                connector.plugged,
            )

    async def set_status(self, connector: Connector, status: str, error_code: str = "NoError") -> None:
        """A connector that becomes free while a reservation holds it is Reserved, not Available."""
        if status == "Available" and connector.reservation_id is not None:
            status = "Reserved"
        connector.status, connector.error_code = status, error_code
        await self.report_status(connector)

    async def set_statuses(self, targets: list[Connector], status: str) -> None:
        """ChangeAvailability's effect: each connector that is not yet so; an available reserved one is Reserved."""
        for connector in targets:
            wanted = "Reserved" if status == "Available" and connector.reservation_id is not None else status
            if connector.status != wanted:
                await self.set_status(connector, wanted)

    def _observed_status(self, connector: Connector) -> tuple[str, str, bool] | None:
        saved = self.runtime.connectors.get(f"{connector.evse_id}/{connector.connector_id}")
        return (saved["status"], saved["error_code"], bool(saved.get("plugged"))) if saved else None

    def observe(self, observation: str, *details: Any) -> None:
        """Records an observation on the runtime aggregate (a ChargerRuntime method) for the next flush."""
        getattr(self.runtime, observation)(*details)
        self.recorder.observe(self.runtime)

    def connector_for(self, evse_id: int | None, connector_id: int | None) -> Connector | None:
        for connector in self.connectors.values():
            if (evse_id is None or connector.evse_id == evse_id) and (
                connector_id is None or connector.connector_id == connector_id
            ):
                return connector
        return None
