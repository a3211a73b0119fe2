"""What every simulated charge point shares, whatever its OCPP version: state, boot, heartbeat, status, recording.

A version module (v16, v201) subclasses the ocpp library's ChargePoint for its protocol and this mixin for the
behaviour; the runner only sees `run_session()` and `close_requested`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit
from uuid import UUID

from ocpp.exceptions import OCPPError
from ocpp.messages import Call, unpack

from application.waiting import wait_event
from domain.command import FAULT_ERROR_CODES, LOCAL_KINDS
from domain.runtime import ChargerRuntime
from simulator.charging_limits import ChargingLimits
from simulator.local_state import apply_local
from simulator.meter import Meter
from simulator.proxy import build_call
from simulator.recorder import ObservationRecorder
from simulator.reservation_desk import ReservationDesk, instant

log = logging.getLogger("ocpplab.simulator")
RESERVATION_DEFAULT = timedelta(minutes=30)  # a reservation made through the API without an expiry
DEFAULT_RETRY_INTERVAL = 30  # seconds between BootNotifications while Pending/Rejected without an interval


@dataclass(frozen=True)
class ChargerSpec:
    """What the simulator runs, folded from the Charger's events (desired state)."""

    charger_id: UUID
    tenant_id: str
    identity: str
    ws_url: str
    ocpp_version: str  # "OCPP1.6" | "OCPP2.0.1"
    model: dict[str, Any]
    authorization_key: str | None = None  # sealed
    running: bool = True
    security_profile: int | None = None  # None: 2 for wss://, 1 for ws:// (simulator/tls.py)
    csms_ca_certificate: str | None = None  # PEM
    client_certificate: str | None = None  # PEM
    client_private_key: str | None = None  # sealed

    @property
    def subprotocol(self) -> str:
        return self.ocpp_version.lower()

    @property
    def url(self) -> str:
        """The CSMS URL with the identity as the last path segment (a query string stays a query string)."""
        parts = urlsplit(self.ws_url)
        return urlunsplit(parts._replace(path=f"{parts.path.rstrip('/')}/{self.identity}"))


@dataclass
class Connector:
    """One connector as the charge point sees it, with the meter behind it."""

    evse_id: int
    connector_id: int
    status: str = "Available"
    error_code: str = "NoError"
    transaction_id: str | None = None
    id_tag: str | None = None
    reservation_id: int | None = None
    plugged: bool = False  # an EV's cable is in (plug-connector / start-session)
    fault: dict[str, Any] | None = None  # {"fault_type", "prior_status"} while a fault is injected
    meter: Meter = field(default_factory=lambda: Meter(max_power_w=0))
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.evse_id}/{self.connector_id}"

    @property
    def meter_wh(self) -> int:
        """The energy register now (Wh)."""
        self.meter.advance(time.monotonic())
        return self.meter.register_wh


