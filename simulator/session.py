"""A charge point's life and its connections' lives: the station runs (meters, commands, queued transaction
messages, followers) for as long as its charger is wanted running; each connection boots, reports the statuses and
heartbeats, and ends boundedly. Between connections the station is offline: it goes on charging and acting on the
driver's commands, and what it cannot send waits (simulator/outbox.py).

A mixin of the Station (simulator/station.py): it uses the station's state and the version's hooks."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from websockets.exceptions import ConnectionClosed

from application.waiting import wait_event
from domain.command import DRIVER_KINDS
from simulator.model import Offline

log = logging.getLogger("ocpplab.simulator")
DEFAULT_RETRY_INTERVAL = 30  # seconds between BootNotifications while Pending/Rejected without an interval


class Session:
    """A charge point's life and its connections' lives."""

    # -- the station's life ---------------------------------------------------------------------------------

    def start_station(self) -> None:
        """Starts what runs for the station's whole life, connected or not."""
        self.running = True
        self._spawn(self._serve_commands())  # type: ignore[attr-defined]
        self.deliver_soon()  # type: ignore[attr-defined]  # what waited in the recorded queue
        if self.charging.profiles:  # type: ignore[attr-defined]
            self.follow("limits", self.follow_limits)  # type: ignore[attr-defined]
        if self.reservations.held:  # type: ignore[attr-defined]
            self.follow("reservations", self.follow_reservations)  # type: ignore[attr-defined]
        for connector in self.connectors.values():  # type: ignore[attr-defined]
            if connector.transaction_id:
                self.start_metering(connector)  # type: ignore[attr-defined]  # a transaction from before goes on

    async def stop_station(self) -> None:
        """The charger is no longer wanted running (or the gateway stops): everything ends, what must outlive
        this process is recorded (meters, undelivered messages) and unstarted commands go back to the fleet."""
        self.running = False
        await self._end_tasks(*self._background)
        self.return_unstarted()  # type: ignore[attr-defined]
        self.connection_lost_by_outbox()  # type: ignore[attr-defined]
        for connector in self.connectors.values():  # type: ignore[attr-defined]
            if connector.transaction_id:
                self.record_meter(connector)  # type: ignore[attr-defined]

    def lost_the_csms(self) -> None:
        """The CSMS cannot be reached (a failed connect, a lost connection): a charge point the CSMS accepted before
        goes on alone; one never accepted waits for its first boot (its commands stay queued)."""
        self.offline = self.runtime.accepted_once  # type: ignore[attr-defined]

    def takes(self, kind: str) -> bool:
        """Whether a command of this kind can go to the station now: anything once it is booted, what happens at
        the charge point itself also while it cannot reach the CSMS."""
        return self.ready or (self.offline and kind in DRIVER_KINDS)  # type: ignore[attr-defined]

    @property
    def linked(self) -> bool:
        return self._connection is not None  # type: ignore[attr-defined]

    # -- one connection's life ------------------------------------------------------------------------------

    async def run_session(self, connection: Any = None) -> None:
        """Receives frames while booting and then heartbeating on `connection` (or the one the station was built
        with); returns or raises when the connection ends."""
        if connection is not None:
            self._connection = connection
            self._response_queue = asyncio.Queue()  # no answer of an earlier connection is waited for
        self.close_requested = None
        receiving = asyncio.create_task(self.start(), name=f"receive:{self.spec.identity}")  # type: ignore[attr-defined]
        working = asyncio.create_task(self._work(), name=f"work:{self.spec.identity}")
        try:
            done, _ = await asyncio.wait({receiving, working}, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()
        finally:
            self.ready = self.booted = False
            if self.close_requested != "reset":  # a reboot reconnects at once: it is not an outage
                self.lost_the_csms()
            link, self._connection = self._connection, None
            self._cut_off_calls()
            self.connection_lost_by_outbox()  # type: ignore[attr-defined]
            await self._close(link)
            await self._end_tasks(receiving, working)
            self.return_unstarted()  # type: ignore[attr-defined]  # the fleet hands back what may run offline
            for connector in self.connectors.values():  # type: ignore[attr-defined]  # a restart resumes from here
                if connector.transaction_id:
                    self.record_meter(connector)  # type: ignore[attr-defined]

    async def _work(self) -> None:
        await self.boot()
        for connector in self.status_targets():  # type: ignore[attr-defined]
            await self.report_status(connector)  # type: ignore[attr-defined]
        self.ready, self.offline = True, False
        if self.pending_security_events:  # type: ignore[attr-defined]  # noted before or during this boot
            self._spawn(self.report_security_events())  # type: ignore[attr-defined]
        self.deliver_soon()  # type: ignore[attr-defined]  # what waited goes out now, in order
        await self.heartbeat_forever()

    async def boot(self) -> None:
        """BootNotification until Accepted; Pending/Rejected retry after the CSMS's interval (or 30 s)."""
        while True:
            try:
                status, interval = await self.send_boot()  # type: ignore[attr-defined]
            except TimeoutError:
                status, interval = "Timeout", 0
            if status in ("Accepted", "Pending", "Rejected"):
                self.observe("boot_answered", status, interval)  # type: ignore[attr-defined]
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
                await self.send_heartbeat()  # type: ignore[attr-defined]
            except TimeoutError:
                log.info("%s: no answer to Heartbeat", self.spec.identity)  # type: ignore[attr-defined]

    def adopt_heartbeat_interval(self, seconds: int) -> None:
        """The boot answer's interval becomes the HeartbeatInterval configuration value (recorded when it changes,
        so the API reads what the charge point holds)."""
        value = str(seconds)
        configuration = self.configuration  # type: ignore[attr-defined]
        if configuration.value(self.heartbeat_key) != value and configuration.change(self.heartbeat_key, value) in (  # type: ignore[attr-defined]
            "Accepted",
            "RebootRequired",
        ):
            self.observe("configuration_changed", self.heartbeat_key, value, "boot")  # type: ignore[attr-defined]
        self.set_heartbeat_interval(seconds)

    def set_heartbeat_interval(self, seconds: int) -> None:
        """A new interval applies at once (boot answer, ChangeConfiguration, SetVariables)."""
        if seconds > 0 and seconds != self.heartbeat_interval:
            self.heartbeat_interval = seconds
            self._interval_changed.set()

    # -- calls on the current connection ----------------------------------------------------------------------

    async def call(
        self, payload: Any, suppress: bool = True, unique_id: Any = None, skip_schema_validation: bool = False
    ) -> Any:
        """The ocpp library's call on the current connection: Offline without one, or when it ends first."""
        if self._connection is None:  # type: ignore[attr-defined]
            raise Offline("the charge point is not connected to the CSMS")
        task = asyncio.current_task()
        self._calling.add(task)
        try:
            return await super().call(payload, suppress, unique_id, skip_schema_validation)  # type: ignore[misc]
        except ConnectionClosed as closed:
            raise Offline(f"the connection ended: {closed}") from None
        except asyncio.CancelledError:
            if task not in self._cut_off:
                raise
            task.uncancel()  # type: ignore[union-attr]
            raise Offline("the connection ended before the answer") from None
        finally:
            self._calling.discard(task)
            self._cut_off.discard(task)

    async def notify(self, message: Any) -> Any:
        """Sends a message that only matters now (a status, an event): on an accepted connection, else not at all
        (the charge point reports its statuses after the next boot)."""
        if not self.booted:
            return None
        with contextlib.suppress(Offline):
            return await self.call(message)
        return None

    def _cut_off_calls(self) -> None:
        """Calls waiting for an answer on the ended connection raise Offline in their senders."""
        for task in list(self._calling):
            if task is not None and not task.done():
                self._cut_off.add(task)
                task.cancel()

    async def _close(self, link: Any) -> None:
        if link is None:
            return
        with contextlib.suppress(Exception):
            await asyncio.wait_for(link.websocket.close(1000, self.close_requested or ""), 2)

    async def _end_tasks(self, *tasks: asyncio.Task) -> None:
        """Ends tasks boundedly: the ocpp library's calls (wait_for on 3.11) can swallow one cancellation, so the
        connection is closed first (pending calls then fail) and cancelled again until done."""
        pending = {task for task in tasks if not task.done()}
        for _ in range(10):
            if not pending:
                break
            for task in pending:
                task.cancel()
            _, pending = await asyncio.wait(pending, timeout=0.5)
        else:
            log.warning("%s: %d task(s) did not end", self.spec.identity, len(pending))  # type: ignore[attr-defined]
        for task in tasks:  # their exceptions (a closed connection) are expected: retrieve them, log nothing
            if task.done() and not task.cancelled():
                task.exception()

    # -- tasks ---------------------------------------------------------------------------------------------

    def _spawn(self, coroutine: Any) -> asyncio.Task:
        task = asyncio.create_task(self._guarded(coroutine))
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    def follow(self, name: str, work: Callable[[], Any]) -> None:
        """Runs one follower (of the limits, of the reservations) for the rest of the station's life, once it has
        work: a charger without profiles or reservations keeps no task for them."""
        task = self._followers.get(name)
        if self.running and (task is None or task.done()):
            self._followers[name] = self._spawn(work())

    async def _guarded(self, coroutine: Any) -> None:
        try:
            await coroutine
        except asyncio.CancelledError:
            raise
        except Offline as offline:
            log.info("%s: a follow-up did not go out: %s", self.spec.identity, offline)  # type: ignore[attr-defined]
        except Exception:
            log.warning("%s: follow-up failed", self.spec.identity, exc_info=True)  # type: ignore[attr-defined]

    def request_close(self, reason: str) -> None:
        """Ends the connection (the runner reconnects at once for a reset)."""
        self.close_requested = reason
        self.after(self._close_soon())  # type: ignore[attr-defined]

    async def _close_soon(self) -> None:
        await asyncio.sleep(0.05)
        if self._connection is not None:  # type: ignore[attr-defined]
            await self._connection.websocket.close(1000, self.close_requested or "")  # type: ignore[attr-defined]
