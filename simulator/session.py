"""One connection's life: boot, heartbeats, the follow-up tasks, and the bounded end of it all.

A mixin of the Station (simulator/station.py): it uses the station's state and the version's hooks."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from application.waiting import wait_event

log = logging.getLogger("ocpplab.simulator")
DEFAULT_RETRY_INTERVAL = 30  # seconds between BootNotifications while Pending/Rejected without an interval


class Session:
    """One connection's life."""

    async def run_session(self) -> None:
        """Receives frames while booting and then heartbeating; returns or raises when the connection ends."""
        receiving = asyncio.create_task(self.start(), name=f"receive:{self.spec.identity}")  # type: ignore[attr-defined]
        working = asyncio.create_task(self._work(), name=f"work:{self.spec.identity}")
        try:
            done, _ = await asyncio.wait({receiving, working}, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()
        finally:
            self.ready = self.session_open = False
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
        self.session_open = True
        if self.charging.profiles:
            self.follow("limits", self.follow_limits)
        if self.reservations.held:
            self.follow("reservations", self.follow_reservations)
        await self.boot()
        for connector in self.status_targets():
            await self.report_status(connector)
        for connector in self.connectors.values():
            if connector.transaction_id:
                self.start_metering(connector)  # a transaction that was running before a restart goes on
        self.ready = True
        self._spawn(self._serve_commands())
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

    def _spawn(self, coroutine: Any) -> asyncio.Task:
        task = asyncio.create_task(self._guarded(coroutine))
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    def follow(self, name: str, work: Callable[[], Any]) -> None:
        """Runs one follower (of the limits, of the reservations) for the rest of the session, once it has work:
        a charger without profiles or reservations keeps no task for them."""
        task = self._followers.get(name)
        if self.session_open and (task is None or task.done()):
            self._followers[name] = self._spawn(work())

    async def _guarded(self, coroutine: Any) -> None:
        try:
            await coroutine
        except asyncio.CancelledError:
            raise
        except Exception:
            log.warning("%s: follow-up failed", self.spec.identity, exc_info=True)

    def request_close(self, reason: str) -> None:
        """Ends the session (the runner reconnects at once for a reset)."""
        self.close_requested = reason
        self.after(self._close())

    async def _close(self) -> None:
        await asyncio.sleep(0.05)
        await self._connection.websocket.close(1000, self.close_requested or "")  # type: ignore[attr-defined]
