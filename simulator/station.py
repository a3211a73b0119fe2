"""What every simulated charge point shares, whatever its OCPP version: state, boot, heartbeat, status, recording.

A version module (v16, v201) subclasses the ocpp library's ChargePoint for its protocol and this mixin for the
behaviour; the runner only sees `run_session()` and `close_requested`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit
from uuid import UUID

from ocpp.exceptions import OCPPError
from ocpp.messages import Call, unpack

from application.waiting import wait_event
from domain.runtime import ChargerRuntime
from simulator.recorder import ObservationRecorder

log = logging.getLogger("ocpplab.simulator")
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
    """One connector as the charge point sees it."""

    evse_id: int
    connector_id: int
    status: str = "Available"
    error_code: str = "NoError"
    transaction_id: str | None = None
    id_tag: str | None = None
    reservation_id: int | None = None
    meter_wh: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Station:
    """Behaviour shared by both OCPP versions, mixed in before the ocpp library's ChargePoint (it wraps its call
    handling). The subclass provides the protocol-specific messages."""

    spec: ChargerSpec
    runtime: ChargerRuntime
    recorder: ObservationRecorder
    connectors: dict[tuple[int, int], Connector]

    def setup_station(self, spec: ChargerSpec, runtime: ChargerRuntime, recorder: ObservationRecorder) -> None:
        self.spec = spec
        self.runtime = runtime
        self.recorder = recorder
        self.booted = False
        self.close_requested: str | None = None  # "reset" when the CSMS asked for a reboot
        self.heartbeat_interval = self.configured_heartbeat()
        self._interval_changed = asyncio.Event()
        self._background: set[asyncio.Task] = set()
        self.connectors = self.initial_connectors()
        for key, saved in runtime.connectors.items():
            evse, connector = (int(part) for part in key.split("/"))
            if (evse, connector) in self.connectors and saved["status"] in ("Unavailable", "Faulted"):
                self.connectors[(evse, connector)].status = saved["status"]

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
            await self._end_tasks(receiving, working, *self._background)

    async def _end_tasks(self, *tasks: asyncio.Task) -> None:
        """Ends the session's tasks, boundedly: the ocpp library's calls (wait_for on 3.11) can swallow one
        cancellation, so close the connection first (pending calls then fail) and cancel again until done."""
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._connection.websocket.close(1000, self.close_requested or ""), 2)  # type: ignore[attr-defined]
        pending = {task for task in tasks if not task.done()}
        for _ in range(10):
            if not pending:
                return
            for task in pending:
                task.cancel()
            _, pending = await asyncio.wait(pending, timeout=0.5)
        log.warning("%s: %d task(s) did not end", self.spec.identity, len(pending))

    async def _work(self) -> None:
        await self.boot()
        for connector in self.status_targets():
            await self.report_status(connector)
        await self.heartbeat_forever()

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
                    self.set_heartbeat_interval(interval)
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