class CommandRefused(Exception):
    """A command the charge point cannot carry out now, or that the CSMS turned down (the command fails)."""

    def __init__(self, reason: str, result: dict[str, Any] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.result = result


@dataclass
class Ticket:
    """A command handed to a charge point; the fleet hears when it starts, ends, or comes back unstarted."""

    kind: str
    payload: dict[str, Any]
    started: Callable[[], None]
    finished: Callable[[dict[str, Any] | None, str | None, dict[str, Any] | None], None]
    returned: Callable[[], None]


def _expired(expiry: str | None) -> bool:
    if not expiry:
        return False
    try:
        moment = datetime.fromisoformat(expiry.replace("Z", "+00:00"))
    except ValueError:
        return False
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)) < datetime.now(UTC)


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Station(ChargingLimits, ReservationDesk):
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
        self.booted = False
        self.close_requested: str | None = None  # "reset" when the CSMS asked for a reboot
        self.heartbeat_interval = self.configured_heartbeat()
        self._interval_changed = asyncio.Event()
        self._background: set[asyncio.Task] = set()
        self.auth_cache: dict[str, str] = {}
        self.commands: asyncio.Queue[Ticket] = asyncio.Queue()
        self.ready = False  # booted and statuses reported: commands may go out
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

    # -- protocol-specific, provided by v16 / v201 -------------------------------------------------------

    def initial_connectors(self) -> dict[tuple[int, int], Connector]:
        raise NotImplementedError

    def configured_heartbeat(self) -> int:
        raise NotImplementedError

    async def send_boot(self) -> tuple[str, int]:
        """Sends BootNotification; returns (status, interval)."""
        raise NotImplementedError

    async def send_heartbeat(self) -> None:
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

    # -- shared behaviour -------------------------------------------------------------------------------

    async def run_session(self) -> None:
        """Receives frames while booting and then heartbeating; returns or raises when the connection ends."""
        receiving = asyncio.create_task(self.start(), name=f"receive:{self.spec.identity}")  # type: ignore[attr-defined]
        working = asyncio.create_task(self._work(), name=f"work:{self.spec.identity}")
        try:
            done, _ = await asyncio.wait({receiving, working}, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()
        finally:
            self.ready = False
            await self._end_tasks(receiving, working, *self._background)
            self.return_unstarted()
            for connector in self.connectors.values():  # a gateway restart resumes from here
                if connector.transaction_id:
                    self.record_meter(connector)

    async def _end_tasks(self, *tasks: asyncio.Task) -> None:
        """Ends the session's tasks, boundedly: the ocpp library's calls (wait_for on 3.11) can swallow one
        cancellation, so close the connection first (pending calls then fail) and cancel again until done."""
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._connection.websocket.close(1000, self.close_requested or ""), 2)  # type: ignore[attr-defined]
        pending = {task for task in tasks if not task.done()}
        for _ in range(10):
            if not pending:
                break
            for task in pending:
                task.cancel()
            _, pending = await asyncio.wait(pending, timeout=0.5)
        else:
            log.warning("%s: %d task(s) did not end", self.spec.identity, len(pending))
        for task in tasks:  # their exceptions (a closed connection) are expected: retrieve them, log nothing
            if task.done() and not task.cancelled():
                task.exception()

    async def _work(self) -> None:
        self._spawn(self.follow_limits())
        self._spawn(self.follow_reservations())
        await self.boot()
        for connector in self.status_targets():
            await self.report_status(connector)
        for connector in self.connectors.values():
            if connector.transaction_id:
                self.start_metering(connector)  # a transaction that was running before a restart goes on
        self.ready = True
        self._spawn(self._serve_commands())
        await self.heartbeat_forever()

    # -- commands from the API --------------------------------------------------------------------------

    def submit(self, ticket: Ticket) -> None:
        self.commands.put_nowait(ticket)

    def return_unstarted(self) -> None:
        """The session ended: commands it never started go back to the fleet (they are still queued)."""
        while not self.commands.empty():
            self.commands.get_nowait().returned()

    async def _serve_commands(self) -> None:
        """One command at a time, in the order the API queued them."""
        while True:
            ticket = await self.commands.get()
            ticket.started()
            try:
                result = await self.perform(ticket.kind, ticket.payload)
            except CommandRefused as refused:
                ticket.finished(None, refused.reason, refused.result)
            except TimeoutError:
                ticket.finished(None, "timeout: the CSMS did not answer within the response timeout", None)
            except asyncio.CancelledError:
                ticket.finished(None, "failed: the connection ended before the command finished", None)
                raise
            except Exception as error:
                log.warning("%s: %s failed", self.spec.identity, ticket.kind, exc_info=True)
                ticket.finished(None, f"failed: {error}", None)
            else:
                ticket.finished(result, None, None)

    async def perform(self, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Carries out one command; `do_<kind>` methods take the payload's fields."""
        if kind in LOCAL_KINDS:
            return self.apply_local(kind, payload)
        handler = getattr(self, f"do_{kind}", None)
        if handler is None:
            raise CommandRefused(f"not possible: {kind} is not supported by this charge point")
        return await handler(**payload)

    def apply_local(self, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
        try:
            return apply_local(kind, payload, self.runtime, self.configuration, self.auth_cache, self.observe_local)  # type: ignore[attr-defined]
        except ValueError as error:
            raise CommandRefused(str(error)) from None

    def observe_local(self, observation: str, *details: Any) -> None:
        self.observe(observation, *details)
        if observation == "configuration_changed":
            self.on_configuration_changed(details[0], details[1])

    def connector_at(self, evse_id: int | None = None, connector_id: int | None = None) -> Connector:
        """The connector a command names (1.6: connector_id; 2.0.1: evse_id and connector_id)."""
        found = self.connectors.get(
            (evse_id, connector_id or 1) if evse_id is not None else (connector_id, connector_id)
        )
        if found is None or (found.evse_id == 0 and found.connector_id == 0):
            raise CommandRefused(f"not possible: no connector {evse_id or connector_id}")
        return found

    @staticmethod
    def usable(connector: Connector) -> None:
        if connector.status in ("Faulted", "Unavailable"):
            raise CommandRefused(f"not possible: connector {connector.key} is {connector.status}")

    def may_start(self, connector: Connector, id_tag: str) -> None:
        """A driver's start: refused on a broken connector or one reserved for someone else."""
        self.usable(connector)
        refusal = self.reservation_refusal(connector, id_tag)
        if refusal is not None:
            raise CommandRefused(refusal)

    async def do_reserve_now(
        self,
        id_tag: str,
        expiry_date: str | None = None,
        reservation_id: int | None = None,
        parent_id_tag: str | None = None,
        **selection: Any,
    ) -> dict[str, Any]:
        """Reserves a connector (or, with connector / EVSE 0, the charger) as the CSMS's ReserveNow would."""
        target = selection.get("evse_id", selection.get("connector_id", 0))
        expiry = instant(expiry_date) if expiry_date else datetime.now(UTC) + RESERVATION_DEFAULT
        if reservation_id is None:
            reservation_id = max(self.reservations.held, default=0) + 1
        status = self.reserve(target, id_tag, expiry, reservation_id, parent_id_tag)
        if status != "Accepted":
            raise CommandRefused(f"reservation refused: {status}", {"status": status})
        return {"reservation_id": reservation_id, "expiry_date": expiry.isoformat(), **selection, "status": status}

    async def do_cancel_reservation(self, reservation_id: int) -> dict[str, Any]:
        if not self.cancel_reservation(reservation_id):
            raise CommandRefused(f"not possible: no reservation {reservation_id}")
        return {"reservation_id": reservation_id, "status": "Accepted"}

    @staticmethod
    def claim(connector: Connector) -> None:
        """Takes a free connector for a transaction that is starting, before any await: a second start (a command
        or the CSMS's remote start) is refused until `release`."""
        if connector.transaction_id and connector.id_tag is not None:
            raise CommandRefused(
                f"not possible: connector {connector.key} already has transaction {connector.transaction_id}"
            )
        if connector.extra.get("starting"):
            raise CommandRefused(f"not possible: a transaction is starting on connector {connector.key}")
        connector.extra["starting"] = True

    @staticmethod
    def release(connector: Connector) -> None:
        connector.extra.pop("starting", None)

    @staticmethod
    def in_transaction(connector: Connector) -> str:
        if connector.transaction_id is None:
            raise CommandRefused(f"not possible: no transaction in progress on connector {connector.key}")
        return connector.transaction_id

    def transaction_by_id(self, transaction_id: str | None) -> Connector:
        """The connector of a transaction (the first running one when no id is given)."""
        for connector in self.status_targets():
            if connector.transaction_id and transaction_id in (None, connector.transaction_id):
                return connector
        raise CommandRefused(
            "not possible: no transaction in progress"
            + (f" with id {transaction_id}" if transaction_id is not None else "")
        )

    async def do_stop_session(self, **selection: Any) -> dict[str, Any]:
        connector = self.connector_at(**selection)
        transaction = self.in_transaction(connector)
        meter_stop = await self.stop_transaction(connector, "Local")  # type: ignore[attr-defined]
        return {"transaction_id": transaction, "meter_stop": meter_stop}

    async def do_stop_transaction(self, transaction_id: str | None = None) -> dict[str, Any]:
        connector = self.transaction_by_id(transaction_id)
        transaction = connector.transaction_id
        meter_stop = await self.stop_transaction(connector, "Local", report_status=False)  # type: ignore[attr-defined]
        return {"transaction_id": transaction, "meter_stop": meter_stop}

    async def do_inject_fault(self, fault_type: str, **selection: Any) -> dict[str, Any]:
        """The connector goes Faulted with the fault's error code; a running transaction stops first."""
        connector = self.connector_at(**selection)
        if connector.fault is None:
            if connector.transaction_id:  # the transaction stops; the connector goes straight to Faulted
                await self.stop_transaction(connector, "Other", report_status=False)  # type: ignore[attr-defined]
                connector.status = connector.extra.pop("pending_status", None) or self.idle_status(connector)
            connector.fault = {"fault_type": fault_type, "prior_status": connector.status}
            self.observe("fault_injected", connector.evse_id, connector.connector_id, fault_type, connector.status)
        else:
            connector.fault["fault_type"] = fault_type
        await self.set_status(connector, "Faulted", FAULT_ERROR_CODES[fault_type])
        await self.report_problem(connector, fault_type, True)
        return {"fault_type": fault_type, **selection, "status": "Faulted"}

    async def do_clear_fault(self, **selection: Any) -> dict[str, Any]:
        """The connector goes back to its status before the fault (idle if that was a transaction's)."""
        connector = self.connector_at(**selection)
        if connector.fault is None:
            raise CommandRefused(f"not possible: connector {connector.key} has no fault")
        fault_type, prior = connector.fault["fault_type"], connector.fault["prior_status"]
        connector.fault = None
        self.observe("fault_cleared", connector.evse_id, connector.connector_id)
        if prior in ("Charging", "SuspendedEV", "SuspendedEVSE", "Faulted"):
            prior = self.idle_status(connector)
        await self.report_problem(connector, fault_type, False)
        await self.set_status(connector, prior)
        return {"fault_type": fault_type, **selection, "status": prior}

    @staticmethod
    def idle_status(connector: Connector) -> str:
        """The status of a connector without a transaction."""
        raise NotImplementedError

    async def report_problem(self, connector: Connector, fault_type: str, active: bool) -> None:
        """A fault raised or cleared, beyond the status (2.0.1: NotifyEvent); nothing more in 1.6."""

    async def do_power_update(self, power_w: int, **selection: Any) -> dict[str, Any]:
        connector = self.connector_at(**selection)
        connector.meter.set(time.monotonic(), limit_w=power_w)
        return {"power_w": connector.meter.offered_w, "max_power_w": connector.meter.max_power_w}

    async def do_proxy_message(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        message = build_call(self.spec.ocpp_version, action, payload)
        answer = await self.call(message)  # type: ignore[attr-defined]
        if answer is None:
            raise CommandRefused(f"CSMS answered CallError to {message.__class__.__name__}")
        return {"action": message.__class__.__name__, "answer": asdict(answer)}

    async def do_authorize_id_tag(self, id_tag: str) -> dict[str, Any]:
        status = await self.authorize(id_tag)
        if status != "Accepted":
            raise CommandRefused(f"id tag rejected: {status}", {"id_tag_status": status})
        return {"id_tag_status": status}

    async def authorize(self, id_tag: str) -> str:
        """Sends Authorize; the CSMS's verdict (and the auth cache learns it)."""
        raise NotImplementedError

    async def authorize_for_start(self, id_tag: str) -> str:
        """A tag the charger already holds as Accepted starts at once when LocalPreAuthorize is on (OCPP: the
        local list first, then the auth cache); anything else goes to the CSMS, whose verdict counts."""
        if self.known_verdict(id_tag) == "Accepted":
            return "Accepted"
        return await self.authorize(id_tag)

    def known_verdict(self, id_tag: str) -> str | None:
        pre_authorize, list_enabled, cache_enabled = self.authorization_keys
        configuration = self.configuration  # type: ignore[attr-defined]
        if not configuration.bool_value(pre_authorize, False):
            return None
        if configuration.bool_value(list_enabled, True):
            for entry in self.runtime.local_list["entries"]:
                if entry["id_tag"] == id_tag and not _expired(entry.get("expiry_date")):
                    return entry.get("status", "Accepted")
        return self.auth_cache.get(id_tag) if configuration.bool_value(cache_enabled, True) else None

    # -- transactions and metering --------------------------------------------------------------------

    def begin_transaction(self, connector: Connector, transaction_id: str, id_tag: str | None, drawing: bool) -> None:
        connector.transaction_id, connector.id_tag = transaction_id, id_tag
        connector.extra["started_at"] = started = datetime.now(UTC)
        if drawing:
            connector.meter.start(time.monotonic())
        else:
            connector.meter.advance(time.monotonic())
        self.observe(
            "transaction_started",
            connector.evse_id,
            connector.connector_id,
            transaction_id,
            id_tag,
            connector.meter.register_wh,
            connector.plugged,
            started.isoformat(),
        )
        self.apply_limits()
        self.start_metering(connector)

    def end_transaction(self, connector: Connector, transaction_id: str, reason: str) -> int:
        """Stops the meter and records the end; returns meterStop (Wh)."""
        connector.meter.stop(time.monotonic())
        connector.transaction_id = None
        connector.extra.pop("started_at", None)
        self.profiles_ended_with(connector)
        task = connector.extra.pop("metering", None)
        if task is not None and task is not asyncio.current_task():
            task.cancel()
        meter_stop = connector.meter.register_wh
        self.observe("transaction_ended", connector.evse_id, connector.connector_id, transaction_id, meter_stop, reason)
        return meter_stop

    def start_metering(self, connector: Connector) -> None:
        previous = connector.extra.get("metering")
        if previous is not None and not previous.done():
            return
        task = asyncio.create_task(self._meter_loop(connector))
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        connector.extra["metering"] = task

    def resample(self) -> None:
        """The sample interval changed: every metering loop starts a new interval from now."""
        for connector in self.connectors.values():
            event = connector.extra.get("resample")
            if event is not None:
                event.set()

    async def _meter_loop(self, connector: Connector) -> None:
        """Samples the meter every configured interval while the transaction runs."""
        transaction = connector.transaction_id
        resample = connector.extra.setdefault("resample", asyncio.Event())
        while connector.transaction_id == transaction and transaction is not None:
            interval = self.sample_interval()
            resample.clear()
            if await wait_event(resample, interval if interval > 0 else 3600):
                continue  # a new interval applies from now
            if interval <= 0 or connector.transaction_id != transaction:
                continue
            self.apply_limits()  # the sample shows the limit in force now
            try:
                await self.send_meter_sample(connector)
            except (TimeoutError, CommandRefused) as error:  # sampling goes on: the next sample may be answered
                log.info("%s: a meter sample was not answered: %s", self.spec.identity, error)
            self.record_meter(connector)

    def record_meter(self, connector: Connector) -> None:
        """Records the register (and the next 2.0.1 seqNo) so a restarted gateway continues from it."""
        self.observe(
            "meter_read",
            connector.evse_id,
            connector.connector_id,
            connector.meter_wh,
            connector.extra.get("seq_no", 0),
        )

    async def boot(self) -> None:
        """BootNotification until Accepted; Pending/Rejected retry after the CSMS's interval (or 30 s)."""
        while True:
            try:
                status, interval = await self.send_boot()
            except TimeoutError:
                status, interval = "Timeout", 0
            if status in ("Accepted", "Pending", "Rejected"):
                self.observe("boot_answered", status, interval)
            if status == "Accepted":
                self.booted = True
                if interval > 0:
                    self.adopt_heartbeat_interval(interval)
                return
            await asyncio.sleep(interval if interval > 0 else DEFAULT_RETRY_INTERVAL)

    async def heartbeat_forever(self) -> None:
        while True:
            self._interval_changed.clear()
            if await wait_event(self._interval_changed, max(1, self.heartbeat_interval)):
                continue  # the interval changed: wait the new one from now
            try:
                await self.send_heartbeat()
            except TimeoutError:
                log.info("%s: no answer to Heartbeat", self.spec.identity)

    def adopt_heartbeat_interval(self, seconds: int) -> None:
        """The boot answer's interval becomes the HeartbeatInterval configuration value (recorded when it changes,
        so the API reads what the charge point holds)."""
        value = str(seconds)
        configuration = self.configuration  # type: ignore[attr-defined]
        if configuration.value(self.heartbeat_key) != value and configuration.change(self.heartbeat_key, value) in (
            "Accepted",
            "RebootRequired",
        ):
            self.observe("configuration_changed", self.heartbeat_key, value, "boot")
        self.set_heartbeat_interval(seconds)

    def set_heartbeat_interval(self, seconds: int) -> None:
        """A new interval applies at once (boot answer, ChangeConfiguration, SetVariables)."""
        if seconds > 0 and seconds != self.heartbeat_interval:
            self.heartbeat_interval = seconds
            self._interval_changed.set()

    async def report_status(self, connector: Connector) -> None:
        await self.send_status(connector)
        if (connector.status, connector.error_code) != self._observed_status(connector):
            self.observe(
                "connector_status_changed",
                connector.evse_id,
                connector.connector_id,
                connector.status,
                connector.error_code,
            )

    async def set_status(self, connector: Connector, status: str, error_code: str = "NoError") -> None:
        connector.status, connector.error_code = status, error_code
        await self.report_status(connector)

    def _observed_status(self, connector: Connector) -> tuple[str, str] | None:
        saved = self.runtime.connectors.get(f"{connector.evse_id}/{connector.connector_id}")
        return (saved["status"], saved["error_code"]) if saved else None

    def observe(self, observation: str, *details: Any) -> None:
        """Records an observation on the runtime aggregate (a ChargerRuntime method) for the next flush."""
        getattr(self.runtime, observation)(*details)
        self.recorder.observe(self.runtime)

    async def route_message(self, raw_msg: str) -> None:
        """Routes a frame from the CSMS; a malformed one gets the proper CallError and the connection stays up."""
        try:
            msg = unpack(raw_msg)
        except OCPPError as error:
            await self._answer_malformed(raw_msg, error)
            return
        if isinstance(msg, Call):
            try:
                await self._handle_call(msg)
            except OCPPError as error:
                log.info("%s: refused %s: %s", self.spec.identity, msg.action, error)
                await self._send(self._call_error(msg.unique_id, error))  # type: ignore[attr-defined]
        else:
            self._response_queue.put_nowait(msg)  # type: ignore[attr-defined]

    async def _answer_malformed(self, raw: str, error: OCPPError) -> None:
        try:
            frame = json.loads(raw)
        except ValueError:
            frame = None
        message_type = frame[0] if isinstance(frame, list) and frame else None
        if message_type in (3, 4):
            log.warning("%s: ignored a malformed answer from the CSMS: %.200s", self.spec.identity, raw)
            return  # never answer an answer
        message_id = str(frame[1]) if isinstance(frame, list) and len(frame) > 1 else "-1"
        log.warning("%s: malformed frame from the CSMS (%s): %.200s", self.spec.identity, error.code, raw)
        await self._send(self._call_error(message_id, error))  # type: ignore[attr-defined]

    def _call_error(self, message_id: str, error: OCPPError) -> str:
        """A CallError in this version's vocabulary (the library uses 2.0.1's FormatViolation for both)."""
        code = error.code
        if self.spec.ocpp_version == "OCPP1.6" and code == "FormatViolation":
            code = "FormationViolation"
        elif self.spec.ocpp_version != "OCPP1.6" and code == "FormationViolation":
            code = "FormatViolation"
        description = (error.description or code)[:255]
        details = error.details if isinstance(error.details, dict) else {}
        return json.dumps([4, message_id, code, description, details], separators=(",", ":"), default=str)

    async def _handle_call(self, msg: Any) -> Any:
        """Holds the follow-ups a handler schedules until its CallResult is on the wire (the library may
        validate the answer in a thread pool, so scheduling alone would not keep a follow-up CALL behind it)."""
        self._held: list[Any] | None = []
        held = self._held
        try:
            return await super()._handle_call(msg)  # type: ignore[misc]
        finally:
            self._held = None
            for coroutine in held:
                self._spawn(coroutine)

    def after(self, coroutine: Any) -> None:
        """Runs follow-up messages of a CSMS call after its answer went out (the answer comes first on the wire)."""
        if getattr(self, "_held", None) is not None:
            self._held.append(coroutine)  # type: ignore[union-attr]
        else:
            self._spawn(coroutine)

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.create_task(self._guarded(coroutine))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _guarded(self, coroutine: Any) -> None:
        try:
            await coroutine
        except asyncio.CancelledError:
            raise
        except Exception:
            log.warning("%s: follow-up failed", self.spec.identity, exc_info=True)

    def apply_local_list(self, version: int, update_type: str, changes: list[tuple[str, dict | None]]) -> bool:
        """SendLocalList for both versions: Full replaces the list, Differential needs a newer version and
        removes the entries without info. False on a version mismatch (nothing changes)."""
        current = self.runtime.local_list
        differential = update_type == "Differential"
        if differential and version <= current["version"]:
            return False
        entries = {e["id_tag"]: e for e in current["entries"]} if differential else {}
        for id_tag, entry in changes:
            if entry is None:
                entries.pop(id_tag, None)
            else:
                entries[id_tag] = entry
        self.observe("local_list_changed", version, list(entries.values()))
        return True

    def connector_for(self, evse_id: int | None, connector_id: int | None) -> Connector | None:
        for connector in self.connectors.values():
            if (evse_id is None or connector.evse_id == evse_id) and (
                connector_id is None or connector.connector_id == connector_id
            ):
                return connector
        return None

    def request_close(self, reason: str) -> None:
        """Ends the session (the runner reconnects at once for a reset)."""
        self.close_requested = reason
        self.after(self._close())

    async def _close(self) -> None:
        await asyncio.sleep(0.05)
        await self._connection.websocket.close(1000, self.close_requested or "")  # type: ignore[attr-defined]
