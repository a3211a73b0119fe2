"""The fleet supervisor: follows the event log and makes the running charge points match the chargers' events.

It folds Charger events into the specs of what should run, starts, restarts and stops runners accordingly,
and carries out the lifecycle commands addressed to its chargers (idempotent on command id). Several
workers share a fleet by charger id (each charger runs in exactly one worker).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID

from application.waiting import wait_event
from domain.command import LIFECYCLE_KINDS, LOCAL_KINDS, Command
from domain.configuration import configuration_for
from simulator.local_state import apply_local
from simulator.memory import CollectorSettler
from simulator.recorder import ObservationRecorder
from simulator.runner import ChargerMemory, ChargerRunner
from simulator.station import ChargerSpec, CommandRefused, Ticket
from simulator.tls import TlsContexts

if TYPE_CHECKING:
    from application.gateway import Gateway

log = logging.getLogger("ocpplab.simulator.fleet")
CHARGER = "domain.charger:Charger."
COMMAND = "domain.command:Command."
FLEET_TOPICS = [
    *(CHARGER + name for name in ("Registered", "Updated", "RuntimeWanted", "Deleted")),
    *(COMMAND + name for name in ("Requested", "Sent", "Completed", "Failed", "Expired")),
]
SPEC_CHANGES = (
    "ws_url",
    "ocpp_version",
    "authorization_key",
    "security_profile",
    "csms_ca_certificate",
    "client_certificate",
    "client_private_key",
)
COMMAND_TTL = timedelta(seconds=60)
READ_BATCH = 500
INTERRUPTED = "failed: the gateway restarted while the command was in progress"


@dataclass
class PendingCommand:
    """A command waiting for its charger: the record (rebuilt from its events) and when it was asked for."""

    command: Command
    requested_at: datetime

    @property
    def charger_id(self) -> UUID:
        return self.command.charger_id


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
        self.tls = TlsContexts()
        self._stopping: dict[UUID, asyncio.Task] = {}
        self.pending: dict[UUID, PendingCommand] = {}
        self._interrupted: dict[UUID, Command] = {}  # sent before this process started, never finished
        self._following = False
        self.settler = CollectorSettler()
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
        self._following = True
        for command in self._interrupted.values():
            self._finish(command, reason=INTERRUPTED)
        self._interrupted.clear()
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
                self._expire_commands()
                self.settler.settle(len(self.runners))
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
                security_profile=getattr(event, "security_profile", None),
                csms_ca_certificate=getattr(event, "csms_ca_certificate", None),
                client_certificate=getattr(event, "client_certificate", None),
                client_private_key=getattr(event, "client_private_key", None),
            )
        elif spec is None:
            return set()
        elif name == "Charger.Updated":
            changes = {k: v for k, v in event.changes.items() if k in SPEC_CHANGES}
            if changes:
                self.specs[charger_id] = replace(spec, **changes)
        elif name == "Charger.RuntimeWanted":
            self.specs[charger_id] = replace(spec, running=event.running)
        elif name == "Charger.Deleted":
            del self.specs[charger_id]
        return {charger_id} if self.owns(charger_id) else set()

    def _fold_command(self, name: str, event: Any) -> set[UUID]:
        command_id = event.originator_id
        if name == "Command.Requested":
            if self.owns(event.charger_id):
                self.pending[command_id] = PendingCommand(event.mutate(None), event.timestamp)
            return set()
        waiting = self.pending.pop(command_id, None)
        if name == "Command.Sent" and waiting is not None and not self._following:
            self._interrupted[command_id] = event.mutate(waiting.command)
        elif name != "Command.Sent":
            self._interrupted.pop(command_id, None)
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
            context, problem = self._tls_context(spec)
            runner = ChargerRunner(
                spec,
                self.gateway,
                self.recorder,
                key,
                memory,
                compression=self.compression,
                ssl_context=context,
                tls_problem=problem,
            )
            self.runners[charger_id] = runner
            runner.start(after=self._stopping.get(charger_id))  # its previous connection closes first
            self.settler.started()

    def _tls_context(self, spec: ChargerSpec) -> tuple[Any, str | None]:
        """The charger's TLS context (shared with chargers of the same material), or why there is none."""
        self.tls.forget_unused({id(r.ssl_context) for r in self.runners.values() if r.ssl_context is not None})
        try:
            client_key = self._unseal_secret(spec.client_private_key, spec.identity, "client private key")
            return self.tls.for_spec(spec, client_key), None
        except Exception as error:  # noqa: BLE001 - bad material: the runner reports it instead of connecting
            log.error("%s: cannot build the TLS context: %s", spec.identity, error)
            return None, f"cannot load the TLS settings ({error})"

    def _unseal_secret(self, sealed: str | None, identity: str, what: str) -> str | None:
        if not sealed or self.gateway.secrets is None:
            return None
        try:
            return self.gateway.secrets.unseal(sealed)
        except Exception:  # noqa: BLE001
            raise ValueError(f"cannot unseal the {what} (is OCPPLAB_SECRET_KEY the same everywhere?)") from None

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
        """Hands each waiting command to its charger when it can take it; records outcomes that are known now."""
        now = datetime.now(UTC)
        for waiting in sorted(self.pending.values(), key=lambda w: w.requested_at):
            if now - waiting.requested_at > COMMAND_TTL:
                continue  # expired below
            command = waiting.command
            if command.kind in LIFECYCLE_KINDS:
                self._run_lifecycle(waiting)
            elif command.kind in LOCAL_KINDS:
                del self.pending[command.id]
                try:
                    await self._apply_local(command)
                except Exception as error:
                    log.warning("could not apply %s to %s", command.kind, command.charger_id, exc_info=True)
                    self._finish(command, reason=f"failed: {error}")
            else:
                self._hand_over(waiting)

    def _run_lifecycle(self, waiting: PendingCommand) -> None:
        """Lifecycle commands: the runners were reconciled already; record each outcome once."""
        command = waiting.command
        runner = self.runners.get(command.charger_id)
        if command.kind == "reset_charger":
            if runner is None or not runner.reset():
                return  # not connected (yet): stays queued until it is, or expires
            result = {"status": "Accepted", "detail": "charge point closed the connection and reboots"}
        elif command.kind == "start_charger":
            result = {"status": "Accepted", "runtime": "running" if runner else "stopped"}
        else:
            result = {"status": "Accepted", "runtime": "stopped" if runner is None else "running"}
        del self.pending[command.id]
        self._finish(command, result=result)

    def _hand_over(self, waiting: PendingCommand) -> None:
        """A wire command goes to its charge point once that is booted; a charger that is no longer wanted
        running (or no longer exists) fails it."""
        command = waiting.command
        spec = self.specs.get(command.charger_id)
        if spec is None or not spec.running:
            del self.pending[command.id]
            gone = "deleted" if spec is None else "stopped"
            self._finish(command, reason=f"not possible: the charger was {gone} before the command was sent")
            return
        runner = self.runners.get(command.charger_id)
        station = runner.station if runner is not None else None
        if station is None or not station.takes(command.kind):
            return  # stays queued: sent after the next boot (or at once if the charge point goes offline), or expires
        del self.pending[command.id]
        station.submit(self._ticket(waiting))

    def _ticket(self, waiting: PendingCommand) -> Ticket:
        command = waiting.command

        def started() -> None:
            command.mark_sent(None)
            self.recorder.record(command)

        def finished(result: dict | None, reason: str | None, failure: dict | None) -> None:
            self._finish(command, result=result, reason=reason, failure=failure)

        def returned() -> None:
            if not command.done:
                self.pending[command.id] = waiting
                self.wake()

        return Ticket(command.kind, command.payload, started, finished, returned)

    async def _apply_local(self, command: Command) -> None:
        """Configuration, auth cache and local list: on the connected charge point, or else on its recorded state
        (a stopped or offline charger changes too, and starts with the change)."""
        runner = self.runners.get(command.charger_id)
        if runner is not None and runner.station is not None:
            try:
                result = runner.station.apply_local(command.kind, command.payload)
            except CommandRefused as refused:
                self._finish(command, reason=refused.reason)
            else:
                self._finish(command, result=result)
            return
        spec = self.specs.get(command.charger_id)
        if spec is None:
            self._finish(command, reason="not possible: the charger was deleted")
            return
        memory = self.memories.setdefault(spec.charger_id, ChargerMemory(spec))
        runtime, _ = await memory.load(self.gateway, self.recorder)

        def observe(observation: str, *details: Any) -> None:
            getattr(runtime, observation)(*details)
            self.recorder.observe(runtime)

        configuration = configuration_for(spec.ocpp_version, spec.model, spec.identity, runtime.configuration)
        try:
            result = apply_local(command.kind, command.payload, runtime, configuration, memory.auth_cache, observe)
        except ValueError as error:
            self._finish(command, reason=str(error))
        else:
            self._finish(command, result=result)

    def _finish(
        self,
        command: Command,
        *,
        result: dict | None = None,
        reason: str | None = None,
        failure: dict | None = None,
        expired: bool = False,
    ) -> None:
        """Records a command's outcome with the next flush of observations (once: a finished one stays)."""
        if command.done:
            return
        if expired:
            command.expire()
        elif reason is not None:
            command.fail(reason, failure)
        else:
            command.complete(result or {})
        self.recorder.record(command)

    def _expire_commands(self) -> None:
        """Commands still waiting 60 s after their request (catch_up retries the others on every pass)."""
        now = datetime.now(UTC)
        for waiting in list(self.pending.values()):
            if now - waiting.requested_at > COMMAND_TTL:
                del self.pending[waiting.command.id]
                self._finish(waiting.command, expired=True)


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
