"""The fleet supervisor: follows the event log and makes the running charge points match the chargers' events.

It folds Charger events into the specs of what should run, starts, restarts and stops runners accordingly,
and carries out the lifecycle commands addressed to its chargers (idempotent on command id). Several
workers share a fleet by charger id (each charger runs in exactly one worker).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID

from application.waiting import wait_event
from simulator.recorder import ObservationRecorder
from simulator.runner import ChargerMemory, ChargerRunner
from simulator.station import ChargerSpec

if TYPE_CHECKING:
    from application.gateway import Gateway

log = logging.getLogger("ocpplab.simulator.fleet")
CHARGER = "domain.charger:Charger."
COMMAND = "domain.command:Command."
FLEET_TOPICS = [
    *(CHARGER + name for name in ("Registered", "Updated", "RuntimeWanted", "Deleted")),
    *(COMMAND + name for name in ("Requested", "Completed", "Failed", "Expired")),
]
COMMAND_TTL = timedelta(seconds=60)
READ_BATCH = 500
LIFECYCLE = ("start_charger", "stop_charger", "reset_charger")


@dataclass
class PendingCommand:
    command_id: UUID
    charger_id: UUID
    kind: str
    requested_at: datetime
    payload: dict[str, Any] = field(default_factory=dict)


class Fleet:
    """Runs the charge points of one worker (shard `index` of `workers`)."""

    def __init__(
        self,
        gateway: Gateway,
        *,
        index: int = 0,
        workers: int = 1,
        poll_interval: float = 0.2,
        compression: bool = False,
    ) -> None:
        self.gateway = gateway
        self.index, self.workers = index, workers
        self.poll_interval = poll_interval
        self.compression = compression
        self.recorder = ObservationRecorder(gateway)
        self.specs: dict[UUID, ChargerSpec] = {}
        self.runners: dict[UUID, ChargerRunner] = {}
        self.memories: dict[UUID, ChargerMemory] = {}
        self._stopping: dict[UUID, asyncio.Task] = {}
        self.pending: dict[UUID, PendingCommand] = {}
        self.position = 0
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task | None = None
        self._listener: asyncio.Task | None = None

    def owns(self, charger_id: UUID) -> bool:
        return charger_id.int % self.workers == self.index

    # -- lifecycle --------------------------------------------------------------------------------------

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.recorder.start()
        self.gateway.saved_listeners.append(self.wake)
        await self.catch_up()
        self._task = asyncio.create_task(self._follow(), name="fleet-follow")
        self._listener = await start_notify_listener(self.gateway, self.wake)

    async def stop(self) -> None:
        """Stops every charge point cleanly (close 1000), then flushes what was observed."""
        with contextlib.suppress(ValueError):
            self.gateway.saved_listeners.remove(self.wake)
        for task in (self._task, self._listener):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        results = await asyncio.gather(
            *(runner.stop("gateway stopped") for runner in self.runners.values()),
            *self._stopping.values(),
            return_exceptions=True,
        )
        for failure in (r for r in results if isinstance(r, BaseException)):
            log.warning("a charger did not stop cleanly: %r", failure)
        self.runners.clear()
        await self.recorder.close()

    def wake(self, position: int | None = None) -> None:
        """Called after each save (possibly from a worker thread): look at the log now."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._wake.set)

    async def _follow(self) -> None:
        while True:
            await wait_event(self._wake, self.poll_interval)
            self._wake.clear()
            try:
                await self.catch_up()
                await self._expire_commands()
            except Exception:
                log.warning("the fleet could not follow the event log; retrying", exc_info=True)

    # -- following the log -----------------------------------------------------------------------------

    async def catch_up(self) -> None:
        """Folds every new charger and command event first, then reconciles once: a charger created and
        stopped long ago is never started on the way."""
        touched: set[UUID] = set()
        while True:
            position, batch = await asyncio.to_thread(self._read, self.position)
            for event in batch:
                touched |= self._fold(event)
            self.position = position
            if len(batch) < READ_BATCH:
                break
        for charger_id in touched:
            await self._reconcile(charger_id)
        await self._run_commands()

    def _read(self, position: int) -> tuple[int, list[Any]]:
        """The fleet's events after `position`, and the position to continue from. Reading up to the log's end
        as it was before the query moves the position past frames and other events too, so an idle poll reads
        nothing instead of rescanning them (positions are assigned in commit order by the store)."""
        end = self.gateway.recorder.max_notification_id() or 0
        notifications = self.gateway.recorder.select_notifications(
            start=position, limit=READ_BATCH, stop=end, topics=FLEET_TOPICS, inclusive_of_start=False
        )
        to_event = self.gateway.mapper.to_domain_event
        events = [to_event(n) for n in notifications]
        if len(notifications) == READ_BATCH:
            return notifications[-1].id, events
        return max(position, end), events

    def _fold(self, event: Any) -> set[UUID]:
        name = type(event).__qualname__
        if name.startswith("Command."):
            return self._fold_command(name, event)
        charger_id = event.originator_id
        spec = self.specs.get(charger_id)
        if name == "Charger.Registered":
            self.specs[charger_id] = ChargerSpec(
                charger_id=charger_id,
                tenant_id=event.tenant_id,
                identity=event.identity,
                ws_url=event.ws_url,
                ocpp_version=event.ocpp_version,
                model=event.model,
                authorization_key=getattr(event, "authorization_key", None),
            )
        elif spec is None:
            return set()
        elif name == "Charger.Updated":
            changes = {k: v for k, v in event.changes.items() if k in ("ws_url", "ocpp_version", "authorization_key")}
            if changes:
                self.specs[charger_id] = replace(spec, **changes)
        elif name == "Charger.RuntimeWanted":
            self.specs[charger_id] = replace(spec, running=event.running)
        elif name == "Charger.Deleted":
            del self.specs[charger_id]
        return {charger_id} if self.owns(charger_id) else set()

    def _fold_command(self, name: str, event: Any) -> set[UUID]:
        if name == "Command.Requested":
            if event.kind in LIFECYCLE and self.owns(event.charger_id):
                self.pending[event.originator_id] = PendingCommand(
                    event.originator_id, event.charger_id, event.kind, event.timestamp, event.payload
                )
        else:
            self.pending.pop(event.originator_id, None)
        return set()

    async def _reconcile(self, charger_id: UUID) -> None:
        """Starts, restarts or stops the runner so that it matches the spec."""
        spec = self.specs.get(charger_id)
        runner = self.runners.get(charger_id)
        wanted = spec is not None and spec.running
        if runner is not None and (not wanted or runner.spec != spec):
            # Stopping waits for the CSMS to answer the close: never hold up the other chargers for it.
            old = self.runners.pop(charger_id)
            stopping = asyncio.create_task(old.stop("deleted" if spec is None else "stopped"))
            self._stopping[charger_id] = stopping
            stopping.add_done_callback(lambda task: self._forget_stop(charger_id, task))
            runner = None
        if spec is None:
            self.memories.pop(charger_id, None)
        if wanted and runner is None:
            assert spec is not None
            key = self._unseal(spec)
            memory = self.memories.setdefault(charger_id, ChargerMemory(spec))
            runner = ChargerRunner(spec, self.gateway, self.recorder, key, memory, compression=self.compression)
            self.runners[charger_id] = runner
            runner.start(after=self._stopping.get(charger_id))  # its previous connection closes first

    def _forget_stop(self, charger_id: UUID, task: asyncio.Task) -> None:
        if self._stopping.get(charger_id) is task:
            del self._stopping[charger_id]

    def _unseal(self, spec: ChargerSpec) -> str | None:
        if not spec.authorization_key or self.gateway.secrets is None:
            return None
        try:
            return self.gateway.secrets.unseal(spec.authorization_key)
        except Exception:  # noqa: BLE001 - a key sealed with another secret key: connect without it
            log.error(
                "%s: cannot unseal the authorization key (is OCPPLAB_SECRET_KEY the same everywhere?)", spec.identity
            )
            return None

    async def _run_commands(self) -> None:
        """Lifecycle commands: the runners were reconciled above; record each outcome once."""
        for command in list(self.pending.values()):
            if datetime.now(UTC) - command.requested_at > COMMAND_TTL:
                continue  # expired below
            runner = self.runners.get(command.charger_id)
            if command.kind == "reset_charger":
                if runner is None or not runner.reset():
                    continue  # not connected (yet): stays queued until it is, or expires
                result = {"status": "Accepted", "detail": "charge point closed the connection and reboots"}
            elif command.kind == "start_charger":
                result = {"status": "Accepted", "runtime": "running" if runner else "stopped"}
            else:
                result = {"status": "Accepted", "runtime": "stopped" if runner is None else "running"}
            self.pending.pop(command.command_id, None)
            await asyncio.to_thread(self.gateway.finish_command, command.command_id, result=result)

    async def _expire_commands(self) -> None:
        for command in list(self.pending.values()):
            if datetime.now(UTC) - command.requested_at > COMMAND_TTL:
                self.pending.pop(command.command_id, None)
                await asyncio.to_thread(self.gateway.finish_command, command.command_id, expired=True)
        if self.pending:
            await self._run_commands()


async def start_notify_listener(gateway: Gateway, wake: Any) -> asyncio.Task | None:
    """On PostgreSQL, LISTEN to the event table's channel so other processes' saves wake the fleet at once."""
    channel = getattr(gateway.recorder, "channel_name", None)
    env = gateway.env
    if channel is None or not env.get("POSTGRES_DBNAME"):
        return None  # SQLite: polling only
    import psycopg
    from psycopg import sql

    async def listen() -> None:
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    dbname=env["POSTGRES_DBNAME"],
                    host=env.get("POSTGRES_HOST"),
                    port=env.get("POSTGRES_PORT"),
                    user=env.get("POSTGRES_USER"),
                    password=env.get("POSTGRES_PASSWORD") or None,
                    autocommit=True,
                ) as connection:
                    await connection.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
                    async for _ in connection.notifies():
                        wake()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("LISTEN on %s failed; polling meanwhile", channel, exc_info=True)
                await asyncio.sleep(1)

    return asyncio.create_task(listen(), name="fleet-listen")
